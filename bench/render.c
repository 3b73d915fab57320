/*
 * render.c - benchmark of the CPU renderer (`make bench`, then build/bench/render).
 *
 * Scenes:
 *   garden     the 138,766 SfM points of ../shared/data/gsplat_test_garden as Gaussians of SH
 *              degree 3 (DC from the point colours, seeded random rest coefficients N(0, 0.1),
 *              log-uniform anisotropic scales 3..20 mm, random rotations, opacities U(0.05,
 *              0.95)), its first camera at 648x420 and with the intrinsics scaled to 1296x840;
 *              skipped with a message when the data is absent.
 *   synthetic  1,000,000 Gaussians of SH degree 3 at 1920x1080 shaped like a trained scene
 *              (surface_scene below): flat Gaussians on a ground plane and 60 spheres at 3..30
 *              units, overlapping about twice, 80% of opacities in 0.7..0.99. Surfaces occlude,
 *              so pixels saturate after some tens of Gaussians, as in real captures.
 *   fog        (--only fog) a stress case: 1,000,000 Gaussians in a volume with no surfaces,
 *              every pixel compositing a hundred or more of them.
 *
 * For each it renders one warm-up frame then at least 5 timed frames with the context's threads
 * and the default (SIMD when available) kernels, and prints the median frame time, frames and
 * Gaussians per second, the median of each stage, and the same frame timed with the scalar
 * kernels on one thread (CSPLAT_SCALAR path), whose ratio is the speed-up.
 *
 * With --only big it renders 3,000,000 surface-scene Gaussians at 3840x2160 instead: the limits
 * the renderer must handle, with memory use printed. Each scene also reports the mean number of
 * list entries a pixel walks before it is done (its depth complexity) and the mean alpha.
 *
 * With --save DIR it also writes each scene it builds as DIR/NAME.ply with the camera it renders
 * from as DIR/NAME_cameras.json (Inria format), so that the same scene can be opened elsewhere:
 * `csplat view DIR/garden.ply --cameras DIR/garden_cameras.json` is the viewer on the garden.
 *
 * usage: render [--frames N] [--threads T] [--no-scalar] [--save DIR]
 *               [--only garden|garden1x|garden2x|synthetic|fog|big]
 */
#include "csplat.h"
#include "garden.h"
#include "rng.h"
#include "render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static cs_scene *garden_scene(cs_context *ctx, cs_camera *cam) {
    rng_state = RNG_SEED;
    cs_camera cams[GARDEN_CAMERAS];
    cs_scene *scene = garden_load(ctx, uniform, normal, cams);
    if (scene) *cam = cams[0];
    return scene;
}

static void camera_at_origin(cs_camera *cam, int width, int height) {
    memset(cam, 0, sizeof *cam);
    cam->R[0] = cam->R[4] = cam->R[8] = 1; /* at the origin looking down +z, y down */
    cam->width = width;
    cam->height = height;
    cam->fx = cam->fy = 1400.0f * (float)width / 1920.0f; /* 69 degrees across */
    cam->cx = 0.5f * (float)width;
    cam->cy = 0.5f * (float)height;
}

static float opacity_logit_trained(void) {
    /* trained opacities are bimodal: most surface Gaussians near opaque, a tail of faint ones */
    return logit(uniform() < 0.8 ? 0.7 + 0.29 * uniform() : 0.05 + 0.45 * uniform());
}

/* Gaussian i flattened on a surface at p with unit normal nrm: tangent standard deviation st,
 * normal one st / 10, the quaternion turning the local z axis onto the normal. */
static void surface_gaussian(cs_scene_params *p, int64_t i, const double pos[3],
                             const double nrm[3], double st, const float rgb[3]) {
    for (int c = 0; c < 3; c++) p->means[3 * i + c] = (float)pos[c];
    double ls = log(st * exp(0.25 * normal()));
    p->log_scales[3 * i] = (float)ls;
    p->log_scales[3 * i + 1] = (float)(ls + 0.3 * normal());
    p->log_scales[3 * i + 2] = (float)(ls - log(10.0));
    /* q = (1 + z.n, z x n), normalised on use; z x n = (-n_y, n_x, 0) */
    double w = 1 + nrm[2];
    if (w < 1e-6) { /* n = -z: half turn about x */
        p->quats[4 * i] = 0.0f;
        p->quats[4 * i + 1] = 1.0f;
        p->quats[4 * i + 2] = p->quats[4 * i + 3] = 0.0f;
    } else {
        p->quats[4 * i] = (float)w;
        p->quats[4 * i + 1] = (float)-nrm[1];
        p->quats[4 * i + 2] = (float)nrm[0];
        p->quats[4 * i + 3] = 0.0f;
    }
    p->opacities[i] = opacity_logit_trained();
    float *sh = p->sh + 48 * i;
    for (int c = 0; c < 3; c++)
        sh[c] = (float)(((double)rgb[c] + 0.08 * normal() - 0.5) / 0.28209479177387814);
    for (int c = 3; c < 48; c++) sh[c] = (float)(0.05 * normal());
}

/* A scene shaped like a trained one: n Gaussians of SH degree 3 lying flat on surfaces in front
 * of a camera at the origin, 30% on a ground plane 1.5 below the camera out to 40 units and 70%
 * on 60 spheres (radius 0.3..2.5, centres 3..30 units away, spread over the view), each Gaussian
 * sized so neighbours overlap about twice, mostly opaque. Surfaces occlude what is behind them,
 * as in a capture, so pixels saturate after a few tens of Gaussians. */
static cs_scene *surface_scene(cs_context *ctx, int64_t n, int width, int height,
                               cs_camera *cam) {
    rng_state = RNG_SEED;
    camera_at_origin(cam, width, height);
    cs_scene *scene;
    if (cs_scene_create(ctx, n, 3, &scene) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(scene);
    const double tanx = 0.5 * width / (double)cam->fx, tany = 0.5 * height / (double)cam->fy;
    enum { SPHERES = 60 };
    double centre[SPHERES][3], radius[SPHERES], area = 0;
    float colour[SPHERES][3];
    for (int k = 0; k < SPHERES; k++) {
        double z = 3 + 27 * uniform();
        centre[k][0] = (2 * uniform() - 1) * 1.1 * tanx * z;
        centre[k][1] = (2 * uniform() - 1) * 0.9 * tany * z;
        centre[k][2] = z;
        radius[k] = 0.3 + 2.2 * uniform();
        area += 4 * 3.14159265358979 * radius[k] * radius[k];
        for (int c = 0; c < 3; c++) colour[k][c] = (float)(0.15 + 0.7 * uniform());
    }
    int64_t n_ground = n * 3 / 10, n_spheres = n - n_ground;
    /* ground: z in [1, 40], x within the view's width at that depth: area ~ 1.2 tanx (40^2 - 1) */
    double ground_area = 1.2 * tanx * (40.0 * 40.0 - 1.0);
    double st_ground = 0.8 * sqrt(ground_area / (double)n_ground);
    double st_sphere = 0.8 * sqrt(area / (double)n_spheres);
    const float grass[3] = {0.35f, 0.5f, 0.25f};
    const double up[3] = {0, -1, 0};
    for (int64_t i = 0; i < n_ground; i++) {
        double z = sqrt(1.0 + (40.0 * 40.0 - 1.0) * uniform()); /* uniform over the area */
        double pos[3] = {(2 * uniform() - 1) * 1.2 * tanx * z, 1.5, z};
        surface_gaussian(&p, i, pos, up, st_ground, grass);
    }
    for (int64_t i = n_ground; i < n; i++) {
        /* a sphere chosen by area, a uniform point on it */
        double pick = uniform() * area, acc = 0;
        int k = 0;
        for (; k < SPHERES - 1; k++) {
            acc += 4 * 3.14159265358979 * radius[k] * radius[k];
            if (pick < acc) break;
        }
        double d[3] = {normal(), normal(), normal()};
        double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        double pos[3];
        for (int c = 0; c < 3; c++) {
            d[c] /= len;
            pos[c] = centre[k][c] + radius[k] * d[c];
        }
        surface_gaussian(&p, i, pos, d, st_sphere, colour[k]);
    }
    return scene;
}

/* A stress case without occlusion ("fog"): n Gaussians spread uniformly over the image (10%
 * margin) at depths log-uniform in [2, 40], screen standard deviations log-uniform in 0.5..6 px
 * with a log-normal spread per axis, random rotations, opacities half U(0.6, 1), half U(0.02,
 * 0.6). Nothing is a surface, so every pixel composites a hundred or more Gaussians. */
static cs_scene *fog_scene(cs_context *ctx, int64_t n, int width, int height, cs_camera *cam) {
    rng_state = RNG_SEED;
    camera_at_origin(cam, width, height);
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
    double walk;  /* mean list entries walked per pixel (1 + position of its last contributor) */
    double alpha; /* mean alpha */
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
        cs_render_frame fr;
        cs__renderer_frame(r, &fr);
        double walk = 0, alpha = 0, px = (double)cam->width * cam->height;
        for (int64_t q = 0; q < (int64_t)px; q++) {
            walk += fr.n_contrib[q];
            alpha += 1.0 - (double)fr.final_t[q];
        }
        out->walk = walk / px;
        out->alpha = alpha / px;
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
           "CPU %.2f ms\n",
           fast.project, fast.sh, fast.sort, fast.bin, fast.raster, fast.cpu);
    printf("           visible %lld, tile intersections %lld, mean walk %.1f per pixel, mean "
           "alpha %.3f\n",
           (long long)fast.last.visible, (long long)fast.last.intersections, fast.walk,
           fast.alpha);
    if (!scalar) return;
    if (!time_frames(ctx1, 1, scene, cam, frames, &slow)) return;
    printf("           scalar 1 thread: %.2f ms (project %.2f  sh %.2f  sort %.2f  bin %.2f  "
           "raster %.2f; CPU %.2f ms);  speed-up %.1fx\n",
           slow.total, slow.project, slow.sh, slow.sort, slow.bin, slow.raster, slow.cpu,
           slow.total / fast.total);
}

/* --save: DIR/name.ply and DIR/name_cameras.json; a failure is reported and the run goes on. */
static void save_scene(cs_context *ctx, const char *dir, const char *name, const cs_scene *scene,
                       const cs_camera *cam) {
    char path[4096];
    cs_camera_set *set = NULL;
    snprintf(path, sizeof path, "%s/%s.ply", dir, name);
    cs_status st = cs_scene_save(ctx, scene, path);
    if (st == CS_OK) st = cs_camera_set_create(ctx, &set);
    if (st == CS_OK) st = cs_camera_set_add(set, cam, name, NULL);
    if (st == CS_OK) {
        snprintf(path, sizeof path, "%s/%s_cameras.json", dir, name);
        st = cs_camera_set_save(ctx, set, path);
    }
    if (st == CS_OK) printf("%s: saved as %s/%s.ply and %s\n", name, dir, name, path);
    else printf("%s: not saved: %s\n", name, cs_context_last_error(ctx));
    cs_camera_set_destroy(set);
}

int main(int argc, char **argv) {
    int frames = 7, threads = 0, scalar = 1;
    const char *only = NULL, *save = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) frames = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-scalar") == 0) scalar = 0;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc) save = argv[++i];
        else {
            fprintf(stderr, "usage: render [--frames N>=5] [--threads T] [--no-scalar] "
                            "[--save DIR] [--only garden|garden1x|garden2x|synthetic|fog|big]\n");
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
            if (save) save_scene(ctx, save, "garden", garden, &cam);
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
        cs_scene *syn = surface_scene(ctx, 1000000, 1920, 1080, &cam);
        if (syn && save) save_scene(ctx, save, "synthetic", syn, &cam);
        if (syn) bench_one(ctx, ctx1, "synthetic", syn, &cam, frames, scalar);
        else printf("synthetic: %s\n", cs_context_last_error(ctx));
        cs_scene_destroy(syn);
    }
    if (only && strcmp(only, "fog") == 0) {
        cs_scene *fog = fog_scene(ctx, 1000000, 1920, 1080, &cam);
        if (fog && save) save_scene(ctx, save, "fog", fog, &cam);
        if (fog) bench_one(ctx, ctx1, "fog", fog, &cam, frames, scalar);
        else printf("fog: %s\n", cs_context_last_error(ctx));
        cs_scene_destroy(fog);
    }
    if (only && strcmp(only, "big") == 0) {
        /* The size limits the issue names: 3M Gaussians at 3840x2160 (not in the default run). */
        cs_scene *big = surface_scene(ctx, 3000000, 3840, 2160, &cam);
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
