/*
 * test_transforms.c - transforms.json in its three dialects (Blender, instant-ngp, nerfstudio)
 * and D-NeRF time: hand-computed poses and intrinsics checked by projecting known world points,
 * missing-image skipping with one warning, malformed files, and the real lego, fox and dnerf_lego
 * files from ../shared/data.
 */
#include "camera.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Pixel (u, v) and depth z of world point x seen by cam (DESIGN.md: u = fx X/Z + cx). */
static void project(const cs_camera *cam, const double x[3], double *u, double *v, double *z) {
    double p[3];
    for (int i = 0; i < 3; i++)
        p[i] = (double)cam->R[3 * i] * x[0] + (double)cam->R[3 * i + 1] * x[1] +
               (double)cam->R[3 * i + 2] * x[2] + (double)cam->t[i];
    *z = p[2];
    *u = (double)cam->fx * p[0] / p[2] + (double)cam->cx;
    *v = (double)cam->fy * p[1] / p[2] + (double)cam->cy;
}

/* A file holding only a PNG signature and IHDR: enough for the header probe. */
static void write_png_header(const char *path, unsigned w, unsigned h) {
    unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                           0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    for (int i = 0; i < 4; i++) {
        b[16 + i] = (unsigned char)(w >> (24 - 8 * i));
        b[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    CHECK(test_write_file(path, b, sizeof b));
}

static char *tmp_path(const char *name) {
    char *p = malloc(4096);
    snprintf(p, 4096, "%s", test_tmp(name));
    return p;
}

static void write_text(const char *path, const char *text) {
    CHECK(test_write_file(path, text, strlen(text)));
}

typedef struct log_capture {
    int warnings;
    char last[512];
} log_capture;

static void capture(void *user, cs_log_level level, const char *message) {
    log_capture *c = user;
    if (level != CS_LOG_WARN) return;
    c->warnings++;
    snprintf(c->last, sizeof c->last, "%s", message);
}

static cs_context *capturing_context(log_capture *c) {
    cs_context *ctx;
    cs_context_desc desc = {.threads = 1, .log = capture, .log_user = c};
    memset(c, 0, sizeof *c);
    if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    return ctx;
}

static const char blender_json[] =
    "{\"camera_angle_x\": 0.8, \"frames\": [\n"
    /* camera at (0, 0, 4) looking down -z at the origin, y up: identity rotation */
    " {\"file_path\": \"./train/r_0\", \"rotation\": 0.1,\n"
    "  \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]},\n"
    /* camera at (4, 0, 0) looking at the origin along -x, y up: right = (0,0,-1), back = +x */
    " {\"file_path\": \"./train/r_1\",\n"
    "  \"transform_matrix\": [[0,0,1,4],[0,1,0,0],[-1,0,0,0],[0,0,0,1]]}]}";

TEST(transforms_blender_hand_computed) {
    cs_context *ctx = test_context(1);
    char *dir = tmp_path("blender");
    mkdir(dir, 0700);
    char *p = tmp_path("blender/train");
    mkdir(p, 0700);
    write_png_header(test_tmp("blender/train/r_0.png"), 200, 100);
    write_png_header(test_tmp("blender/train/r_1.png"), 200, 100);
    write_text(test_tmp("blender/transforms_train.json"), blender_json);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, dir, &set)); /* the folder: transforms_train.json */
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_BLENDER);
    CHECK(cs_camera_set_count(set) == 2);
    const cs_camera *c0 = cs_camera_set_camera(set, 0), *c1 = cs_camera_set_camera(set, 1);
    double f = 0.5 * 200 / tan(0.4);
    CHECK_NEAR(c0->fx, f, 1e-3);
    CHECK_NEAR(c0->fy, f, 1e-3);
    CHECK(c0->width == 200 && c0->height == 100);
    CHECK_NEAR(c0->cx, 100, 0);
    CHECK_NEAR(c0->cy, 50, 0);
    CHECK(c0->model == CS_CAMERA_PINHOLE && c0->time == 0.0f);
    /* OpenGL -> OpenCV: R = diag(1, -1, -1), t = -R c = (0, 0, 4). */
    const float R0[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1}, t0[3] = {0, 0, 4};
    for (int i = 0; i < 9; i++) CHECK_NEAR(c0->R[i], R0[i], 1e-7);
    for (int i = 0; i < 3; i++) CHECK_NEAR(c0->t[i], t0[i], 1e-6);
    /* Rotated camera: R rows are right, down, forward = (0,0,-1), (0,-1,0), (-1,0,0). */
    const float R1[9] = {0, 0, -1, 0, -1, 0, -1, 0, 0};
    for (int i = 0; i < 9; i++) CHECK_NEAR(c1->R[i], R1[i], 1e-7);
    float c[3];
    cs_camera_center(c1, c);
    CHECK_NEAR(c[0], 4, 1e-6);
    CHECK_NEAR(c[1], 0, 1e-6);
    CHECK_NEAR(c[2], 0, 1e-6);
    double u, v, z;
    const double origin[3] = {0, 0, 0}, right1[3] = {0, 0, -1}, up[3] = {0, 1, 0};
    const double behind1[3] = {8, 0, 0}, right0[3] = {1, 0, 0};
    project(c1, origin, &u, &v, &z);
    CHECK_NEAR(u, 100, 1e-4);
    CHECK_NEAR(v, 50, 1e-4);
    CHECK_NEAR(z, 4, 1e-6);
    project(c1, right1, &u, &v, &z);
    CHECK_NEAR(u, 100 + f / 4, 1e-3); /* to the camera's right: u > cx */
    CHECK_NEAR(v, 50, 1e-4);
    project(c1, up, &u, &v, &z);
    CHECK_NEAR(v, 50 - f / 4, 1e-3); /* world up (OpenGL y) is image up: v < cy */
    CHECK_NEAR(u, 100, 1e-4);
    project(c1, behind1, &u, &v, &z);
    CHECK(z < 0);
    project(c0, right0, &u, &v, &z);
    CHECK(u > 100 && fabs(v - 50) < 1e-4 && z > 0);
    CHECK(strcmp(cs_camera_set_name(set, 1), "r_1.png") == 0);
    const char *path = cs_camera_set_image_path(set, 1);
    CHECK(path && strstr(path, "blender/./train/r_1.png") != NULL);
    cs_camera_set_destroy(set);
    free(dir);
    free(p);
    cs_context_destroy(ctx);
}

TEST(transforms_ngp_distortion_and_missing_images) {
    log_capture log;
    cs_context *ctx = capturing_context(&log);
    char *dir = tmp_path("ngp");
    mkdir(dir, 0700);
    mkdir(test_tmp("ngp/images"), 0700);
    write_text(test_tmp("ngp/images/a.jpg"), "not decoded");
    write_text(test_tmp("ngp/images/b.jpg"), "not decoded");
    const char *json =
        "{\"fl_x\": 500, \"fl_y\": 510, \"cx\": 330, \"cy\": 250, \"w\": 640.0, \"h\": 480.0,\n"
        " \"k1\": 0.1, \"k2\": -0.05, \"p1\": 0.001, \"p2\": -0.002, \"aabb_scale\": 4,\n"
        " \"frames\": [\n"
        "  {\"file_path\": \"images/missing1.jpg\", \"transform_matrix\": "
        "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]},\n"
        "  {\"file_path\": \"images/a.jpg\", \"transform_matrix\": "
        "[[1,0,0,1],[0,1,0,2],[0,0,1,3],[0,0,0,1]]},\n"
        "  {\"file_path\": \"images/missing2.jpg\", \"transform_matrix\": "
        "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]},\n"
        "  {\"file_path\": \"images/b\", \"transform_matrix\": "
        "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}";
    char *json_path = tmp_path("ngp/transforms.json");
    write_text(json_path, json);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, json_path, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_NGP);
    CHECK(cs_camera_set_count(set) == 2);
    CHECK(log.warnings == 1);
    char expect[4200];
    snprintf(expect, sizeof expect,
             "%s: 2 of 4 frames skipped: image missing (first: images/missing1.jpg)", json_path);
    CHECK_MSG(strcmp(log.last, expect) == 0, "warning was '%s'", log.last);
    const cs_camera *c = cs_camera_set_camera(set, 0);
    CHECK(c->model == CS_CAMERA_OPENCV && c->width == 640 && c->height == 480);
    CHECK_NEAR(c->fx, 500, 0);
    CHECK_NEAR(c->fy, 510, 0);
    CHECK_NEAR(c->cx, 330, 0);
    CHECK_NEAR(c->cy, 250, 0);
    const float d[5] = {0.1f, -0.05f, 0.001f, -0.002f, 0};
    for (int i = 0; i < 5; i++) CHECK(c->dist[i] == d[i]);
    float ctr[3];
    cs_camera_center(c, ctr);
    CHECK(ctr[0] == 1 && ctr[1] == 2 && ctr[2] == 3);
    CHECK(strcmp(cs_camera_set_name(set, 1), "b.jpg") == 0); /* extension found on disk */
    /* Every frame missing: a clean error naming the first. */
    write_text(json_path, "{\"fl_x\": 500, \"w\": 64, \"h\": 48, \"frames\": [{\"file_path\": "
                          "\"nope\", \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}");
    cs_camera_set *none;
    CHECK(cs_camera_set_load(ctx, json_path, &none) == CS_ERR_NOT_FOUND && none == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "all 1 frames skipped") != NULL);
    CHECK(strstr(cs_context_last_error(ctx), "nope") != NULL);
    cs_camera_set_destroy(set);
    free(dir);
    free(json_path);
    cs_context_destroy(ctx);
}

TEST(transforms_nerfstudio_per_frame_intrinsics) {
    cs_context *ctx = test_context(1);
    mkdir(test_tmp("ns"), 0700);
    write_png_header(test_tmp("ns/f0.png"), 64, 48);
    write_png_header(test_tmp("ns/f1.png"), 64, 48);
    const char *json =
        "{\"camera_model\": \"OPENCV\", \"fl_x\": 50, \"fl_y\": 52, \"cx\": 31, \"cy\": 23,\n"
        " \"w\": 64, \"h\": 48, \"k1\": 0.01, \"k2\": 0, \"p1\": 0, \"p2\": 0,\n"
        " \"frames\": [\n"
        "  {\"file_path\": \"f0.png\", \"transform_matrix\": "
        "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]},\n"
        "  {\"file_path\": \"f1.png\", \"fl_x\": 70, \"cx\": 33, \"k1\": 0, \"time\": 0.25,\n"
        "   \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}";
    char *path = tmp_path("ns/transforms.json");
    write_text(path, json);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, test_tmp("ns"), &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_NERFSTUDIO);
    const cs_camera *a = cs_camera_set_camera(set, 0), *b = cs_camera_set_camera(set, 1);
    CHECK(a->fx == 50 && a->fy == 52 && a->cx == 31 && a->model == CS_CAMERA_OPENCV);
    CHECK(a->dist[0] == 0.01f && a->time == 0);
    CHECK(b->fx == 70 && b->fy == 52 && b->cx == 33 && b->cy == 23);
    CHECK(b->model == CS_CAMERA_PINHOLE && b->dist[0] == 0); /* k1 overridden to 0 */
    CHECK(b->time == 0.25f);
    cs_camera_set_destroy(set);
    /* Unsupported camera models are named. */
    write_text(path, "{\"camera_model\": \"OPENCV_FISHEYE\", \"fl_x\": 5, \"frames\": [{}]}");
    CHECK(cs_camera_set_load(ctx, path, &set) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "OPENCV_FISHEYE") != NULL);
    free(path);
    cs_context_destroy(ctx);
}

TEST(transforms_malformed) {
    cs_context *ctx = test_context(1);
    static const struct {
        const char *json, *expect;
        cs_status status;
    } cases[] = {
        {"{\"camera_angle_x\": 0.5, \"frames\": {}}", "frames is not an array", CS_ERR_FORMAT},
        {"{\"camera_angle_x\": 0.5}", "frames is missing", CS_ERR_FORMAT},
        {"{\"camera_angle_x\": 0.5, \"frames\": []}", "frames is empty", CS_ERR_FORMAT},
        {"{\"frames\": [{}]}", "no intrinsics", CS_ERR_FORMAT},
        {"{\"fl_x\": \"500\", \"frames\": [{}]}", "fl_x is not a finite number", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"frames\": [3]}", "frames[0] is not an object", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"frames\": [{\"file_path\": 1}]}", "file_path", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"x\", "
         "\"transform_matrix\": [[1,0,0],[0,1,0],[0,0,1]]}]}",
         "transform_matrix is not a 4x4", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"w\": 10, \"h\": 10, \"frames\": [{\"file_path\": \"x\", "
         "\"transform_matrix\": [[2,0,0,0],[0,2,0,0],[0,0,2,0]]}]}",
         "not orthonormal", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"w\": -10, \"h\": 10, \"frames\": [{\"file_path\": \"x\"}]}",
         "not a valid image size", CS_ERR_FORMAT},
        {"{\"fl_x\": 500, \"frames\": [", "invalid JSON", CS_ERR_FORMAT},
        {"[1, 2]", "not a JSON object", CS_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_camera_set *set = (cs_camera_set *)1;
        cs_status st = cs__transforms_parse(ctx, "bad.json", cases[i].json, strlen(cases[i].json),
                                            "/nonexistent", cs__image_probe_file, NULL, &set);
        CHECK_MSG(st == cases[i].status && set == NULL, "case %zu: %s", i, cs_status_string(st));
        CHECK_MSG(strstr(cs_context_last_error(ctx), cases[i].expect) &&
                      strstr(cs_context_last_error(ctx), "bad.json"),
                  "case %zu: message '%s'", i, cs_context_last_error(ctx));
    }
    cs_context_destroy(ctx);
}

/* Angle in degrees between row 2 of R (the optical axis) and the direction to the origin. */
static double axis_to_origin_degrees(const cs_camera *cam) {
    double c[3];
    cs__camera_center_d(cam, c);
    double n = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    double dot =
        -((double)cam->R[6] * c[0] + (double)cam->R[7] * c[1] + (double)cam->R[8] * c[2]) / n;
    return acos(dot > 1 ? 1 : dot) * 180 / 3.141592653589793;
}

TEST(transforms_real_lego) {
    const char *p = test_data("nerf_synthetic_lego/transforms_train.json");
    if (!p) SKIP("../shared/data/nerf_synthetic_lego absent");
    cs_context *ctx = test_context(1);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, p, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_BLENDER);
    CHECK(cs_camera_set_count(set) == 100);
    double fx = 0.5 * 800 / tan(0.5 * 0.6911112070083618); /* 1111.111 */
    double worst_angle = 0, rmin = 1e9, rmax = 0;
    for (int64_t i = 0; i < cs_camera_set_count(set); i++) {
        const cs_camera *c = cs_camera_set_camera(set, i);
        CHECK(c->width == 800 && c->height == 800 && c->cx == 400 && c->cy == 400);
        CHECK_NEAR(c->fx, fx, 1e-3);
        CHECK_NEAR(c->fy, fx, 1e-3);
        double ctr[3];
        cs__camera_center_d(c, ctr);
        double r = sqrt(ctr[0] * ctr[0] + ctr[1] * ctr[1] + ctr[2] * ctr[2]);
        rmin = fmin(rmin, r);
        rmax = fmax(rmax, r);
        worst_angle = fmax(worst_angle, axis_to_origin_degrees(c));
    }
    CHECK_NEAR(fx, 1111.111, 1e-3);
    CHECK(rmin > 4.02 && rmax < 4.04);
    CHECK_MSG(worst_angle < 3, "optical axis misses the origin by %.2f degrees", worst_angle);
    /* The first frame as the file states it (c2w rows start -0.99990, 0.00419 and -0.01399):
     * R = (c2w with y, z columns negated)^T, so R[0][0] = c2w[0][0], R[0][1] = c2w[1][0] and
     * R[1][0] = -c2w[0][1]. */
    const cs_camera *c0 = cs_camera_set_camera(set, 0);
    CHECK_NEAR(c0->R[0], -0.9999021887779236, 1e-7);
    CHECK_NEAR(c0->R[1], -0.013988681137561798, 1e-7);
    CHECK_NEAR(c0->R[3], -0.004192245192825794, 1e-7); /* y column negated */
    test_note("lego: 100 cameras, fx %.3f, centres at %.4f..%.4f, axis off origin <= %.3f deg",
              (double)c0->fx, rmin, rmax, worst_angle);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(transforms_real_fox) {
    const char *p = test_data("instant_ngp_fox/transforms.json");
    if (!p) SKIP("../shared/data/instant_ngp_fox absent");
    log_capture log;
    cs_context *ctx = capturing_context(&log);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, p, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_NGP);
    CHECK(cs_camera_set_count(set) == 50);
    CHECK(log.warnings == 1);
    CHECK_MSG(strstr(log.last, "17 of 67 frames skipped: image missing (first: "
                               "images/0005.jpg)") != NULL,
              "warning '%s'", log.last);
    const cs_camera *c = cs_camera_set_camera(set, 0);
    CHECK(c->model == CS_CAMERA_OPENCV && c->width == 1080 && c->height == 1920);
    CHECK(c->fx == 1375.52f && c->fy == 1374.49f && c->cx == 554.558f && c->cy == 965.268f);
    CHECK(c->dist[0] == 0.0578421f && c->dist[1] == -0.0805099f);
    CHECK(c->dist[2] == -0.000980296f && c->dist[3] == 0.00015575f && c->dist[4] == 0);
    CHECK(strcmp(cs_camera_set_name(set, 0), "0001.jpg") == 0);
    CHECK(strcmp(cs_camera_set_name(set, 4), "0006.jpg") == 0); /* 0005 is missing */
    /* First frame's centre as the file states it (column 3 of the c2w). */
    float ctr[3];
    cs_camera_center(c, ctr);
    CHECK_NEAR(ctr[0], 3.168359405609479, 1e-5);
    CHECK_NEAR(ctr[1], -5.4794898611466945, 1e-5);
    CHECK_NEAR(ctr[2], -0.9791660699008925, 1e-5);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(transforms_real_dnerf_time) {
    const char *p = test_data("dnerf_lego/transforms_train.json");
    if (!p) SKIP("../shared/data/dnerf_lego absent");
    cs_context *ctx = test_context(1);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, p, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_count(set) == 50);
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_TRANSFORMS_BLENDER);
    float prev = -1;
    for (int64_t i = 0; i < cs_camera_set_count(set); i++) {
        float t = cs_camera_set_camera(set, i)->time;
        CHECK_MSG(t > prev && t >= 0 && t <= 1, "frame %lld time %g", (long long)i, (double)t);
        prev = t;
    }
    CHECK(cs_camera_set_camera(set, 0)->time == 0.0f);
    CHECK(cs_camera_set_camera(set, 49)->time == 1.0f);
    CHECK_NEAR(cs_camera_set_camera(set, 1)->time, 0.020202020202020204, 1e-7);
    CHECK(cs_camera_set_camera(set, 0)->width == 800);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(transforms_reports_allocation_failure) {
    cs_context *ctx = test_context(1);
    mkdir(test_tmp("alloc"), 0700);
    mkdir(test_tmp("alloc/train"), 0700);
    write_png_header(test_tmp("alloc/train/r_0.png"), 8, 6);
    char *path = tmp_path("alloc/transforms.json");
    write_text(path, blender_json); /* r_1 is missing: also exercises the skip path */
    int nomem = 0;
    for (long n = 1; n < 100; n++) {
        cs_camera_set *set;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_camera_set_load(ctx, path, &set);
        cs__test_fail_alloc_after(0);
        CHECK_MSG(st == CS_OK || (st == CS_ERR_NOMEM && set == NULL), "allocation %ld: %s: %s", n,
                  cs_status_string(st), cs_context_last_error(ctx));
        nomem += st == CS_ERR_NOMEM;
        if (st == CS_OK) CHECK(cs_camera_set_count(set) == 1);
        cs_camera_set_destroy(set);
        if (st == CS_OK) break; /* past the last allocation */
    }
    CHECK(nomem >= 5); /* file, folder name, set, arrays, candidate paths, name */
    free(path);
    cs_context_destroy(ctx);
}
