/*
 * render.c - benchmark of the CPU renderer (`make bench`, then build/bench/render).
 *
 * Scenes:
 *   garden     the 138,766 SfM points of ../shared/data/gsplat_test_garden as Gaussians of SH
 *              degree 3 (DC from the point colours, seeded random rest coefficients N(0, 0.1),
 *              log-uniform anisotropic scales 3..20 mm, random rotations, opacities U(0.05,
 *              0.95)), its first camera at 648x420 and with the intrinsics scaled to 1296x840;
 *              skipped with a message when the data is absent.
 *   synthetic  1,000,000 Gaussians of SH degree 3 at 1920x1080, built to look like a trained
 *              scene to the rasterizer: centres spread uniformly over the image (10% margin
 *              outside it) at depths log-uniform in [2, 40], per-axis scales giving screen
 *              standard deviations log-uniform in 0.5..6 px with a log-normal spread, half the
 *              Gaussians nearly opaque (U(0.6, 1)) and half faint (U(0.02, 0.6)), as trained
 *              opacities are bimodal. That gives several tile intersections per Gaussian and
 *              tens of Gaussians per pixel before saturation, the load of a real scene.
 *
 * For each it renders one warm-up frame then at least 5 timed frames with the context's threads
 * and the default (SIMD when available) kernels, and prints the median frame time, frames and
 * Gaussians per second, the median of each stage, and the same frame timed with the scalar
 * kernels on one thread (CSPLAT_SCALAR path), whose ratio is the speed-up.
 *
 * With --only big it renders 3,000,000 synthetic Gaussians at 3840x2160 instead: the limits the
 * renderer must handle, with memory use printed.
 *
 * usage: render [--frames N] [--threads T] [--no-scalar]
 *               [--only garden|garden1x|garden2x|synthetic|big]
 */
#include "csplat.h"
#include "npz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Deterministic PCG32 stream for the scenes. */
static uint64_t rng_state = 0x853c49e6748fea9bULL;

static double uniform(void) {
    uint64_t old = rng_state;
    rng_state = old * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t x = (uint32_t)(((old >> 18u) ^ old) >> 27u), rot = (uint32_t)(old >> 59u);
    x = (x >> rot) | (x << ((-rot) & 31));
    return (x + 0.5) / 4294967296.0;
}

static double normal(void) {
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static float logit(double o) {
    return (float)log(o / (1 - o));
}

static cs_scene *garden_scene(cs_context *ctx, cs_camera *cam) {
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
    float *xyz = NULL, vm[48], k[27];
    if (!means || !colors || !views || !ks || means->count % 3 || colors->count != means->count ||
        views->count != 48 || ks->count != 27) {
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
        p.opacities[i] = logit(0.05 + 0.9 * uniform());
        float *sh = p.sh + 48 * i;
        for (int c = 0; c < 3; c++)
            sh[c] = (float)((colors->data[3 * i + c] / 255.0 - 0.5) / 0.28209479177387814);
        for (int c = 3; c < 48; c++) sh[c] = (float)(0.1 * normal());
    }
    memset(cam, 0, sizeof *cam);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) cam->R[3 * r + c] = vm[4 * r + c];
        cam->t[r] = vm[4 * r + 3];
    }
    cam->fx = k[0];
    cam->fy = k[4];
    cam->cx = k[2];
    cam->cy = k[5];
    cam->width = 648;
    cam->height = 420;
done:
    free(xyz);
    cs__npz_destroy(npz);
    return scene;
}

/* n Gaussians seen by a camera of width x height (focal 1400 px at 1920 wide, scaled). */
static cs_scene *synthetic_scene(cs_context *ctx, int64_t n, int width, int height,
                                 cs_camera *cam) {
    memset(cam, 0, sizeof *cam);
    cam->R[0] = cam->R[4] = cam->R[8] = 1; /* at the origin looking down +z */
    cam->width = width;
    cam->height = height;
    cam->fx = cam->fy = 1400.0f * (float)width / 1920.0f;
    cam->cx = 0.5f * (float)width;
    cam->cy = 0.5f * (float)height;
    cs_scene *scene;
    if (cs_scene_create(ctx, n, 3, &scene) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(scene);
    const double w = cam->width, h = cam->height, f = (double)cam->fx;
    for (int64_t i = 0; i < n; i++) {
        double u = (-0.1 + 1.2 * uniform()) * w, v = (-0.1 + 1.2 * uniform()) * h;
        double z = 2 * exp(log(20.0) * uniform());
        p.means[3 * i + 0] = (float)((u - 0.5 * w) * z / f);
        p.means[3 * i + 1] = (float)((v - 0.5 * h) * z / f);
        p.means[3 * i + 2] = (float)z;
        double sigma_px = 0.5 * exp(log(12.0) * uniform());
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct timing {
    double total, project, sh, sort, bin, raster;
    double cpu; /* process CPU time per frame, all threads: robust on a loaded machine */
    cs_render_stats last;
} timing;

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Median timings of `frames` renders after one warm-up; 0 on failure (printed). */
static int time_frames(cs_context *ctx, int scalar, const cs_scene *scene, const cs_camera *cam,
                       int frames, timing *out) {
    cs_renderer *r;
    cs_renderer_desc desc = {.force_scalar = scalar};
    cs_image rgb = {cam->width, cam->height, 3, NULL};
    rgb.data = malloc((size_t)cam->width * (size_t)cam->height * 3 * sizeof(float));
    double *t[7];
    int ok = rgb.data != NULL;
    for (int k = 0; k < 7; k++) ok &= (t[k] = malloc((size_t)frames * sizeof(double))) != NULL;
    ok = ok && cs_renderer_create(ctx, &desc, &r) == CS_OK;
    for (int f = -1; ok && f < frames; f++) {
        double c0 = cpu_ms();
        if (cs_renderer_render(r, scene, cam, NULL, &rgb, NULL, NULL) != CS_OK) {
            printf("render failed: %s\n", cs_context_last_error(ctx));
            ok = 0;
            break;
        }
        cs_render_stats s;
        cs_renderer_get_stats(r, &s);
        if (f < 0) continue;
        t[0][f] = s.ms_total;
        t[1][f] = s.ms_project;
        t[2][f] = s.ms_sh;
        t[3][f] = s.ms_sort;
        t[4][f] = s.ms_bin;
        t[5][f] = s.ms_raster;
        t[6][f] = cpu_ms() - c0;
        out->last = s;
    }
    if (ok) {
        out->total = median(t[0], frames);
        out->project = median(t[1], frames);
        out->sh = median(t[2], frames);
        out->sort = median(t[3], frames);
        out->bin = median(t[4], frames);
        out->raster = median(t[5], frames);
        out->cpu = median(t[6], frames);
        cs_renderer_destroy(r);
    }
    for (int k = 0; k < 7; k++) free(t[k]);
    free(rgb.data);
    return ok;
}

static void bench_one(cs_context *ctx, cs_context *ctx1, const char *name, const cs_scene *scene,
                      const cs_camera *cam, int frames, int scalar) {
    timing fast, slow;
    if (!time_frames(ctx, 0, scene, cam, frames, &fast)) return;
    double n = (double)cs_scene_count(scene);
    printf("%-10s %4dx%-4d %8.0f Gaussians: %8.2f ms  %7.1f fps  %6.1f M Gaussians/s  "
           "(%d threads, %s)\n",
           name, cam->width, cam->height, n, fast.total, 1e3 / fast.total, n / fast.total / 1e3,
           fast.last.threads, fast.last.backend);
    printf("           stages ms: project %.2f  sh %.2f  sort %.2f  bin %.2f  raster %.2f;  "
           "CPU %.2f ms;  visible %lld, tile intersections %lld\n",
           fast.project, fast.sh, fast.sort, fast.bin, fast.raster, fast.cpu,
           (long long)fast.last.visible, (long long)fast.last.intersections);
    if (!scalar) return;
    if (!time_frames(ctx1, 1, scene, cam, frames, &slow)) return;
    printf("           scalar 1 thread: %.2f ms (project %.2f  sh %.2f  sort %.2f  bin %.2f  "
           "raster %.2f; CPU %.2f ms);  speed-up %.1fx\n",
           slow.total, slow.project, slow.sh, slow.sort, slow.bin, slow.raster, slow.cpu,
           slow.total / fast.total);
}

int main(int argc, char **argv) {
    int frames = 7, threads = 0, scalar = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) frames = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-scalar") == 0) scalar = 0;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: render [--frames N>=5] [--threads T] [--no-scalar] "
                            "[--only garden|garden1x|garden2x|synthetic|big]\n");
            return 2;
        }
    }
    if (frames < 5) frames = 5;
    cs_context *ctx, *ctx1;
    cs_context_desc d = {.threads = threads}, d1 = {.threads = 1};
    if (cs_context_create(&d, &ctx) != CS_OK || cs_context_create(&d1, &ctx1) != CS_OK) return 1;
    printf("csplat %s render benchmark: median of %d frames after a warm-up\n", cs_version(),
           frames);
    cs_camera cam;
    if (!only || strncmp(only, "garden", 6) == 0) {
        cs_scene *garden = garden_scene(ctx, &cam);
        if (garden) {
            if (!only || strcmp(only, "garden2x") != 0)
                bench_one(ctx, ctx1, "garden", garden, &cam, frames, scalar);
            cam.width *= 2;
            cam.height *= 2;
            cam.fx *= 2;
            cam.fy *= 2;
            cam.cx *= 2;
            cam.cy *= 2;
            if (!only || strcmp(only, "garden1x") != 0)
                bench_one(ctx, ctx1, "garden", garden, &cam, frames, scalar);
            cs_scene_destroy(garden);
        }
    }
    if (!only || strcmp(only, "synthetic") == 0) {
        cs_scene *syn = synthetic_scene(ctx, 1000000, 1920, 1080, &cam);
        if (syn) bench_one(ctx, ctx1, "synthetic", syn, &cam, frames, scalar);
        else printf("synthetic: %s\n", cs_context_last_error(ctx));
        cs_scene_destroy(syn);
    }
    if (only && strcmp(only, "big") == 0) {
        /* The size limits the issue names: 3M Gaussians at 3840x2160 (not in the default run). */
        cs_scene *big = synthetic_scene(ctx, 3000000, 3840, 2160, &cam);
        if (big) bench_one(ctx, ctx1, "big", big, &cam, frames, scalar);
        else printf("big: %s\n", cs_context_last_error(ctx));
        cs_scene_destroy(big);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("peak resident memory %.0f MB\n", (double)ru.ru_maxrss / 1024.0);
    cs_context_destroy(ctx);
    cs_context_destroy(ctx1);
    return 0;
}
