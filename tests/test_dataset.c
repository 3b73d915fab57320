/*
 * test_dataset.c - dataset loading: the procedural demo dataset (camera conventions end to end),
 * background compositing, area downscaling, OpenCV undistortion, the held-out split, extent, and
 * the real lego and fox data when ../shared/data is present.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Project world point p through cam; returns the view depth. */
static float project(const cs_camera *c, const float p[3], float *u, float *v) {
    float x[3];
    for (int r = 0; r < 3; r++)
        x[r] = c->R[3 * r] * p[0] + c->R[3 * r + 1] * p[1] + c->R[3 * r + 2] * p[2] + c->t[r];
    *u = c->fx * x[0] / x[2] + c->cx;
    *v = c->fy * x[1] / x[2] + c->cy;
    return x[2];
}

static const char *demo_dir(void) {
    static char dir[4096];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", test_tmp("demo-dataset"));
        cs_context *ctx = test_context(2);
        CHECK_OK(ctx, cs_demo_dataset_write(ctx, dir, 6, 2, 48));
        cs_context_destroy(ctx);
    }
    return dir;
}

TEST(dataset_demo_split_background_and_conventions) {
    cs_context *ctx = test_context(2);
    cs_dataset *ds = NULL;
    cs_dataset_desc desc = {.hold_out = 1};
    CHECK_OK(ctx, cs_dataset_load(ctx, demo_dir(), &desc, &ds));
    if (!ds) SKIP("no dataset");
    CHECK(cs_dataset_count(ds) == 8);
    int held = 0;
    for (int64_t i = 0; i < cs_dataset_count(ds); i++) {
        held += cs_dataset_is_held_out(ds, i);
        if (cs_dataset_is_held_out(ds, i))
            CHECK_MSG(strncmp(cs_dataset_name(ds, i), "test/", 5) == 0, "held-out view %s",
                      cs_dataset_name(ds, i));
    }
    CHECK(held == 2);
    float bg[3];
    cs_dataset_background(ds, bg);
    CHECK(bg[0] == 1.0f && bg[1] == 1.0f && bg[2] == 1.0f); /* Blender data: white */
    for (int64_t i = 0; i < cs_dataset_count(ds); i++) {
        const cs_camera *c = cs_dataset_camera(ds, i);
        const cs_image *img = cs_dataset_image(ds, i);
        CHECK(img->width == 48 && img->height == 48 && img->channels == 3);
        CHECK(c->model == CS_CAMERA_PINHOLE);
        /* The demo cameras look at (0, -0.2, 0.35): it must project to the image centre. */
        const float target[3] = {0.0f, -0.2f, 0.35f};
        float u, v, z = project(c, target, &u, &v);
        CHECK_MSG(z > 3.0f && fabsf(u - 24.0f) < 0.01f && fabsf(v - 24.0f) < 0.01f,
                  "view %lld: target at (%g, %g) depth %g", (long long)i, (double)u, (double)v,
                  (double)z);
        /* The top-left corner is sky (composited white); the centre is an object. */
        CHECK_NEAR(img->data[0], 1.0, 1e-6);
        const float *mid = img->data + (24 * 48 + 24) * 3;
        CHECK(mid[0] + mid[1] + mid[2] < 2.9f);
    }
    float centre[3], radius;
    cs_dataset_extent(ds, centre, &radius);
    CHECK_MSG(radius > 1.1f * 3.0f && radius < 1.1f * 8.4f, "radius %g", (double)radius);
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
}

TEST(dataset_downscale_is_an_area_average) {
    cs_context *ctx = test_context(2);
    cs_dataset *full = NULL, *half = NULL;
    cs_dataset_desc d1 = {0}, d2 = {.downscale = 2};
    CHECK_OK(ctx, cs_dataset_load(ctx, demo_dir(), &d1, &full));
    CHECK_OK(ctx, cs_dataset_load(ctx, demo_dir(), &d2, &half));
    if (!full || !half) SKIP("no dataset");
    CHECK(cs_dataset_count(full) == 8 && cs_dataset_count(half) == 8); /* test views train too */
    const cs_image *a = cs_dataset_image(full, 3), *b = cs_dataset_image(half, 3);
    const cs_camera *ca = cs_dataset_camera(full, 3), *cb = cs_dataset_camera(half, 3);
    CHECK(b->width == 24 && b->height == 24);
    CHECK_NEAR(cb->fx, ca->fx / 2, 1e-4);
    CHECK_NEAR(cb->cx, ca->cx / 2, 1e-4);
    double worst = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 24; x++)
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        s += (double)a->data[((2 * y + dy) * 48 + 2 * x + dx) * 3 + c];
                double e = fabs(s / 4 - (double)b->data[(y * 24 + x) * 3 + c]);
                if (e > worst) worst = e;
            }
    CHECK_MSG(worst < 1e-6, "max error %g", worst);
    cs_dataset_destroy(full);
    cs_dataset_destroy(half);
    cs_context_destroy(ctx);
}

/* A COLMAP text model of one OPENCV camera looking down +z, and a 64x48 gradient image. */
static void write_distorted_dataset(const char *dir, float k1) {
    char path[4200];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/sparse", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images", dir);
    mkdir(path, 0755);
    char text[512];
    snprintf(text, sizeof text,
             "# camera\n1 OPENCV 64 48 50 50 32 24 %g 0 0 0\n", (double)k1);
    snprintf(path, sizeof path, "%s/sparse/cameras.txt", dir);
    CHECK(test_write_file(path, text, strlen(text)));
    const char *images = "# images\n1 1 0 0 0 0 0 0 1 view.png\n\n";
    snprintf(path, sizeof path, "%s/sparse/images.txt", dir);
    CHECK(test_write_file(path, images, strlen(images)));
    snprintf(path, sizeof path, "%s/sparse/points3D.txt", dir);
    CHECK(test_write_file(path, "", 0));
    cs_context *ctx = test_context(1);
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, 64, 48, 3, &img));
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            float *p = img.data + (y * 64 + x) * 3;
            p[0] = (float)x / 63.0f, p[1] = (float)y / 47.0f, p[2] = 0.5f;
        }
    snprintf(path, sizeof path, "%s/images/view.png", dir);
    CHECK_OK(ctx, cs_image_save_png(ctx, &img, path, 16));
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

TEST(dataset_undistorts_opencv_cameras) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp("distorted"));
    const float k1 = 0.2f;
    write_distorted_dataset(dir, k1);
    cs_context *ctx = test_context(1);
    cs_dataset *ds = NULL;
    CHECK_OK(ctx, cs_dataset_load(ctx, dir, NULL, &ds));
    if (!ds) SKIP("no dataset");
    const cs_image *img = cs_dataset_image(ds, 0);
    CHECK(cs_dataset_camera(ds, 0)->model == CS_CAMERA_PINHOLE);
    /* Undistorted pixel (x, y) shows the photo at the distorted position of its centre; the
     * gradient image's red channel is linear in x: red = (u_d - 0.5) / 63 inside the frame. */
    const int px = 60, py = 44;
    double xn = (px + 0.5 - 32) / 50, yn = (py + 0.5 - 24) / 50, r2 = xn * xn + yn * yn;
    double ud = 50 * xn * (1 + (double)k1 * r2) + 32, vd = 50 * yn * (1 + (double)k1 * r2) + 24;
    const float *p = img->data + (py * 64 + px) * 3;
    CHECK_NEAR(p[0], (ud - 0.5) / 63, 2e-4);
    CHECK_NEAR(p[1], (vd - 0.5) / 47, 2e-4);
    CHECK(fabs(ud - (px + 0.5)) > 1.0); /* the check above is not the identity */
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
}

TEST(dataset_bad_input) {
    cs_context *ctx = test_context(1);
    cs_dataset *ds = NULL;
    CHECK(cs_dataset_load(ctx, "/nonexistent/dataset", NULL, &ds) != CS_OK && !ds);
    CHECK(strstr(cs_context_last_error(ctx), "/nonexistent/dataset") != NULL);
    cs_dataset_desc bad = {.downscale = 65};
    CHECK(cs_dataset_load(ctx, demo_dir(), &bad, &ds) == CS_ERR_ARGUMENT && !ds);
    /* A view whose image is gone: a clear error naming it. */
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp("missing-image"));
    write_distorted_dataset(dir, 0.0f);
    snprintf(path, sizeof path, "%s/images/view.png", dir);
    CHECK(test_write_file(path, "not a png", 9));
    CHECK(cs_dataset_load(ctx, dir, NULL, &ds) != CS_OK && !ds);
    CHECK_MSG(strstr(cs_context_last_error(ctx), "view.png") != NULL, "message: %s",
              cs_context_last_error(ctx));
    cs_context_destroy(ctx);
}

TEST(dataset_real_lego) {
    const char *path = test_data("nerf_synthetic_lego");
    if (!path) SKIP("../shared/data/nerf_synthetic_lego absent");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    cs_context *ctx = test_context(2);
    cs_dataset *ds = NULL;
    cs_dataset_desc desc = {.downscale = 8, .hold_out = 1, .max_images = 16};
    CHECK_OK(ctx, cs_dataset_load(ctx, dir, &desc, &ds));
    if (!ds) SKIP("load failed");
    CHECK(cs_dataset_count(ds) == 16);
    int held = 0;
    for (int64_t i = 0; i < 16; i++) held += cs_dataset_is_held_out(ds, i);
    CHECK(held == 2); /* every 8th in name order: no transforms_test.json here */
    const cs_image *img = cs_dataset_image(ds, 0);
    CHECK(img->width == 100 && img->height == 100);
    CHECK_NEAR(img->data[0], 1.0, 1e-6); /* transparent corner on white */
    CHECK_NEAR(cs_dataset_camera(ds, 0)->fx, 1111.111 / 8, 0.01);
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
}

TEST(dataset_real_fox_colmap) {
    const char *path = test_data("fox_colmap");
    if (!path) SKIP("../shared/data/fox_colmap absent");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    cs_context *ctx = test_context(2);
    cs_dataset *ds = NULL;
    cs_dataset_desc desc = {.downscale = 8, .max_images = 3};
    CHECK_OK(ctx, cs_dataset_load(ctx, dir, &desc, &ds));
    if (!ds) SKIP("load failed");
    CHECK(cs_dataset_count(ds) == 3);
    const cs_camera *c = cs_dataset_camera(ds, 0);
    CHECK(c->model == CS_CAMERA_PINHOLE && c->width == 135 && c->height == 240);
    const float *xyz;
    CHECK(cs_dataset_points(ds, &xyz, NULL) == 13601);
    float bg[3];
    cs_dataset_background(ds, bg);
    CHECK(bg[0] == 0.0f);
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
}
