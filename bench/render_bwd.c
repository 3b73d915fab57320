/*
 * render_bwd.c - benchmark of the training render pass: cs__train_forward + cs__train_backward
 * (`make bench`, then build/bench/render_bwd). The loss gradient dL/drgb is a fixed random
 * image, as a loss would give.
 *
 * Scenes:
 *   synthetic  N Gaussians (default 250,000) of SH degree 3 at 400x400 (lego at --downscale 2),
 *              shaped like a trained scene to the rasterizer: centres over the image (10% margin
 *              outside it) at depths log-uniform in [2, 40], screen standard deviations
 *              log-uniform in 0.3..4 px with a log-normal spread per axis, half the Gaussians
 *              nearly opaque (U(0.6, 1)) and half faint (U(0.02, 0.6)), random rotations.
 *   garden     the 138,766 SfM points of ../shared/data/gsplat_test_garden (built by
 *              bench/garden.h) at 648x420; skipped with a message when the data is absent.
 *
 * For each: one warm-up iteration, then --iters timed ones; prints the medians of the forward,
 * the backward and its stages (raster backward, per-splat reduction, per-Gaussian SH +
 * projection backward), forward + backward, and the process CPU time of each (all threads; on a
 * busy machine CPU time / threads is the better estimate of an unloaded wall time).
 *
 * usage: render_bwd [--iters N] [--threads T] [--count N] [--only synthetic|garden]
 */
#include "csplat.h"
#include "garden.h"
#include "rng.h"
#include "train_render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cs_scene *synthetic_scene(cs_context *ctx, int64_t n, cs_camera *cam) {
    memset(cam, 0, sizeof *cam);
    cam->R[0] = cam->R[4] = cam->R[8] = 1;
    cam->width = cam->height = 400;
    cam->fx = cam->fy = 555.5f; /* lego's focal length at 400 px */
    cam->cx = cam->cy = 200;
    cs_scene *scene;
    if (cs_scene_create(ctx, n, 3, &scene) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(scene);
    const double w = cam->width, h = cam->height, f = cam->fx;
    for (int64_t i = 0; i < n; i++) {
        double u = (-0.1 + 1.2 * uniform()) * w, v = (-0.1 + 1.2 * uniform()) * h;
        double z = 2 * exp(log(20.0) * uniform());
        p.means[3 * i + 0] = (float)((u - 0.5 * w) * z / f);
        p.means[3 * i + 1] = (float)((v - 0.5 * h) * z / f);
        p.means[3 * i + 2] = (float)z;
        double sigma_px = 0.3 * exp(log(4.0 / 0.3) * uniform());
        for (int c = 0; c < 3; c++)
            p.log_scales[3 * i + c] = (float)(log(sigma_px * z / f) + 0.5 * normal());
        for (int c = 0; c < 4; c++) p.quats[4 * i + c] = (float)normal();
        double o = uniform() < 0.5 ? 0.6 + 0.399 * uniform() : 0.02 + 0.58 * uniform();
        p.opacities[i] = logit(o);
        float *sh = p.sh + 48 * i;
        for (int c = 0; c < 3; c++) sh[c] = (float)(1.2 * (uniform() - 0.5));
        for (int c = 3; c < 48; c++) sh[c] = (float)(0.1 * normal());
    }
    return scene;
}

static cs_scene *garden_scene(cs_context *ctx, cs_camera *cam) {
    cs_camera cams[GARDEN_CAMERAS];
    cs_scene *scene = garden_load(ctx, uniform, normal, cams);
    if (scene) *cam = cams[0];
    return scene;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Process CPU time (all threads): on a loaded machine, CPU ms / threads estimates the wall time
 * the iteration would take with the cores to itself. */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

enum { T_FWD, T_BWD, T_RASTER, T_REDUCE, T_GAUSS, T_BOTH, T_CPU_FWD, T_CPU_BWD, T_N };

static int run(cs_context *ctx, const char *name, const cs_scene *scene, const cs_camera *cam,
               int iters) {
    cs_scene_params p = cs_scene_get_params((cs_scene *)scene);
    size_t pix = (size_t)cam->width * (size_t)cam->height;
    cs_image rgb = {cam->width, cam->height, 3, malloc(pix * 3 * sizeof(float))};
    cs_image d_rgb = {cam->width, cam->height, 3, malloc(pix * 3 * sizeof(float))};
    float *norm = malloc((size_t)p.count * sizeof(float));
    int32_t *radii = malloc((size_t)p.count * sizeof(int32_t));
    double *t[T_N];
    int ok = rgb.data && d_rgb.data && norm && radii;
    for (int k = 0; k < T_N; k++) ok &= (t[k] = malloc((size_t)iters * sizeof(double))) != NULL;
    cs_scene *grads = NULL;
    cs_renderer *r = NULL;
    ok = ok && cs_scene_create(ctx, p.count, p.sh_degree, &grads) == CS_OK &&
         cs_renderer_create(ctx, NULL, &r) == CS_OK;
    if (!ok) {
        printf("%s: setup failed\n", name);
        return 0;
    }
    for (size_t k = 0; k < 3 * pix; k++) d_rgb.data[k] = (float)((2 * uniform() - 1) / 3e5);
    cs_render_options opt = {.background = {1, 1, 1}};
    cs_train_view_stats stats = {.mean2d_grad_norm = norm, .radii = radii};
    cs_render_stats rs = {0};
    for (int it = -1; it < iters; it++) {
        double c0 = cpu_ms(), t0 = now_ms();
        cs_status st = cs__train_forward(r, scene, cam, &opt, &rgb);
        double c1 = cpu_ms(), t1 = now_ms();
        if (st == CS_OK) st = cs__train_backward(r, scene, cam, &opt, &d_rgb, grads, &stats);
        double c2 = cpu_ms(), t2 = now_ms();
        if (st != CS_OK) {
            printf("%s: %s\n", name, cs_context_last_error(ctx));
            ok = 0;
            break;
        }
        cs_renderer_get_stats(r, &rs);
        if (it < 0) continue;
        t[T_FWD][it] = t1 - t0;
        t[T_BWD][it] = t2 - t1;
        t[T_RASTER][it] = stats.ms_raster;
        t[T_REDUCE][it] = stats.ms_reduce;
        t[T_GAUSS][it] = stats.ms_gaussians;
        t[T_BOTH][it] = t2 - t0;
        t[T_CPU_FWD][it] = c1 - c0;
        t[T_CPU_BWD][it] = c2 - c1;
    }
    if (ok) {
        int64_t visible = 0;
        for (int64_t i = 0; i < p.count; i++) visible += radii[i] > 0;
        printf("%s %dx%d: %lld Gaussians (%lld visible, %lld tile pairs), %d threads, %s "
               "kernels, %d iterations (medians)\n",
               name, cam->width, cam->height, (long long)p.count, (long long)visible,
               (long long)rs.intersections, rs.threads, rs.backend, iters);
        double m[T_N];
        for (int k = 0; k < T_N; k++) m[k] = median(t[k], iters);
        printf("  forward %.1f ms | backward %.1f ms (raster %.1f, reduce %.1f, per-Gaussian "
               "%.1f) | forward + backward %.1f ms\n",
               m[T_FWD], m[T_BWD], m[T_RASTER], m[T_REDUCE], m[T_GAUSS], m[T_BOTH]);
        printf("  CPU time (all threads): forward %.1f ms, backward %.1f ms\n", m[T_CPU_FWD],
               m[T_CPU_BWD]);
    }
    cs_renderer_destroy(r);
    cs_scene_destroy(grads);
    free(rgb.data);
    free(d_rgb.data);
    free(norm);
    free(radii);
    for (int k = 0; k < T_N; k++) free(t[k]);
    return ok;
}

int main(int argc, char **argv) {
    int iters = 9, threads = 0;
    int64_t count = 250000;
    const char *only = NULL;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--iters") && a + 1 < argc)
            iters = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--count") && a + 1 < argc)
            count = atoll(argv[++a]);
        else if (!strcmp(argv[a], "--only") && a + 1 < argc)
            only = argv[++a];
        else {
            fprintf(stderr, "usage: render_bwd [--iters N] [--threads T] [--count N] "
                            "[--only synthetic|garden]\n");
            return 2;
        }
    }
    if (iters < 1) iters = 1;
    cs_context *ctx;
    cs_context_desc desc = {.threads = threads};
    if (cs_context_create(&desc, &ctx) != CS_OK) return 1;
    int ok = 1;
    cs_camera cam;
    if (!only || !strcmp(only, "synthetic")) {
        cs_scene *s = synthetic_scene(ctx, count, &cam);
        ok &= s && run(ctx, "synthetic", s, &cam, iters);
        cs_scene_destroy(s);
    }
    if (!only || !strcmp(only, "garden")) {
        cs_scene *s = garden_scene(ctx, &cam);
        if (s) ok &= run(ctx, "garden", s, &cam, iters);
        cs_scene_destroy(s);
    }
    cs_context_destroy(ctx);
    return ok ? 0 : 1;
}
