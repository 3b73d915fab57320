/*
 * compress.c - benchmark of the scene formats and the SOG compressor (`make bench`, then
 * build/bench/compress): for each format, the file size (total and bytes per Gaussian), the
 * render PSNR of the decoded scene against the original over 8 views, and encode and decode
 * seconds.
 *
 * Scenes:
 *   playbot  ../shared/data/playcanvas_playbot_sog level 0 (500,000 Gaussians, SH degree 2;
 *            --level L for another). The decoded SOG is the original (a real trained scene,
 *            already quantised once); views orbit its centre at 512 x 512.
 *   garden   the 138,766 SfM points of ../shared/data/gsplat_test_garden as Gaussians (SH degree
 *            3, random attributes, built by bench/garden.h); views are its 3 cameras and
 *            each turned by +-8 degrees (and 2 more at +-16 on camera 0), 648 x 420. Not a
 *            trained scene: attributes are noise, so sizes there are a worst case.
 * Formats: ply, splat, spz v3 (gzip) and v4 (zstd), compressed.ply, sog (csplat's writer,
 * Morton order as splat-transform), sog through `csplat compress` at each --quality, and
 * splat-transform's sog when $SPLAT_TRANSFORM names its CLI (timed end to end through a PLY).
 * splat-transform 2.7.1 on the CPU (`-g cpu`: its SH palette k-means, 64K centroids, single-
 * threaded JavaScript) took 42 s on playbot level 3, 23 min on level 2 and 1 h 45 min on level
 * 0; on garden, whose SH are noise in 45 dimensions, it had not finished after 2.5 h.
 *
 * PSNR: per view, over all pixels and channels of the renders clamped to [0, 1] on black,
 * 10 log10(1 / MSE); the table shows the mean over views ("inf": identical renders).
 *
 * usage: compress [--scene playbot|garden|all] [--level L] [--quality Q[,Q...]] [--sog-only]
 *                 [--threads T] [--tmp DIR]
 */
#include "csplat.h"
#include "garden.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define VIEWS 8

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* World-to-camera rotation (OpenCV axes) of a camera at c looking at target, world "down" d. */
static void look_at(cs_camera *cam, const double c[3], const double target[3], const double d[3]) {
    double f[3] = {target[0] - c[0], target[1] - c[1], target[2] - c[2]};
    double nf = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (int i = 0; i < 3; i++) f[i] /= nf;
    double x[3] = {d[1] * f[2] - d[2] * f[1], d[2] * f[0] - d[0] * f[2], d[0] * f[1] - d[1] * f[0]};
    double nx = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    for (int i = 0; i < 3; i++) x[i] /= nx;
    double y[3] = {f[1] * x[2] - f[2] * x[1], f[2] * x[0] - f[0] * x[2], f[0] * x[1] - f[1] * x[0]};
    for (int i = 0; i < 3; i++) {
        cam->R[i] = (float)x[i];
        cam->R[3 + i] = (float)y[i];
        cam->R[6 + i] = (float)f[i];
    }
    for (int r = 0; r < 3; r++)
        cam->t[r] = -(cam->R[3 * r] * (float)c[0] + cam->R[3 * r + 1] * (float)c[1] +
                      cam->R[3 * r + 2] * (float)c[2]);
}

/* Playbot views: 8 around the vertical (PLY y is down) at 2.6 units, 20 degrees above. */
static void playbot_views(cs_camera cams[VIEWS]) {
    const double target[3] = {0, -0.5, 0}, down[3] = {0, 1, 0};
    for (int v = 0; v < VIEWS; v++) {
        double a = 6.283185307179586 * v / VIEWS, el = 0.35, r = 2.6;
        double c[3] = {r * cos(el) * sin(a), target[1] - r * sin(el), r * cos(el) * cos(a)};
        memset(&cams[v], 0, sizeof cams[v]);
        look_at(&cams[v], c, target, down);
        cams[v].width = cams[v].height = 512;
        cams[v].fx = cams[v].fy = 500;
        cams[v].cx = cams[v].cy = 256;
    }
}

/* Rotate camera `in` by `deg` degrees about its own y axis. */
static cs_camera turned(const cs_camera *in, double deg) {
    cs_camera c = *in;
    double a = deg * 3.14159265358979 / 180, ca = cos(a), sa = sin(a);
    /* R' = Ry(a) R, t' = Ry(a) t: the view rotates about the camera centre. */
    for (int col = 0; col < 3; col++) {
        double x = in->R[col], z = in->R[6 + col];
        c.R[col] = (float)(ca * x + sa * z);
        c.R[6 + col] = (float)(-sa * x + ca * z);
    }
    double t0 = in->t[0], t2 = in->t[2];
    c.t[0] = (float)(ca * t0 + sa * t2);
    c.t[2] = (float)(-sa * t0 + ca * t2);
    return c;
}

/* Garden views: its 3 cameras, and each turned by +-8 degrees (2 more at +-16 on camera 0). */
static cs_scene *garden_scene(cs_context *ctx, cs_camera cams[VIEWS]) {
    cs_camera base[GARDEN_CAMERAS];
    cs_scene *scene = garden_load(ctx, uniform, normal, base);
    if (!scene) return NULL;
    const int from[VIEWS] = {0, 1, 2, 0, 0, 1, 2, 0};
    const double deg[VIEWS] = {0, 0, 0, 8, -8, 8, -8, 16};
    for (int v = 0; v < VIEWS; v++) cams[v] = turned(&base[from[v]], deg[v]);
    return scene;
}

static long long file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

typedef struct bench {
    cs_context *ctx;
    cs_renderer *renderer;
    const cs_scene *original;
    cs_camera cams[VIEWS];
    cs_image ref[VIEWS];
    cs_image img;
    const char *tmp;
    const char *scene_name;
} bench;

static double mean_psnr(bench *b, const cs_scene *s) {
    double sum = 0;
    bool lossless = true;
    for (int v = 0; v < VIEWS; v++) {
        if (cs_renderer_render(b->renderer, s, &b->cams[v], NULL, &b->img, NULL, NULL) != CS_OK)
            return NAN;
        size_t n = (size_t)b->img.width * b->img.height * 3;
        double se = 0;
        for (size_t i = 0; i < n; i++) {
            double x = fmin(1.0, fmax(0.0, (double)b->img.data[i]));
            double y = fmin(1.0, fmax(0.0, (double)b->ref[v].data[i]));
            se += (x - y) * (x - y);
        }
        if (se > 0) lossless = false;
        double mse = se / (double)n;
        sum += mse > 0 ? 10 * log10(1 / mse) : 100;
    }
    return lossless ? (double)INFINITY : sum / VIEWS;
}

/* Print one row: the file already written (encode seconds given), decoded and rendered. */
static void row(bench *b, const char *label, const char *load_path, long long bytes,
                double encode_s) {
    double t0 = now();
    cs_scene *s = NULL;
    if (cs_scene_load(b->ctx, load_path, &s) != CS_OK) {
        printf("%-28s  failed: %s\n", label, cs_context_last_error(b->ctx));
        return;
    }
    double decode_s = now() - t0;
    double psnr = mean_psnr(b, s);
    double n = (double)cs_scene_count(b->original);
    char ps[32];
    if (isinf(psnr))
        snprintf(ps, sizeof ps, "inf");
    else
        snprintf(ps, sizeof ps, "%.2f", psnr);
    printf("%-28s %12lld %9.2f %8s %9.2f %9.2f\n", label, bytes, (double)bytes / n, ps, encode_s,
           decode_s);
    fflush(stdout);
    cs_scene_destroy(s);
}

static void run_format(bench *b, const char *label, const char *ext, int spz_version,
                       const cs_sog_options *sog) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%s", b->tmp, b->scene_name, ext);
    double t0 = now();
    cs_status st;
    if (spz_version) {
        cs_spz_options o = {.version = spz_version};
        st = cs_scene_save_spz(b->ctx, b->original, path, &o);
    } else if (sog) {
        st = cs_scene_save_sog(b->ctx, b->original, path, sog);
    } else {
        st = cs_scene_save(b->ctx, b->original, path);
    }
    double encode_s = now() - t0;
    if (st != CS_OK) {
        printf("%-28s  failed: %s\n", label, cs_context_last_error(b->ctx));
        return;
    }
    long long bytes = file_bytes(path);
    row(b, label, path, bytes, encode_s);
}

/* splat-transform's SOG: original -> PLY -> splat-transform -> .sog, timed from the PLY. */
static void run_splat_transform(bench *b) {
    const char *st = getenv("SPLAT_TRANSFORM");
    if (!st || !*st) {
        printf("%-28s  skipped: set SPLAT_TRANSFORM to its CLI to compare\n",
               "sog (splat-transform)");
        return;
    }
    char ply[4096], sog[4096], cmd[16384];
    snprintf(ply, sizeof ply, "%s/%s_st_input.ply", b->tmp, b->scene_name);
    snprintf(sog, sizeof sog, "%s/%s_st.sog", b->tmp, b->scene_name);
    if (cs_scene_save(b->ctx, b->original, ply) != CS_OK) {
        printf("%-28s  failed: %s\n", "sog (splat-transform)", cs_context_last_error(b->ctx));
        return;
    }
    snprintf(cmd, sizeof cmd, "'%s' -q -w -g cpu '%s' '%s' >/dev/null 2>&1", st, ply, sog);
    double t0 = now();
    int rc = system(cmd);
    double encode_s = now() - t0;
    if (rc != 0) {
        printf("%-28s  failed: exit status %d\n", "sog (splat-transform)", rc);
        return;
    }
    row(b, "sog (splat-transform)", sog, file_bytes(sog), encode_s);
}

static void run_scene(bench *b, const char *name, const cs_scene *scene, const float *qualities,
                      int nq, bool sog_only) {
    b->scene_name = name;
    b->original = scene;
    printf("\n%s: %lld Gaussians, SH degree %d, %d views of %dx%d\n", name,
           (long long)cs_scene_count(scene), cs_scene_sh_degree(scene), VIEWS, b->cams[0].width,
           b->cams[0].height);
    printf("%-28s %12s %9s %8s %9s %9s\n", "format", "bytes", "B/Gauss", "PSNR dB", "encode s",
           "decode s");
    cs_image_alloc(b->ctx, b->cams[0].width, b->cams[0].height, 3, &b->img);
    for (int v = 0; v < VIEWS; v++) {
        cs_image_alloc(b->ctx, b->cams[v].width, b->cams[v].height, 3, &b->ref[v]);
        cs_renderer_render(b->renderer, scene, &b->cams[v], NULL, &b->ref[v], NULL, NULL);
    }
    if (!sog_only) {
        run_format(b, "ply", "scene.ply", 0, NULL);
        run_format(b, "splat", "scene.splat", 0, NULL);
        run_format(b, "spz v3 (gzip)", "v3.spz", 3, NULL);
        run_format(b, "spz v4 (zstd)", "v4.spz", 4, NULL);
        run_format(b, "compressed.ply", "scene.compressed.ply", 0, NULL);
    }
    run_format(b, "sog (csplat writer)", "morton.sog", 0, NULL);
    for (int i = 0; i < nq; i++) {
        char label[64], ext[64];
        snprintf(label, sizeof label, "sog (csplat compress q%.2g)", (double)qualities[i]);
        snprintf(ext, sizeof ext, "compress_q%.2g.sog", (double)qualities[i]);
        cs_sog_options o = {.self_organize = 1, .quality = qualities[i]};
        run_format(b, label, ext, 0, &o);
    }
    run_splat_transform(b);
    for (int v = 0; v < VIEWS; v++) cs_image_free(&b->ref[v]);
    cs_image_free(&b->img);
}

int main(int argc, char **argv) {
    const char *which = "all", *tmp = "/tmp";
    int level = 0, threads = 0;
    bool sog_only = false;
    float qualities[8] = {0.5f};
    int nq = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scene") == 0 && i + 1 < argc)
            which = argv[++i];
        else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
            level = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc)
            tmp = argv[++i];
        else if (strcmp(argv[i], "--sog-only") == 0)
            sog_only = true;
        else if (strcmp(argv[i], "--quality") == 0 && i + 1 < argc) {
            nq = 0;
            for (char *t = strtok(argv[++i], ","); t && nq < 8; t = strtok(NULL, ","))
                qualities[nq++] = strtof(t, NULL);
        } else {
            fprintf(stderr, "usage: compress [--scene playbot|garden|all] [--level L] "
                            "[--quality Q[,Q...]] [--sog-only] [--threads T] [--tmp DIR]\n");
            return 2;
        }
    }
    cs_context_desc d = {.threads = threads};
    bench b = {0};
    if (cs_context_create(&d, &b.ctx) != CS_OK ||
        cs_renderer_create(b.ctx, NULL, &b.renderer) != CS_OK)
        return 1;
    b.tmp = tmp;
    printf("csplat %s compression benchmark, %d threads\n", cs_version(),
           cs_context_threads(b.ctx));
    if (strcmp(which, "all") == 0 || strcmp(which, "playbot") == 0) {
        const char *root = getenv("CSPLAT_DATA");
        char path[4096];
        snprintf(path, sizeof path, "%s/playcanvas_playbot_sog/lod-meta.json",
                 root && *root ? root : "../shared/data");
        cs_scene *s = NULL;
        if (cs_scene_load_lod(b.ctx, path, level, &s) != CS_OK) {
            printf("playbot: skipped (%s)\n", cs_context_last_error(b.ctx));
        } else {
            playbot_views(b.cams);
            char name[32];
            snprintf(name, sizeof name, "playbot_lod%d", level);
            run_scene(&b, name, s, qualities, nq, sog_only);
            cs_scene_destroy(s);
        }
    }
    if (strcmp(which, "all") == 0 || strcmp(which, "garden") == 0) {
        cs_scene *s = garden_scene(b.ctx, b.cams);
        if (s) run_scene(&b, "garden", s, qualities, nq, sog_only);
        cs_scene_destroy(s);
    }
    cs_renderer_destroy(b.renderer);
    cs_context_destroy(b.ctx);
    return 0;
}
