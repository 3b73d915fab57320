/*
 * cmd_info.c - `csplat info SCENE [--json]`: format, Gaussian count, SH degree, bounds, opacity
 * and scale statistics, and the count of Gaussians holding non-finite values.
 */
#include "cli.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: csplat info SCENE [--json]\n\n"
    "Print a scene's format (and its version and levels of detail where the file has them),\n"
    "Gaussian count, SH degree, bounds, opacity and scale statistics and\n"
    "the number of Gaussians with NaN/Inf parameters.\n\n"
    "  --json    print one JSON object instead of text\n";

static cJSON *vec3(const double v[3]) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* The file header's version, details and levels of detail (cs_scene_probe), when it has any. */
static void add_file_info(cJSON *o, const cs_scene_file_info *fi) {
    if (!fi) return;
    if (fi->version) cJSON_AddNumberToObject(o, "version", fi->version);
    if (fi->detail[0]) cJSON_AddStringToObject(o, "format_detail", fi->detail);
    if (fi->lod_levels) {
        cJSON *a = cJSON_AddArrayToObject(o, "lod_counts");
        for (int l = 0; l < fi->lod_levels; l++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber((double)fi->lod_counts[l]));
    }
}

static void print_file_info(const cs_scene_file_info *fi) {
    if (!fi) return;
    if (fi->version)
        printf(fi->detail[0] ? "  version     %d (%s)\n" : "  version     %d\n", fi->version,
               fi->detail);
    else if (fi->detail[0])
        printf("  layout      %s\n", fi->detail);
    if (fi->lod_levels) {
        printf("  lod levels  %d:", fi->lod_levels);
        for (int l = 0; l < fi->lod_levels; l++)
            printf(" %lld%s", (long long)fi->lod_counts[l], l + 1 < fi->lod_levels ? "," : "");
        printf(" Gaussians (level 0 shown)\n");
    }
}

static void print_json(const char *path, const char *format, const cs_scene_stats *s,
                       const cs_scene_file_info *fi) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "format", format);
    add_file_info(o, fi);
    cJSON_AddNumberToObject(o, "count", (double)s->count);
    cJSON_AddNumberToObject(o, "sh_degree", s->sh_degree);
    cJSON *b = cJSON_AddObjectToObject(o, "bounds");
    cJSON_AddItemToObject(b, "min", vec3(s->bounds_min));
    cJSON_AddItemToObject(b, "max", vec3(s->bounds_max));
    cJSON *op = cJSON_AddObjectToObject(o, "opacity");
    cJSON_AddNumberToObject(op, "min", s->opacity_min);
    cJSON_AddNumberToObject(op, "mean", s->opacity_mean);
    cJSON_AddNumberToObject(op, "max", s->opacity_max);
    cJSON *sc = cJSON_AddObjectToObject(o, "scale");
    cJSON_AddNumberToObject(sc, "min", s->scale_min);
    cJSON_AddNumberToObject(sc, "median", s->scale_median);
    cJSON_AddNumberToObject(sc, "max", s->scale_max);
    cJSON_AddNumberToObject(o, "non_finite", (double)s->non_finite);
    char *text = cJSON_Print(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
}

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        else if (path)
            return cli_usage_error("info", "more than one SCENE given");
        else
            path = argv[i];
    }
    if (!path) return cli_usage_error("info", "missing SCENE");
    cs_context *ctx = cli_context(0);
    if (!ctx) return CLI_FAILURE;
    cs_scene *scene = NULL;
    cs_scene_stats s;
    int rc = CLI_OK;
    if (cs_scene_load(ctx, path, &scene) != CS_OK ||
        cs_scene_compute_stats(ctx, scene, &s) != CS_OK) {
        rc = cli_fail(ctx);
    } else {
        const char *format = cs_format_name(cs_scene_source_format(scene));
        cs_scene_file_info info;
        const cs_scene_file_info *fi = cs_scene_probe(ctx, path, &info) == CS_OK ? &info : NULL;
        if (json) {
            print_json(path, format, &s, fi);
        } else {
            printf("%s\n  format      %s\n", path, format);
            print_file_info(fi);
            printf("  gaussians   %lld\n  sh degree   %d\n", (long long)s.count, s.sh_degree);
            printf("  bounds      [%.4g, %.4g, %.4g] .. [%.4g, %.4g, %.4g]\n", s.bounds_min[0],
                   s.bounds_min[1], s.bounds_min[2], s.bounds_max[0], s.bounds_max[1],
                   s.bounds_max[2]);
            printf("  opacity     min %.4g  mean %.4g  max %.4g\n", s.opacity_min, s.opacity_mean,
                   s.opacity_max);
            printf("  scale       min %.4g  median %.4g  max %.4g\n", s.scale_min, s.scale_median,
                   s.scale_max);
            printf("  non-finite  %lld\n", (long long)s.non_finite);
        }
    }
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return rc;
}
