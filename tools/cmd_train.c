/*
 * cmd_train.c - `csplat train DATA -o OUTDIR [options]`: option parsing; the run itself is
 * tcli_run_train (train_cli.c), which `csplat demo` shares.
 */
#include "train_cli.h"

#include <string.h>

static const char help[] =
    "usage: csplat train DATA -o OUTDIR [--iters N] [--downscale K] [--eval] [--seed S]\n"
    "                    [--threads N] [--save-every N] [--resume DIR] [--max-gaussians N]\n"
    "                    [--random-points N]\n\n"
    "Train a Gaussian scene on a dataset folder (COLMAP, transforms.json, Blender) as the\n"
    "reference 3DGS trainer does. Writes OUTDIR/scene.ply, cameras.json and log.csv\n"
    "(iteration, loss, PSNR, Gaussians, seconds).\n\n"
    "  -o OUTDIR            output folder (created if needed; default with --resume: DIR)\n"
    "  --iters N            iterations in all (default 30000)\n"
    "  --downscale K        train on images downscaled K times by area averaging\n"
    "  --eval               hold out views (transforms_test.json, else every 8th) and write\n"
    "                       metrics.json and eval/VIEW.png (truth | render | error)\n"
    "  --seed S             random seed (default 0)\n"
    "  --threads N          worker threads (default: all cores); results depend on it\n"
    "  --save-every N       write OUTDIR/checkpoint.bin every N iterations\n"
    "  --resume DIR         continue from DIR/checkpoint.bin (same DATA and options)\n"
    "  --max-gaussians N    cap on the number of Gaussians\n"
    "  --random-points N    initial random points when DATA has no point cloud (100000)\n";

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    tcli_train o = {.iters = 30000, .downscale = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        long v;
        if (strcmp(a, "--eval") == 0) {
            o.eval = true;
        } else if (a[0] == '-' && a[1] && !has_value) {
            return cli_usage_error("train", "option '%s' needs a value or is unknown", a);
        } else if (strcmp(a, "-o") == 0) {
            o.out = argv[++i];
        } else if (strcmp(a, "--resume") == 0) {
            o.resume = argv[++i];
        } else if (strcmp(a, "--iters") == 0) {
            if (!cli_parse_int(argv[++i], 1, 100000000, &o.iters))
                return cli_usage_error("train", "--iters needs an integer >= 1");
        } else if (strcmp(a, "--downscale") == 0) {
            if (!cli_parse_int(argv[++i], 1, 64, &o.downscale))
                return cli_usage_error("train", "--downscale needs an integer in 1..64");
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_parse_int(argv[++i], 0, 2147483647, &v))
                return cli_usage_error("train", "--seed needs an integer in 0..2147483647");
            o.seed = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(argv[++i], 0, 1024, &o.threads))
                return cli_usage_error("train", "--threads needs an integer in 0..1024");
        } else if (strcmp(a, "--save-every") == 0) {
            if (!cli_parse_int(argv[++i], 1, 100000000, &o.save_every))
                return cli_usage_error("train", "--save-every needs an integer >= 1");
        } else if (strcmp(a, "--max-gaussians") == 0) {
            if (!cli_parse_int(argv[++i], 1, 2000000000, &v))
                return cli_usage_error("train", "--max-gaussians needs an integer >= 1");
            o.max_gaussians = v;
        } else if (strcmp(a, "--random-points") == 0) {
            if (!cli_parse_int(argv[++i], 1, 100000000, &v))
                return cli_usage_error("train", "--random-points needs an integer >= 1");
            o.random_points = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("train", "unknown option '%s'", a);
        } else if (!o.data) {
            o.data = a;
        } else {
            return cli_usage_error("train", "unexpected argument '%s'", a);
        }
    }
    if (!o.data) return cli_usage_error("train", "expected a dataset folder DATA");
    if (!o.out) o.out = o.resume;
    if (!o.out) return cli_usage_error("train", "expected -o OUTDIR");
    return tcli_run_train(&o);
}
