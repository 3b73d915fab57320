/*
 * render_fixture.c - cameras, random scenes, images and error measures for the renderer tests
 * (see render_fixture.h).
 */
#include "render_fixture.h"

#include "npz.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void normalize3(double v[3]) {
    double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int k = 0; k < 3; k++) v[k] /= n;
}

static void cross3(const double a[3], const double b[3], double out[3]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

cs_camera fixture_camera(int width, int height, float focal, const float eye[3],
                         const float target[3], float dcx, float dcy) {
    cs_camera cam;
    memset(&cam, 0, sizeof cam);
    double f[3] = {(double)(target[0] - eye[0]), (double)(target[1] - eye[1]),
                   (double)(target[2] - eye[2])};
    double up[3] = {0, 0, 1}, r[3], d[3];
    normalize3(f);
    cross3(f, up, r);
    normalize3(r);
    cross3(f, r, d); /* r x d = f: right-handed, y down */
    for (int k = 0; k < 3; k++) {
        cam.R[k] = (float)r[k];
        cam.R[3 + k] = (float)d[k];
        cam.R[6 + k] = (float)f[k];
    }
    for (int row = 0; row < 3; row++)
        cam.t[row] =
            -(cam.R[3 * row] * eye[0] + cam.R[3 * row + 1] * eye[1] + cam.R[3 * row + 2] * eye[2]);
    cam.fx = cam.fy = focal;
    cam.cx = 0.5f * (float)width + dcx;
    cam.cy = 0.5f * (float)height + dcy;
    cam.width = width;
    cam.height = height;
    cam.model = CS_CAMERA_PINHOLE;
    return cam;
}

cs_scene *fixture_random_scene(cs_context *ctx, const cs_camera *cam, int64_t n, int degree,
                               unsigned long long seed) {
    cs_scene *scene;
    if (cs_scene_create(ctx, n, degree, &scene) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(scene);
    test_rng rng = test_rng_seed(seed);
    double tanx = 0.5 * cam->width / (double)cam->fx, tany = 0.5 * cam->height / (double)cam->fy;
    for (int64_t i = 0; i < n; i++) {
        double kind = test_rng_uniform(&rng), pv[3];
        pv[2] = 0.5 + 7.5 * test_rng_uniform(&rng);
        double spread = 1.1;
        if (kind < 0.05)
            pv[2] = -1.0 + 1.3 * test_rng_uniform(&rng); /* near plane, behind */
        else if (kind < 0.10)
            spread = 3.0; /* mostly off-screen */
        pv[0] = (2 * test_rng_uniform(&rng) - 1) * spread * tanx * fabs(pv[2]);
        pv[1] = (2 * test_rng_uniform(&rng) - 1) * spread * tany * fabs(pv[2]);
        /* world = R^T (pv - t) */
        for (int k = 0; k < 3; k++) {
            double w = 0;
            for (int row = 0; row < 3; row++)
                w += (double)cam->R[3 * row + k] * (pv[row] - (double)cam->t[row]);
            p.means[3 * i + k] = (float)w;
        }
        /* Scales: mostly 0.005..0.15 (a few to tens of pixels), some sub-pixel, a few huge. */
        double s_kind = test_rng_uniform(&rng);
        for (int k = 0; k < 3; k++) {
            double s = 0.005 * exp(3.4 * test_rng_uniform(&rng));
            if (s_kind < 0.05)
                s = 0.0003 * (1 + test_rng_uniform(&rng));
            else if (s_kind > 0.98)
                s = 0.5 + 2 * test_rng_uniform(&rng);
            p.log_scales[3 * i + k] = (float)log(s);
        }
        for (int k = 0; k < 4; k++) p.quats[4 * i + k] = (float)test_rng_normal(&rng);
        p.opacities[i] = (float)(2.5 * test_rng_normal(&rng));
        float *sh = p.sh + (size_t)i * 3 * (size_t)p.sh_coeffs;
        for (int c = 0; c < 3 * p.sh_coeffs; c++)
            sh[c] = (float)((c < 3 ? 0.8 : 0.25) * test_rng_normal(&rng));
    }
    return scene;
}

cs_image fixture_image(int width, int height, int channels) {
    cs_image im = {width, height, channels, NULL};
    im.data = calloc((size_t)width * (size_t)height * (size_t)channels, sizeof(float));
    return im;
}

void fixture_image_free(cs_image *im) {
    free(im->data);
    im->data = NULL;
}

static fixture_diff finish(fixture_diff d, int64_t pixels, int channels) {
    d.mae /= (double)(pixels * channels);
    d.over_frac = (double)d.over / (double)pixels;
    return d;
}

fixture_diff fixture_compare(const float *a, const double *b, int64_t pixels, int channels) {
    fixture_diff d = {0};
    for (int64_t q = 0; q < pixels; q++) {
        int off = 0;
        for (int c = 0; c < channels; c++) {
            double e = fabs((double)a[q * channels + c] - b[q * channels + c]);
            d.mae += e;
            if (e > d.max) d.max = e;
            if (e > 1.0 / 255.0) off = 1;
        }
        d.over += off;
    }
    return finish(d, pixels, channels);
}

fixture_diff fixture_compare_f(const float *a, const float *b, int64_t pixels, int channels) {
    fixture_diff d = {0};
    for (int64_t q = 0; q < pixels; q++) {
        int off = 0;
        for (int c = 0; c < channels; c++) {
            double e = fabs((double)a[q * channels + c] - (double)b[q * channels + c]);
            d.mae += e;
            if (e > d.max) d.max = e;
            if (e > 1.0 / 255.0) off = 1;
        }
        d.over += off;
    }
    return finish(d, pixels, channels);
}

cs_scene *fixture_garden(cs_context *ctx, cs_camera cams[3], char *why, size_t why_len) {
    const char *path = test_data("gsplat_test_garden/test_garden.npz");
    if (!path) {
        snprintf(why, why_len, "gsplat_test_garden/test_garden.npz is absent");
        return NULL;
    }
    cs_npz *npz;
    if (cs__npz_load(ctx, path, &npz) != CS_OK) {
        snprintf(why, why_len, "%s", cs_context_last_error(ctx));
        return NULL;
    }
    const cs_npz_array *means = cs__npz_find(npz, "means3d"), *colors = cs__npz_find(npz, "colors");
    const cs_npz_array *views = cs__npz_find(npz, "viewmats"), *ks = cs__npz_find(npz, "Ks");
    const cs_npz_array *w = cs__npz_find(npz, "width"), *h = cs__npz_find(npz, "height");
    cs_scene *scene = NULL;
    float *buf = NULL;
    if (!means || !colors || !views || !ks || !w || !h || means->ndim != 2 ||
        means->shape[1] != 3 || colors->count != means->count || views->count != 48 ||
        ks->count != 27) {
        snprintf(why, why_len, "%s: unexpected arrays", path);
        goto done;
    }
    int64_t n = means->shape[0];
    float wh[2];
    buf = malloc((size_t)means->count * sizeof *buf);
    float vm[48], k[27];
    if (!buf || cs__npz_to_float(ctx, means, buf) != CS_OK ||
        cs__npz_to_float(ctx, views, vm) != CS_OK || cs__npz_to_float(ctx, ks, k) != CS_OK ||
        cs__npz_to_float(ctx, w, &wh[0]) != CS_OK || cs__npz_to_float(ctx, h, &wh[1]) != CS_OK ||
        cs_scene_create(ctx, n, 3, &scene) != CS_OK) {
        snprintf(why, why_len, "%s: %s", path, cs_context_last_error(ctx));
        goto done;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    test_rng rng = test_rng_seed(2024);
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) {
            p.means[3 * i + c] = buf[3 * i + c];
            p.log_scales[3 * i + c] =
                (float)(log(0.003) + log(20.0 / 3.0) * test_rng_uniform(&rng));
        }
        for (int c = 0; c < 4; c++) p.quats[4 * i + c] = (float)test_rng_normal(&rng);
        double o = 0.05 + 0.9 * test_rng_uniform(&rng);
        p.opacities[i] = (float)log(o / (1 - o));
        float *sh = p.sh + (size_t)i * 48;
        for (int c = 0; c < 3; c++) /* rgb = SH_C0 dc + 0.5 reproduces the point colour */
            sh[c] = (float)((colors->data[3 * i + c] / 255.0 - 0.5) / 0.28209479177387814);
        for (int c = 3; c < 48; c++) sh[c] = (float)(0.1 * test_rng_normal(&rng));
    }
    for (int v = 0; v < 3; v++) {
        cs_camera *cam = &cams[v];
        memset(cam, 0, sizeof *cam);
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) cam->R[3 * r + c] = vm[16 * v + 4 * r + c];
            cam->t[r] = vm[16 * v + 4 * r + 3];
        }
        cam->fx = k[9 * v + 0];
        cam->fy = k[9 * v + 4];
        cam->cx = k[9 * v + 2];
        cam->cy = k[9 * v + 5];
        cam->width = (int)wh[0];
        cam->height = (int)wh[1];
    }
done:
    free(buf);
    cs__npz_destroy(npz);
    return scene;
}
