/*
 * test_io_splat.c - the .splat codec: hand-built records decoded to known parameters, hand-
 * computed encodings (rounding, clamps, identity for a zero quaternion), importance order,
 * round trip within the quantization steps, bad lengths, degree > 0 dropped with a warning,
 * allocation failures.
 */
#include "formats.h"
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_record(unsigned char *r, const float pos[3], const float scale[3],
                       const unsigned char rgba[4], const unsigned char rot[4]) {
    for (int a = 0; a < 3; a++) {
        cs__wr_f32le(r + 4 * a, pos[a]);
        cs__wr_f32le(r + 12 + 4 * a, scale[a]);
    }
    memcpy(r + 24, rgba, 4);
    memcpy(r + 28, rot, 4);
}

TEST(splat_records_decode_to_known_parameters) {
    cs_context *ctx = test_context(1);
    unsigned char data[64];
    put_record(data, (const float[3]){1.0f, -2.0f, 3.5f}, (const float[3]){0.5f, 1.0f, 2.0f},
               (const unsigned char[4]){255, 0, 128, 128},
               (const unsigned char[4]){255, 128, 0, 192});
    put_record(data + 32, (const float[3]){0, 0, 0}, (const float[3]){1, 1, 1},
               (const unsigned char[4]){0, 0, 0, 0}, (const unsigned char[4]){128, 128, 128, 255});
    data[32 + 27] = 0;
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs__codec_splat.parse(ctx, "two.splat", data, sizeof data, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        const double c0 = 0.28209479177387814;
        CHECK(p.count == 2 && p.sh_degree == 0);
        CHECK(p.means[0] == 1.0f && p.means[1] == -2.0f && p.means[2] == 3.5f);
        CHECK_NEAR(p.log_scales[0], log(0.5), 1e-7);
        CHECK(p.log_scales[1] == 0.0f);
        CHECK_NEAR(p.log_scales[2], log(2.0), 1e-7);
        CHECK_NEAR(p.sh[0], 0.5 / c0, 1e-6);  /* 255 -> 1.0 */
        CHECK_NEAR(p.sh[1], -0.5 / c0, 1e-6); /* 0 -> 0.0 */
        CHECK_NEAR(p.sh[2], (128.0 / 255.0 - 0.5) / c0, 1e-6);
        CHECK_NEAR(p.opacities[0], log(128.0 / 127.0), 1e-6); /* logit(128/255) */
        CHECK(p.quats[0] == 127.0f / 128.0f && p.quats[1] == 0.0f);
        CHECK(p.quats[2] == -1.0f && p.quats[3] == 0.5f);
        /* Alpha 0 clamps to 0.25/255 (a finite logit); 255 to 1 - 0.25/255. */
        CHECK_NEAR(p.opacities[1], log(0.25 / 254.75), 1e-5);
        CHECK(p.quats[7] == 127.0f / 128.0f);
    }
    cs_scene_destroy(s);
    data[27] = 255;
    CHECK_OK(ctx, cs__codec_splat.parse(ctx, "two.splat", data, sizeof data, &s));
    if (s) CHECK_NEAR(cs_scene_get_params(s).opacities[0], log(254.75 / 0.25), 1e-5);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

/* Save a scene as .splat and read the bytes back. */
static unsigned char *save_splat(cs_context *ctx, cs_scene *s, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp(name));
    if (cs_scene_save(ctx, s, path) != CS_OK) return NULL;
    return test_read_file(path, len);
}

TEST(splat_encoding_hand_computed) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 2, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    /* Gaussian 0: f_dc 0 gives (0.5) * 255 = 127.5, a tie rounded to even 128; opacity 0 the
     * same; f_dc 10 clamps to 255, -10 to 0; quaternion (2, 0, 0, 0) normalises to 1 -> 256,
     * clamped to 255. It is the larger one (log-scales 1), so it is written first. */
    p.log_scales[0] = p.log_scales[1] = p.log_scales[2] = 1.0f;
    p.sh[0] = 0.0f;
    p.sh[1] = 10.0f;
    p.sh[2] = -10.0f;
    p.quats[0] = 2.0f;
    p.means[0] = 7.0f;
    /* Gaussian 1: a zero quaternion is written as the identity; NaN colour as 0; opacity -2
     * gives 255 * sigmoid(-2) = 30.40 -> 30; quaternion components of 0.6 and -0.8 (norm 1)
     * give 204.8 -> 205 and 25.6 -> 26. Written second, its own quaternion is tested by a
     * third save below. */
    p.quats[4] = 0.0f;
    p.sh[3] = NAN;
    p.opacities[1] = -2.0f;
    size_t len = 0;
    unsigned char *b = save_splat(ctx, s, "enc.splat", &len);
    CHECK(b && len == 64);
    if (b && len == 64) {
        CHECK(cs__rd_f32le(b) == 7.0f);
        CHECK(cs__rd_f32le(b + 12) == (float)exp(1.0));
        CHECK(b[24] == 128 && b[25] == 255 && b[26] == 0 && b[27] == 128);
        CHECK(b[28] == 255 && b[29] == 128 && b[30] == 128 && b[31] == 128);
        CHECK(cs__rd_f32le(b + 32 + 12) == 1.0f);
        CHECK(b[32 + 24] == 0 && b[32 + 27] == 30);
        CHECK(b[32 + 28] == 255 && b[32 + 29] == 128 && b[32 + 30] == 128 && b[32 + 31] == 128);
    }
    free(b);
    p.quats[4] = 0.6f;
    p.quats[5] = -0.8f;
    b = save_splat(ctx, s, "enc.splat", &len);
    CHECK(b && len == 64 && b[32 + 28] == 205 && b[32 + 29] == 26);
    free(b);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

static double importance(const cs_scene_params *p, int i) {
    const float *s = p->log_scales + 3 * i;
    return exp((double)s[0] + (double)s[1] + (double)s[2]) / (1 + exp(-(double)p->opacities[i]));
}

TEST(splat_written_in_importance_order) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 5, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    /* Importance: #0 small, #1 NaN (last), #2 large, #3 = #4 (tie: scene order), both middle. */
    float log_scale[5] = {-3.0f, 0.0f, 1.0f, -1.0f, -1.0f};
    float opacity[5] = {0.0f, NAN, 0.0f, 2.0f, 2.0f};
    for (int i = 0; i < 5; i++) {
        p.means[3 * i] = (float)i;
        p.log_scales[3 * i] = log_scale[i];
        p.opacities[i] = opacity[i];
    }
    size_t len = 0;
    unsigned char *b = save_splat(ctx, s, "order.splat", &len);
    int want[5] = {2, 3, 4, 0, 1};
    CHECK(b && len == 5 * 32);
    for (int j = 0; b && len == 5 * 32 && j < 5; j++)
        CHECK_MSG(cs__rd_f32le(b + 32 * j) == (float)want[j], "record %d is Gaussian %g", j,
                  (double)cs__rd_f32le(b + 32 * j));
    free(b);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

typedef struct order_item {
    double key;
    int index;
} order_item;

static int cmp_desc(const void *a, const void *b) {
    const order_item *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->index - y->index;
}

TEST(splat_round_trip_within_quantization) {
    cs_context *ctx = test_context(1);
    enum { N = 500 };
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, N, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    test_rng r = test_rng_seed(7);
    for (int i = 0; i < N; i++) {
        for (int a = 0; a < 3; a++) {
            p.means[3 * i + a] = (float)(10 * test_rng_normal(&r));
            p.log_scales[3 * i + a] = (float)(test_rng_normal(&r) - 4);
            p.sh[3 * i + a] = (float)(2 * test_rng_normal(&r));
        }
        for (int a = 0; a < 4; a++) p.quats[4 * i + a] = (float)test_rng_normal(&r);
        p.opacities[i] = (float)(3 * test_rng_normal(&r));
    }
    /* The expected record order, computed here independently. */
    order_item order[N];
    for (int i = 0; i < N; i++) order[i] = (order_item){importance(&p, i), i};
    qsort(order, N, sizeof *order, cmp_desc);

    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("round.splat"));
    CHECK_OK(ctx, cs_scene_save(ctx, s, path));
    size_t len = 0;
    free(test_read_file(path, &len));
    CHECK(len == 32 * N);
    cs_scene *t = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, path, &t));
    if (t) {
        cs_scene_params q = cs_scene_get_params(t);
        CHECK(q.count == N && q.sh_degree == 0 && cs_scene_source_format(t) == CS_FORMAT_SPLAT);
        double max_colour = 0, max_alpha = 0, max_rot = 0, max_scale = 0;
        const double c0 = 0.28209479177387814;
        for (int j = 0; j < N && q.count == N; j++) {
            int i = order[j].index;
            for (int a = 0; a < 3; a++) {
                CHECK(q.means[3 * j + a] == p.means[3 * i + a]);
                double s0 = exp((double)p.log_scales[3 * i + a]);
                double s1 = exp((double)q.log_scales[3 * j + a]);
                max_scale = fmax(max_scale, fabs(s1 - s0) / s0);
                double c = fmin(1, fmax(0, 0.5 + c0 * (double)p.sh[3 * i + a]));
                max_colour = fmax(max_colour, fabs(0.5 + c0 * (double)q.sh[3 * j + a] - c));
            }
            double a0 = 1 / (1 + exp(-(double)p.opacities[i]));
            double a1 = 1 / (1 + exp(-(double)q.opacities[j]));
            max_alpha = fmax(max_alpha, fabs(a1 - a0));
            const float *q0 = p.quats + 4 * i, *q1 = q.quats + 4 * j;
            double norm = sqrt((double)q0[0] * (double)q0[0] + (double)q0[1] * (double)q0[1] +
                               (double)q0[2] * (double)q0[2] + (double)q0[3] * (double)q0[3]);
            double same = 0, flipped = 0;
            for (int a = 0; a < 4; a++) {
                same = fmax(same, fabs((double)q1[a] - (double)q0[a] / norm));
                flipped = fmax(flipped, fabs((double)q1[a] + (double)q0[a] / norm));
            }
            max_rot = fmax(max_rot, fmin(same, flipped));
        }
        test_note("max errors: scale %.2g (relative), colour %.4f, alpha %.4f, rotation %.4f",
                  max_scale, max_colour, max_alpha, max_rot);
        CHECK(max_scale <= 1e-6);
        CHECK(max_colour <= 0.5 / 255 + 1e-6); /* rounded to nearest */
        CHECK(max_alpha <= 0.5 / 255 + 1e-6);
        CHECK(max_rot <= 1.0 / 128 + 1e-6);
    }
    cs_scene_destroy(t);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(splat_bad_length_and_empty_file) {
    cs_context *ctx = test_context(1);
    unsigned char data[65] = {0};
    cs_scene *s = NULL;
    CHECK(cs__codec_splat.parse(ctx, "odd.splat", data, 33, &s) == CS_ERR_FORMAT && !s);
    CHECK(strstr(cs_context_last_error(ctx),
                 "odd.splat: length 33 is not a multiple of the 32-byte .splat record"));
    CHECK(cs__codec_splat.parse(ctx, "odd.splat", data, 65, &s) == CS_ERR_FORMAT && !s);
    CHECK_OK(ctx, cs__codec_splat.parse(ctx, "empty.splat", data, 0, &s));
    CHECK(s && cs_scene_count(s) == 0);
    cs_scene_destroy(s);
    /* Through the file API: 3 records -> 3 Gaussians; a truncated copy fails naming the file. */
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("three.splat"));
    unsigned char three[96] = {0};
    CHECK(test_write_file(path, three, sizeof three));
    CHECK_OK(ctx, cs_scene_load(ctx, path, &s));
    CHECK(s && cs_scene_count(s) == 3);
    cs_scene_destroy(s);
    CHECK(test_write_file(path, three, 95));
    CHECK(cs_scene_load(ctx, path, &s) == CS_ERR_FORMAT && s == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "three.splat: length 95") != NULL);
    cs_context_destroy(ctx);
}

static void collect_log(void *user, cs_log_level level, const char *message) {
    if (level == CS_LOG_WARN) snprintf(user, 512, "%s", message);
}

TEST(splat_higher_degree_dropped_with_warning) {
    char warning[512] = "";
    cs_context *ctx;
    cs_context_desc desc = {.threads = 1, .log = collect_log, .log_user = warning};
    CHECK_OK(NULL, cs_context_create(&desc, &ctx));
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 1, 3, &s));
    cs_scene_params p = cs_scene_get_params(s);
    p.sh[0] = 1.0f; /* f_dc red: 0.5 + C0 = 0.782 -> 199.4 -> 199 */
    p.sh[5] = 3.0f; /* degree-1 blue: dropped */
    size_t len = 0;
    unsigned char *b = save_splat(ctx, s, "deg3.splat", &len);
    CHECK(b && len == 32 && b[24] == 199 && b[26] == 128);
    CHECK(strstr(warning, "deg3.splat: .splat holds SH degree 0 only") != NULL);
    free(b);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(splat_allocation_failures_return_nomem) {
    cs_context *ctx = test_context(1);
    unsigned char data[32 * 4] = {0};
    int injected = 0;
    for (long k = 1; k < 10; k++) {
        cs_scene *s = NULL;
        cs__test_fail_alloc_after(k);
        cs_status st = cs__codec_splat.parse(ctx, "a.splat", data, sizeof data, &s);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) {
            CHECK(cs_scene_count(s) == 4);
            cs_scene_destroy(s);
            break;
        }
        injected++;
        CHECK(st == CS_ERR_NOMEM && s == NULL);
        CHECK(strstr(cs_context_last_error(ctx), "a.splat") != NULL);
    }
    CHECK(injected == 2); /* scene struct, parameter block */
    cs_context_destroy(ctx);
}
