/*
 * cmd_eval.c - `csplat eval SCENE DATA [--downscale K] [-o FILE] [--threads N]`: PSNR and SSIM
 * of any scene on a dataset's held-out views (transforms_test.json, else every 8th view), as
 * `csplat train --eval` computes them. Per-view lines go to stderr; the metrics, as JSON
 * ({"psnr", "ssim", "views": [{"name", "psnr", "ssim"}], "gaussians"}), to stdout or to FILE.
 */
#include "train_cli.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: csplat eval SCENE DATA [--downscale K] [-o FILE] [--threads N]\n\n"
    "Render SCENE from DATA's held-out views (transforms_test.json, else every 8th view) and\n"
    "print PSNR and SSIM per view and on average. The metrics are printed as JSON on stdout,\n"
    "or written to FILE with -o.\n\n"
    "  --downscale K   evaluate on images downscaled K times (the resolution trained at)\n"
    "  -o FILE         write the JSON metrics to FILE instead of stdout\n"
    "  --threads N     worker threads (default: all cores)\n";

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    const char *paths[2], *out = NULL;
    int n = 0;
    long downscale = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] && i + 1 >= argc)
            return cli_usage_error("eval", "option '%s' needs a value or is unknown", a);
        if (strcmp(a, "--downscale") == 0) {
            if (!cli_parse_int(argv[++i], 1, 64, &downscale))
                return cli_usage_error("eval", "--downscale needs an integer in 1..64");
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(argv[++i], 0, 1024, &threads))
                return cli_usage_error("eval", "--threads needs an integer in 0..1024");
        } else if (strcmp(a, "-o") == 0) {
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("eval", "unknown option '%s'", a);
        } else if (n == 2) {
            return cli_usage_error("eval", "too many arguments");
        } else {
            paths[n++] = a;
        }
    }
    if (n != 2) return cli_usage_error("eval", "expected SCENE and DATA");
    cs_context *ctx = cli_context((int)threads);
    if (!ctx) return CLI_FAILURE;
    int rc = CLI_FAILURE;
    cs_scene *scene = NULL;
    cs_dataset *ds = NULL;
    cJSON *doc = NULL;
    cs_dataset_desc dd = {.downscale = (int)downscale, .hold_out = 1};
    if (cs_scene_load(ctx, paths[0], &scene) != CS_OK ||
        cs_dataset_load(ctx, paths[1], &dd, &ds) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    tcli_eval ev = {ctx, NULL, cJSON_CreateArray(), false};
    cs_eval_result er;
    if (cs_evaluate(ctx, scene, ds, tcli_eval_view, &ev, &er) != CS_OK) {
        cJSON_Delete(ev.views);
        rc = cli_fail(ctx);
        goto done;
    }
    doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "psnr", er.psnr);
    cJSON_AddNumberToObject(doc, "ssim", er.ssim);
    cJSON_AddItemToObject(doc, "views", ev.views);
    cJSON_AddNumberToObject(doc, "gaussians", (double)cs_scene_count(scene));
    fprintf(stderr, "held-out views: PSNR %.2f dB, SSIM %.4f (%lld views)\n", er.psnr, er.ssim,
            (long long)er.views);
    if (out) {
        if (!tcli_write_json(out, doc)) goto done;
    } else {
        char *text = cJSON_Print(doc);
        if (!text || printf("%s\n", text) < 0) {
            cJSON_free(text);
            goto done;
        }
        cJSON_free(text);
    }
    rc = CLI_OK;
done:
    cJSON_Delete(doc);
    cs_dataset_destroy(ds);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return rc;
}
