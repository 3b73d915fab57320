/*
 * cmd_convert.c - `csplat convert IN OUT`: load a scene in any readable format and write it in
 * the format named by OUT's extension. The output appears whole or not at all.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: csplat convert IN OUT\n\n"
    "Convert a Gaussian scene. IN's format is detected from its content; OUT's format is chosen\n"
    "by its extension: .ply (canonical Inria layout), .splat, .spz (Niantic SPZ version 3),\n"
    ".sog (PlayCanvas SOG, bundled), meta.json (SOG files in OUT's folder) or .compressed.ply\n"
    "(PlayCanvas compressed PLY). IN may also be a SOG lod-meta.json (its finest level).\n";

int cmd_convert(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    const char *paths[2];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("convert", "unknown option '%s'", argv[i]);
        if (n == 2) return cli_usage_error("convert", "too many arguments");
        paths[n++] = argv[i];
    }
    if (n != 2) return cli_usage_error("convert", "expected IN and OUT");
    if (cs_format_from_path(paths[1]) == CS_FORMAT_UNKNOWN)
        return cli_usage_error("convert", "cannot tell the output format from '%s'", paths[1]);
    cs_context *ctx = cli_context(0);
    if (!ctx) return CLI_FAILURE;
    cs_scene *scene = NULL;
    int rc = CLI_OK;
    if (cs_scene_load(ctx, paths[0], &scene) != CS_OK ||
        cs_scene_save(ctx, scene, paths[1]) != CS_OK)
        rc = cli_fail(ctx);
    else
        fprintf(stderr, "csplat: wrote %s (%lld Gaussians, SH degree %d)\n", paths[1],
                (long long)cs_scene_count(scene), cs_scene_sh_degree(scene));
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return rc;
}
