/*
 * cmd_demo.c - `csplat demo [-o DIR] [--threads N]`: the first thing a user runs. It writes the
 * built-in procedural dataset (a ray-traced scene of textured objects, 40 training and 8
 * held-out views, NeRF-synthetic layout) into DIR/data, trains on it exactly as
 * `csplat train --eval` does into DIR/train, renders a turntable into DIR/turntable with
 * `csplat render --orbit` (its own entry point, called with an argument vector), and prints
 * where everything went and the held-out PSNR.
 *
 * Size and length are chosen so the whole demo takes a few minutes on 2 cores: 160 x 160 views,
 * 4,000 iterations (densification from 500; SH degree 3 from iteration 3,000; the last opacity
 * reset, at 3,000, leaves 1,000 iterations to recover: a run ending at a reset ends washed out)
 * from 30,000 random initial points (the scene is small; the reference's 100,000 only slow the
 * first iterations).
 */
#include "train_cli.h"

#include <string.h>

#define DEMO_SIZE 160
#define DEMO_TRAIN 40
#define DEMO_TEST 8
#define DEMO_ITERS 4000
#define DEMO_POINTS 30000
#define DEMO_ORBIT "60"

static const char help[] =
    "usage: csplat demo [-o DIR] [--threads N]\n\n"
    "Write a built-in procedural scene as a dataset (DIR/data), train on it (DIR/train: "
    "scene.ply,\n"
    "cameras.json, log.csv, metrics.json, eval/ with truth | render | error images), render a\n"
    "turntable (DIR/turntable) and print the held-out PSNR. DIR defaults to ./csplat-demo.\n\n"
    "  -o DIR        output folder (created if needed)\n"
    "  --threads N   worker threads (default: all cores)\n";

int cmd_demo(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    const char *dir = "csplat-demo";
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
            dir = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            if (!cli_parse_int(argv[++i], 0, 1024, &threads))
                return cli_usage_error("demo", "--threads needs an integer in 0..1024");
        } else {
            return cli_usage_error("demo", "unexpected argument '%s'", argv[i]);
        }
    }
    char data[4096], out[4096], turn[4096], scene[4200], cams[4200], nthreads[32];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(out, sizeof out, "%s/train", dir);
    snprintf(turn, sizeof turn, "%s/turntable", dir);
    snprintf(scene, sizeof scene, "%s/scene.ply", out);
    snprintf(cams, sizeof cams, "%s/cameras.json", out);
    snprintf(nthreads, sizeof nthreads, "%ld", threads);
    if (!tcli_make_dir(dir)) return CLI_FAILURE;

    cs_context *ctx = cli_context((int)threads);
    if (!ctx) return CLI_FAILURE;
    double t0 = cli_now();
    fprintf(stderr, "csplat demo: ray-tracing %d + %d views of %dx%d into %s\n", DEMO_TRAIN,
            DEMO_TEST, DEMO_SIZE, DEMO_SIZE, data);
    cs_status st = cs_demo_dataset_write(ctx, data, DEMO_TRAIN, DEMO_TEST, DEMO_SIZE);
    int rc = st == CS_OK ? CLI_OK : cli_fail(ctx);
    cs_context_destroy(ctx);
    if (rc != CLI_OK) return rc;

    fprintf(stderr, "csplat demo: training %d iterations into %s\n", DEMO_ITERS, out);
    tcli_train o = {.data = data,
                    .out = out,
                    .iters = DEMO_ITERS,
                    .downscale = 1,
                    .threads = threads,
                    .random_points = DEMO_POINTS,
                    .eval = true};
    rc = tcli_run_train(&o);
    if (rc != CLI_OK) return rc;

    /* The turntable at twice the training resolution, the circle following the cameras. */
    fprintf(stderr, "csplat demo: rendering a %s-frame turntable into %s\n", DEMO_ORBIT, turn);
    char *render_argv[] = {"render",    scene,    "--cameras", cams,       "--camera", "0",
                           "--scale",   "2",      "--orbit",   DEMO_ORBIT, "--bg",     "1,1,1",
                           "--threads", nthreads, "-o",        turn,       NULL};
    rc = cmd_render((int)(sizeof render_argv / sizeof *render_argv) - 1, render_argv);
    if (rc != CLI_OK) return rc;
    printf("\ncsplat demo finished in %.0f s\n"
           "  dataset        %s (transforms_train.json, transforms_test.json)\n"
           "  trained scene  %s/scene.ply (view it: csplat info %s/scene.ply)\n"
           "  cameras        %s/cameras.json\n"
           "  training log   %s/log.csv\n"
           "  evaluation     %s/metrics.json, %s/eval/*.png (truth | render | error)\n"
           "  turntable      %s/frame_*.png (and orbit.mp4 when ffmpeg is installed)\n"
           "  held-out PSNR  %.2f dB, SSIM %.4f\n",
           cli_now() - t0, data, out, out, out, out, out, out, turn, o.psnr, o.ssim);
    return CLI_OK;
}
