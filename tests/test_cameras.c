/*
 * test_cameras.c - the camera-set object and its accessors, camera centres, Inria cameras.json
 * (a file written the way the reference 3DGS code writes it, round trip, optional cx/cy, wrong
 * types), the PNG/JPEG header probe, load dispatch errors and allocation-failure handling.
 */
#include "camera.h"
#include "test.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TEST(camera_set_accessors) {
    cs_context *ctx = test_context(1);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_create(ctx, &set));
    CHECK(cs_camera_set_count(set) == 0 && cs_camera_set_source(set) == CS_CAMERAS_MEMORY);
    cs_camera cam = {.R = {1, 0, 0, 0, 1, 0, 0, 0, 1}, .t = {1, 2, 3}, .fx = 10, .width = 4};
    for (int i = 0; i < 20; i++) { /* past the first growth */
        cam.fy = (float)i;
        CHECK_OK(ctx, cs_camera_set_add(set, &cam, i == 3 ? NULL : "img.png",
                                        i % 2 ? "dir/img.png" : NULL));
    }
    CHECK(cs_camera_set_count(set) == 20);
    CHECK(cs_camera_set_camera(set, 7)->fy == 7 && cs_camera_set_camera(set, 7)->t[2] == 3);
    CHECK(strcmp(cs_camera_set_name(set, 3), "") == 0);
    CHECK(strcmp(cs_camera_set_name(set, 4), "img.png") == 0);
    CHECK(cs_camera_set_image_path(set, 4) == NULL);
    CHECK(strcmp(cs_camera_set_image_path(set, 5), "dir/img.png") == 0);
    CHECK(cs_camera_set_camera(set, -1) == NULL && cs_camera_set_camera(set, 20) == NULL);
    CHECK(cs_camera_set_name(set, 20) == NULL && cs_camera_set_image_path(set, -1) == NULL);
    const float *xyz = (const float *)1;
    CHECK(cs_camera_set_points(set, &xyz, NULL) == 0 && xyz == NULL);
    cam.t[0] = 99; /* the set holds a copy */
    CHECK(cs_camera_set_camera(set, 0)->t[0] == 1);
    cs_camera_set_destroy(set);
    cs_camera_set_destroy(NULL);
    cs_context_destroy(ctx);
}

TEST(camera_center) {
    /* R = rotation of 90 degrees about z, c = (1, 2, 3): t = -R c. */
    cs_camera cam = {.R = {0, -1, 0, 1, 0, 0, 0, 0, 1}};
    const float c[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++)
        cam.t[i] = -(cam.R[3 * i] * c[0] + cam.R[3 * i + 1] * c[1] + cam.R[3 * i + 2] * c[2]);
    CHECK(cam.t[0] == 2 && cam.t[1] == -1 && cam.t[2] == -3);
    float out[3];
    cs_camera_center(&cam, out);
    CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3);
}

/* One camera exactly as graphdeco-inria's camera_to_JSON writes it: w2c R = rotation of 90 deg
 * about y, t = (1, 2, 3); position = -R^T t = (3, -2, -1); rotation = R^T by rows. */
static const char inria_json[] =
    "[{\"id\": 0, \"img_name\": \"00001\", \"width\": 100, \"height\": 80,"
    " \"position\": [3.0, -2.0, -1.0], \"rotation\": [[0.0, 0.0, -1.0], [0.0, 1.0, 0.0],"
    " [1.0, 0.0, 0.0]], \"fy\": 60.5, \"fx\": 50.25}]";

TEST(cameras_json_reads_the_reference_layout) {
    cs_context *ctx = test_context(1);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("cameras.json"));
    CHECK(test_write_file(path, inria_json, strlen(inria_json)));
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, path, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_INRIA_JSON && cs_camera_set_count(set) == 1);
    const cs_camera *c = cs_camera_set_camera(set, 0);
    const float R[9] = {0, 0, 1, 0, 1, 0, -1, 0, 0}, t[3] = {1, 2, 3};
    for (int i = 0; i < 9; i++) CHECK(c->R[i] == R[i]);
    for (int i = 0; i < 3; i++) CHECK(c->t[i] == t[i]);
    CHECK(c->fx == 50.25f && c->fy == 60.5f && c->width == 100 && c->height == 80);
    CHECK(c->cx == 50 && c->cy == 40); /* defaults: width/2, height/2 */
    CHECK(c->model == CS_CAMERA_PINHOLE && c->time == 0);
    CHECK(strcmp(cs_camera_set_name(set, 0), "00001") == 0);
    CHECK(cs_camera_set_image_path(set, 0) == NULL);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

/* A rotation from Euler angles (z, y, x), row-major. */
static void euler(double a, double b, double g, float R[9]) {
    double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cg = cos(g), sg = sin(g);
    double m[9] = {ca * cb,
                   ca * sb * sg - sa * cg,
                   ca * sb * cg + sa * sg,
                   sa * cb,
                   sa * sb * sg + ca * cg,
                   sa * sb * cg - ca * sg,
                   -sb,
                   cb * sg,
                   cb * cg};
    for (int i = 0; i < 9; i++) R[i] = (float)m[i];
}

TEST(cameras_json_round_trip) {
    cs_context *ctx = test_context(1);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_create(ctx, &set));
    test_rng rng = test_rng_seed(7);
    for (int i = 0; i < 6; i++) {
        cs_camera c = {.fx = 800 + (float)i,
                       .fy = 801,
                       .cx = 400.5f,
                       .cy = 299.25f,
                       .width = 800,
                       .height = 600};
        euler(6 * test_rng_uniform(&rng), 3 * test_rng_uniform(&rng) - 1.5,
              6 * test_rng_uniform(&rng), c.R);
        for (int k = 0; k < 3; k++) c.t[k] = (float)(10 * test_rng_normal(&rng));
        if (i == 2) {
            c.model = CS_CAMERA_OPENCV;
            const float d[5] = {0.1f, -0.02f, 0.001f, 0.002f, 0.003f};
            memcpy(c.dist, d, sizeof d);
            c.time = 0.375f;
        }
        if (i == 3) {
            c.model = CS_CAMERA_SIMPLE_RADIAL;
            c.dist[0] = -0.05f;
        }
        char name[32];
        snprintf(name, sizeof name, "view \"%d\".png", i); /* quotes must be escaped */
        CHECK_OK(ctx, cs_camera_set_add(set, &c, name, "ignored/path.png"));
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("round_trip.json"));
    CHECK_OK(ctx, cs_camera_set_save(ctx, set, path));
    cs_camera_set *back;
    CHECK_OK(ctx, cs_camera_set_load(ctx, path, &back));
    if (test_failures()) return;
    CHECK(cs_camera_set_count(back) == 6);
    double worst = 0;
    for (int64_t i = 0; i < 6; i++) {
        const cs_camera *a = cs_camera_set_camera(set, i), *b = cs_camera_set_camera(back, i);
        for (int k = 0; k < 9; k++) CHECK(a->R[k] == b->R[k]); /* rotation is exact */
        for (int k = 0; k < 3; k++)
            worst =
                fmax(worst, fabs((double)a->t[k] - (double)b->t[k]) / (1 + fabs((double)a->t[k])));
        CHECK(a->fx == b->fx && a->fy == b->fy && a->cx == b->cx && a->cy == b->cy);
        CHECK(a->width == b->width && a->height == b->height && a->model == b->model);
        CHECK(memcmp(a->dist, b->dist, sizeof a->dist) == 0 && a->time == b->time);
        CHECK(strcmp(cs_camera_set_name(set, i), cs_camera_set_name(back, i)) == 0);
    }
    CHECK_MSG(worst < 1e-6, "translation relative error %g", worst);
    /* The file follows the reference: position = camera centre, rotation rows = columns of R. */
    size_t len;
    unsigned char *text = test_read_file(path, &len);
    cJSON *root = text ? cJSON_Parse((const char *)text) : NULL;
    cJSON *first = cJSON_GetArrayItem(root, 0);
    const cJSON *pos = cJSON_GetObjectItem(first, "position");
    const cJSON *row1 = cJSON_GetArrayItem(cJSON_GetObjectItem(first, "rotation"), 1);
    float ctr[3];
    cs_camera_center(cs_camera_set_camera(set, 0), ctr);
    const cs_camera *c0 = cs_camera_set_camera(set, 0);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(cJSON_GetArrayItem(pos, k)->valuedouble, ctr[k], 1e-5);
        CHECK(cJSON_GetArrayItem(row1, k)->valuedouble == (double)c0->R[3 * k + 1]);
    }
    CHECK(cJSON_GetObjectItem(first, "id")->valuedouble == 0);
    CHECK(cJSON_GetObjectItem(first, "model") == NULL); /* extensions only when needed */
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 2), "distortion") != NULL);
    cJSON_Delete(root);
    free(text);
    cs_camera_set_destroy(back);
    /* Non-finite cameras and empty sets are refused; nothing is written. */
    cs_camera bad = *cs_camera_set_camera(set, 0);
    bad.t[1] = NAN;
    CHECK_OK(ctx, cs_camera_set_add(set, &bad, "nan", NULL));
    snprintf(path, sizeof path, "%s", test_tmp("refused.json"));
    CHECK(cs_camera_set_save(ctx, set, path) == CS_ERR_ARGUMENT);
    CHECK(strstr(cs_context_last_error(ctx), "camera 6") != NULL);
    CHECK(test_read_file(path, NULL) == NULL);
    cs_camera_set_destroy(set);
    CHECK_OK(ctx, cs_camera_set_create(ctx, &set));
    CHECK(cs_camera_set_save(ctx, set, path) == CS_ERR_ARGUMENT);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(cameras_json_wrong_types) {
    cs_context *ctx = test_context(1);
    static const struct {
        const char *from, *to, *expect;
    } cases[] = {
        {"[[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]", "\"rot\"", "rotation"},
        {"\"width\": 100", "\"width\": -100", "width"},
        {"\"width\": 100", "\"width\": 100.5", "width"},
        {", \"fx\": 50.25", "", "fx"},
        {"\"fy\": 60.5", "\"fy\": \"60.5\"", "fy"},
        {"[3.0, -2.0, -1.0]", "[3.0, -2.0]", "position"},
        {"\"00001\"", "1", "img_name"},
        {"[1.0, 0.0, 0.0]]", "[2.0, 0.0, 0.0]]", "not a rotation"},
        {"\"fx\": 50.25", "\"fx\": 50.25, \"cx\": null", "cx"},
        {"\"fx\": 50.25", "\"fx\": 50.25, \"model\": \"FISHEYE\"", "model"},
        {"\"fx\": 50.25", "\"fx\": 50.25, \"model\": \"OPENCV\", \"distortion\": [1]",
         "distortion"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[1024];
        const char *at = strstr(inria_json, cases[i].from);
        CHECK(at != NULL);
        if (!at) continue;
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - inria_json), inria_json, cases[i].to,
                 at + strlen(cases[i].from));
        cs_camera_set *set;
        cs_status st = cs__cameras_json_parse(ctx, "cams.json", text, strlen(text), &set);
        const char *msg = cs_context_last_error(ctx);
        CHECK_MSG(st == CS_ERR_FORMAT && set == NULL, "case %zu: %s", i, cs_status_string(st));
        CHECK_MSG(strstr(msg, "cams.json: camera 0") && strstr(msg, cases[i].expect),
                  "case %zu: message '%s'", i, msg);
    }
    cs_camera_set *set;
    CHECK(cs__cameras_json_parse(ctx, "c.json", "{}", 2, &set) == CS_ERR_FORMAT);
    CHECK(cs__cameras_json_parse(ctx, "c.json", "[]", 2, &set) == CS_ERR_FORMAT);
    CHECK(cs__cameras_json_parse(ctx, "c.json", "[{", 2, &set) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "c.json: invalid JSON") != NULL);
    /* With cx, cy present they are used. */
    const char *with_c = "[{\"img_name\": \"a\", \"width\": 10, \"height\": 8, \"position\": "
                         "[0,0,0], \"rotation\": [[1,0,0],[0,1,0],[0,0,1]], \"fx\": 5, \"fy\": "
                         "5, \"cx\": 4.5, \"cy\": 3.25}]";
    CHECK_OK(ctx, cs__cameras_json_parse(ctx, "c.json", with_c, strlen(with_c), &set));
    if (set) CHECK(cs_camera_set_camera(set, 0)->cx == 4.5f && set->cams[0].cy == 3.25f);
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(image_size_from_headers) {
    cs_context *ctx = test_context(1);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("hdr.img"));
    int w, h;
    /* PNG: signature, IHDR length 13, "IHDR", width 1080, height 1920 (big-endian). */
    const unsigned char png[26] = {0x89, 'P',  'N', 'G', '\r', '\n', 0x1A, '\n', 0,
                                   0,    0,    13,  'I', 'H',  'D',  'R',  0,    0,
                                   0x04, 0x38, 0,   0,   0x07, 0x80, 8,    6};
    CHECK(test_write_file(path, png, sizeof png));
    CHECK_OK(ctx, cs__image_size(ctx, path, &w, &h));
    CHECK(w == 1080 && h == 1920);
    /* JPEG: SOI, APP0 (16 bytes), a fill byte, then SOF2 (progressive): height 600, width 800. */
    unsigned char jpg[64] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16};
    memcpy(jpg + 6, "JFIF", 5);
    const unsigned char sof[] = {0xFF, 0xFF, 0xC2, 0, 17, 8, 0x02, 0x58, 0x03, 0x20, 3};
    memcpy(jpg + 20, sof, sizeof sof);
    CHECK(test_write_file(path, jpg, sizeof jpg));
    CHECK_OK(ctx, cs__image_size(ctx, path, &w, &h));
    CHECK(w == 800 && h == 600);
    /* A DHT segment (0xC4) is not a frame header; SOF0 after it is. */
    const unsigned char dht[] = {0xFF, 0xC4, 0, 4, 0, 0, 0xFF, 0xC0, 0, 17, 8, 0, 10, 0, 20, 1};
    memcpy(jpg + 20, dht, sizeof dht);
    CHECK(test_write_file(path, jpg, sizeof jpg));
    CHECK_OK(ctx, cs__image_size(ctx, path, &w, &h));
    CHECK(w == 20 && h == 10);
    /* Truncated before any frame header, not an image, missing. */
    CHECK(test_write_file(path, jpg, 19));
    CHECK(cs__image_size(ctx, path, &w, &h) == CS_ERR_FORMAT && w == 0);
    CHECK(strstr(cs_context_last_error(ctx), "hdr.img") != NULL);
    CHECK(test_write_file(path, png, 20));
    CHECK(cs__image_size(ctx, path, &w, &h) == CS_ERR_FORMAT);
    CHECK(test_write_file(path, "GIF89a", 6));
    CHECK(cs__image_size(ctx, path, &w, &h) == CS_ERR_FORMAT);
    CHECK(cs__image_size(ctx, test_tmp("absent.png"), &w, &h) == CS_ERR_NOT_FOUND);
    /* A real image when the shared data is there. */
    const char *real = test_data("instant_ngp_fox/images/0001.jpg");
    if (real) {
        CHECK_OK(ctx, cs__image_size(ctx, real, &w, &h));
        CHECK(w == 1080 && h == 1920);
    }
    cs_context_destroy(ctx);
}

TEST(camera_set_load_dispatch_errors) {
    cs_context *ctx = test_context(1);
    cs_camera_set *set = (cs_camera_set *)1;
    CHECK(cs_camera_set_load(ctx, test_tmp("no-such-thing"), &set) == CS_ERR_NOT_FOUND);
    CHECK(set == NULL && strstr(cs_context_last_error(ctx), "no-such-thing"));
    /* An empty folder names what it looked for. */
    mkdir(test_tmp("empty"), 0700);
    CHECK(cs_camera_set_load(ctx, test_tmp("empty"), &set) == CS_ERR_NOT_FOUND);
    CHECK(strstr(cs_context_last_error(ctx), "transforms.json") != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("garbage.json"));
    CHECK(test_write_file(path, "\xEF\xBB\xBF  hello", 10));
    CHECK(cs_camera_set_load(ctx, path, &set) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "garbage.json") != NULL);
    cs_context_destroy(ctx);
}

TEST(camera_loaders_report_allocation_failure) {
    cs_context *ctx = test_context(1);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("alloc.json"));
    CHECK(test_write_file(path, inria_json, strlen(inria_json)));
    int nomem = 0;
    for (long n = 1; n < 64; n++) {
        cs_camera_set *set;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_camera_set_load(ctx, path, &set);
        cs__test_fail_alloc_after(0);
        CHECK_MSG(st == CS_OK || (st == CS_ERR_NOMEM && set == NULL), "allocation %ld: %s", n,
                  cs_status_string(st));
        nomem += st == CS_ERR_NOMEM;
        cs_camera_set_destroy(set);
        if (st == CS_OK) break; /* past the last allocation */
    }
    CHECK(nomem >= 3); /* file buffer, set, camera arrays, name */
    cs_context_destroy(ctx);
}
