/*
 * garden.h - the garden test scene shared by the benchmarks (bench/render.c, bench/render_bwd.c,
 * bench/compress.c): the 138,766 SfM points of ../shared/data/gsplat_test_garden/test_garden.npz
 * (or $CSPLAT_DATA/gsplat_test_garden) as Gaussians of SH degree 3, and its 3 cameras.
 *
 * Attributes, drawn in this order per Gaussian from the caller's random stream:
 *   means      the points (means3d);
 *   log_scales log-uniform in 3..20 mm per axis (anisotropic);
 *   quats      4 standard normals (a uniformly random rotation once normalised);
 *   opacities  logit of U(0.05, 0.95);
 *   sh         DC from the point colours (colors / 255 - 0.5) / C0, the 45 rest coefficients
 *              N(0, 0.1).
 * Cameras: the npz's viewmats (world to camera, OpenCV axes, [3, 4, 4]) and Ks ([3, 3, 3]) at
 * 648 x 420, the size the test data's intrinsics are for.
 *
 * The random stream is the caller's (uniform in (0, 1) and standard normal functions): each
 * benchmark keeps its own generator and seeding, so its scenes stay what they were. Not a
 * trained scene: the attributes are noise. A header of static functions because the Makefile
 * builds every bench .c file as its own program.
 */
#ifndef CSPLAT_BENCH_GARDEN_H
#define CSPLAT_BENCH_GARDEN_H

#include "csplat.h"
#include "npz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GARDEN_CAMERAS 3

/* Load the garden scene and its cameras; on failure (data absent or unexpected) prints
 * "garden: skipped (why)" and returns NULL, leaving cams unspecified. */
static inline cs_scene *garden_load(cs_context *ctx, double (*uniform)(void),
                                    double (*normal)(void), cs_camera cams[GARDEN_CAMERAS]) {
    const char *root = getenv("CSPLAT_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/gsplat_test_garden/test_garden.npz",
             root && *root ? root : "../shared/data");
    cs_npz *npz;
    if (cs__npz_load(ctx, path, &npz) != CS_OK) {
        printf("garden: skipped (%s)\n", cs_context_last_error(ctx));
        return NULL;
    }
    const cs_npz_array *means = cs__npz_find(npz, "means3d"), *colors = cs__npz_find(npz, "colors");
    const cs_npz_array *views = cs__npz_find(npz, "viewmats"), *ks = cs__npz_find(npz, "Ks");
    cs_scene *scene = NULL;
    float *xyz = NULL, vm[16 * GARDEN_CAMERAS], k[9 * GARDEN_CAMERAS];
    if (!means || !colors || !views || !ks || means->count % 3 || colors->count != means->count ||
        views->count != 16 * GARDEN_CAMERAS || ks->count != 9 * GARDEN_CAMERAS) {
        printf("garden: skipped (%s: unexpected arrays)\n", path);
        goto done;
    }
    int64_t n = means->count / 3;
    xyz = malloc((size_t)means->count * sizeof *xyz);
    if (!xyz || cs__npz_to_float(ctx, means, xyz) || cs__npz_to_float(ctx, views, vm) ||
        cs__npz_to_float(ctx, ks, k) || cs_scene_create(ctx, n, 3, &scene)) {
        printf("garden: skipped (%s)\n", cs_context_last_error(ctx));
        goto done;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) {
            p.means[3 * i + c] = xyz[3 * i + c];
            p.log_scales[3 * i + c] = (float)(log(0.003) + log(20.0 / 3.0) * uniform());
        }
        for (int c = 0; c < 4; c++) p.quats[4 * i + c] = (float)normal();
        double o = 0.05 + 0.9 * uniform();
        p.opacities[i] = (float)log(o / (1 - o));
        float *sh = p.sh + 48 * i;
        for (int c = 0; c < 3; c++)
            sh[c] = (float)((colors->data[3 * i + c] / 255.0 - 0.5) / 0.28209479177387814);
        for (int c = 3; c < 48; c++) sh[c] = (float)(0.1 * normal());
    }
    for (int v = 0; v < GARDEN_CAMERAS; v++) {
        cs_camera *cam = &cams[v];
        memset(cam, 0, sizeof *cam);
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) cam->R[3 * r + c] = vm[16 * v + 4 * r + c];
            cam->t[r] = vm[16 * v + 4 * r + 3];
        }
        cam->fx = k[9 * v];
        cam->fy = k[9 * v + 4];
        cam->cx = k[9 * v + 2];
        cam->cy = k[9 * v + 5];
        cam->width = 648;
        cam->height = 420;
    }
done:
    free(xyz);
    cs__npz_destroy(npz);
    return scene;
}

#endif
