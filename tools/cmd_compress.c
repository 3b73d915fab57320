/*
 * cmd_compress.c - `csplat compress IN OUT [--quality Q] [--threads N]`: write a scene as a
 * smaller PlayCanvas SOG through the self-organizing layout (Parallel Linear Assignment Sorting,
 * see src/compress_sogs.c). OUT ending in ".sog" is a bundled archive; "meta.json" writes the
 * unbundled files next to it. The result is a plain SOG v2 any SOG reader loads.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: csplat compress IN OUT.sog [--quality Q] [--threads N]\n\n"
    "Write IN (any readable scene) as a PlayCanvas SOG whose images are laid out by a self-\n"
    "organizing sort, so that neighbouring pixels hold similar Gaussians and the lossless WebP\n"
    "images compress better. OUT ending in .sog is one bundled file; OUT named meta.json writes\n"
    "meta.json and the .webp images into its folder.\n\n"
    "Each Gaussian is stored in the equivalent frame (rotation and scales) that codes in\n"
    "the fewest bits.\n\n"
    "  --quality Q   0..1 (default 0.5): precision of the SH palette values (up to 5..8\n"
    "                bits, fewer where the palette is coarse anyway), sorting effort and\n"
    "                k-means iterations; rotations and opacity on 8 bits from Q = 0.75,\n"
    "                7 below (rotations 6 below Q = 0.25); positions keep 16 bits (15 below\n"
    "                Q = 0.3)\n"
    "  --threads N   worker threads (default: all cores)\n";

int cmd_compress(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    const char *paths[2];
    int n = 0;
    float quality = 0.5f;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quality") == 0) {
            if (i + 1 == argc || !cli_parse_float(argv[++i], &quality) || quality <= 0 ||
                quality > 1)
                return cli_usage_error("compress", "--quality needs a number in (0, 1]");
        } else if (strcmp(argv[i], "--threads") == 0) {
            if (i + 1 == argc || !cli_parse_int(argv[++i], 1, 1024, &threads))
                return cli_usage_error("compress", "--threads needs a count in 1..1024");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("compress", "unknown option '%s'", argv[i]);
        } else if (n == 2) {
            return cli_usage_error("compress", "too many arguments");
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n != 2) return cli_usage_error("compress", "expected IN and OUT");
    if (cs_format_from_path(paths[1]) != CS_FORMAT_SOG || strstr(paths[1], "lod-meta.json"))
        return cli_usage_error("compress", "OUT must end in .sog or be named meta.json");
    cs_context *ctx = cli_context((int)threads);
    if (!ctx) return CLI_FAILURE;
    cs_scene *scene = NULL;
    int rc = CLI_OK;
    double t0 = cli_now(), t1 = t0;
    cs_sog_options opt = {.self_organize = 1, .quality = quality};
    if (cs_scene_load(ctx, paths[0], &scene) != CS_OK) {
        rc = cli_fail(ctx);
    } else {
        t1 = cli_now();
        if (cs_scene_save_sog(ctx, scene, paths[1], &opt) != CS_OK) rc = cli_fail(ctx);
    }
    if (rc == CLI_OK) {
        double t2 = cli_now();
        struct stat st;
        long long bytes = stat(paths[1], &st) == 0 ? (long long)st.st_size : -1;
        long long count = (long long)cs_scene_count(scene);
        fprintf(stderr, "csplat: wrote %s (%lld Gaussians, SH degree %d, ", paths[1], count,
                cs_scene_sh_degree(scene));
        if (bytes >= 0 && strstr(paths[1], ".sog"))
            fprintf(stderr, "%lld bytes, %.2f bytes/Gaussian, ", bytes,
                    count ? (double)bytes / (double)count : 0.0);
        fprintf(stderr, "load %.2fs, encode %.2fs)\n", t1 - t0, t2 - t1);
    }
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return rc;
}
