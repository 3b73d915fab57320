/*
 * test_image2d_io.c - the .gsi format and bad input for 2D Gaussian images: round trips within
 * the quantization step, idempotent re-encoding, every truncation and header corruption of a
 * file (clean errors, never a crash), allocation failures, render arguments, non-finite
 * parameters, and the `csplat image` command line (exit codes, files written).
 *
 * Version 2 is checked against a file assembled here byte by byte from docs/gsi.md (YCoCg-R
 * colour, one zstd frame per byte plane), and against version 1: the same model written both
 * ways (and as a hand-made v1 zstd file, which the writer no longer produces) decodes to the same
 * bits.
 *
 * Quantization is checked against the definition, computed here independently: per column,
 * lo/hi = min/max, step = (hi - lo) / (2^b - 1), and every decoded value within step/2 (plus
 * float rounding) of its original. Decoding reorders Gaussians (sorted by position), so each
 * decoded Gaussian is matched to the original nearest in position.
 */
#include "csplat.h"
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static cs_gimage *random_gimage(cs_context *ctx, int W, int H, int C, cs_gimage_rule rule, int n,
                                unsigned long long seed) {
    cs_gimage *g;
    CHECK_OK(ctx, cs_gimage_create(ctx, W, H, C, rule, n, &g));
    cs_gimage_params p = cs_gimage_get_params(g);
    test_rng r = test_rng_seed(seed);
    for (int i = 0; i < n; i++) {
        p.xy[2 * i] = (float)(W * test_rng_uniform(&r));
        p.xy[2 * i + 1] = (float)(H * test_rng_uniform(&r));
        p.chol[3 * i] = (float)(0.5 + 1.5 * test_rng_uniform(&r));
        p.chol[3 * i + 1] = (float)(2.0 * test_rng_normal(&r));
        p.chol[3 * i + 2] = (float)(0.5 + 1.5 * test_rng_uniform(&r));
        for (int c = 0; c < C; c++)
            p.colour[i * C + c] = (float)(-0.2 + 1.4 * test_rng_uniform(&r));
    }
    return g;
}

/* Column k of Gaussian i (x, y, c0, c1, c2, colours). */
static float column(const cs_gimage_params *p, int k, int64_t i) {
    if (k < 2) return p->xy[2 * i + k];
    if (k < 5) return p->chol[3 * i + k - 2];
    return p->colour[i * p->channels + k - 5];
}

/* The ranges a file stores: column k's lo and hi at 32 + 8 k (docs/gsi.md). */
static void file_ranges(const uint8_t *data, int cols, double *lo, double *hi) {
    for (int k = 0; k < cols; k++) {
        float v[2];
        memcpy(v, data + 32 + 8 * k, sizeof v);
        lo[k] = v[0];
        hi[k] = v[1];
    }
}

/* Every decoded value within half a step of the original nearest in position, the original
 * first clamped to the column's stored range (the writer may leave a few outliers outside it,
 * io_gsi.c best_range); returns the largest error in steps. */
static double check_round_trip(const cs_gimage_params *a, const cs_gimage_params *b,
                               const int bits[3], const uint8_t *file) {
    int cols = 5 + a->channels;
    double step[8], lo[8], hi[8], worst = 0.0;
    file_ranges(file, cols, lo, hi);
    for (int k = 0; k < cols; k++) {
        int bk = bits[k < 2 ? 0 : k < 5 ? 1 : 2];
        step[k] = bk == 32 ? 0.0 : (hi[k] - lo[k]) / (double)((1u << bk) - 1u);
    }
    CHECK(a->count == b->count);
    for (int64_t j = 0; j < b->count; j++) {
        /* the original closest in every column, measured in steps */
        int64_t best = -1;
        double bd = INFINITY;
        for (int64_t i = 0; i < a->count; i++) {
            double d = 0.0;
            for (int k = 0; k < cols; k++) {
                double v = (double)column(a, k, i);
                if (step[k] > 0.0) v = fmin(fmax(v, lo[k]), hi[k]);
                double e = v - (double)column(b, k, j);
                d += step[k] > 0.0 ? (e / step[k]) * (e / step[k]) : e * e * 1e12;
            }
            if (d < bd) {
                bd = d;
                best = i;
            }
        }
        for (int k = 0; k < cols; k++) {
            double v = (double)column(a, k, best);
            if (step[k] > 0.0) v = fmin(fmax(v, lo[k]), hi[k]);
            double e = fabs(v - (double)column(b, k, j));
            double tol = step[k] * 0.5 + 1e-5 * (1.0 + fabs(v));
            if (step[k] == 0.0) tol = 0.0; /* float: exact */
            if (e > tol) {
                test_fail(__FILE__, __LINE__, "Gaussian %lld column %d: error %g > %g",
                          (long long)j, k, e, tol);
                return INFINITY;
            }
            if (step[k] > 0.0) worst = fmax(worst, e / step[k]);
        }
    }
    return worst;
}

TEST(gsi_round_trip_within_quantization_step) {
    cs_context *ctx = test_context(2);
    struct {
        int C;
        cs_gimage_rule rule;
        cs_gsi_options opt;
    } cases[] = {
        {3, CS_GIMAGE_TOPK, {0}},
        {3, CS_GIMAGE_SUM, {.bits_position = 16, .bits_cholesky = 16, .bits_colour = 16}},
        {1, CS_GIMAGE_TOPK, {.bits_position = 5, .bits_cholesky = 2, .bits_colour = 1}},
        {3, CS_GIMAGE_TOPK, {.quality = CS_GSI_LOW, .no_zstd = 1}},
        {1, CS_GIMAGE_SUM, {.quality = CS_GSI_LOSSLESS}},
        {3, CS_GIMAGE_TOPK, {.bits_position = 32, .bits_cholesky = 9, .bits_colour = 32}},
    };
    for (int t = 0; t < (int)(sizeof cases / sizeof *cases); t++) {
        cs_gimage *g = random_gimage(ctx, 200, 120, cases[t].C, cases[t].rule, 300, 40 + t);
        int bits[3];
        CHECK_OK(ctx, cs_gsi_options_bits(ctx, &cases[t].opt, 200, 120, bits));
        uint8_t *data, *again;
        size_t len, len2;
        CHECK_OK(ctx, cs_gimage_encode(ctx, g, &cases[t].opt, &data, &len));
        cs_gimage *d;
        CHECK_OK(ctx, cs_gimage_decode(ctx, data, len, &d));
        cs_gimage_params pa = cs_gimage_get_params(g), pb = cs_gimage_get_params(d);
        double worst = check_round_trip(&pa, &pb, bits, data);
        cs_gimage_info info;
        cs_gimage_get_info(d, &info);
        CHECK(info.width == 200 && info.height == 120 && info.channels == cases[t].C);
        CHECK(info.rule == cases[t].rule && info.count == 300);
        CHECK(info.bits_position == bits[0] && info.bits_cholesky == bits[1] &&
              info.bits_colour == bits[2]);
        CHECK(info.zstd == !cases[t].opt.no_zstd && info.file_bytes == (int64_t)len);
        CHECK_NEAR(info.bits_per_pixel, len * 8.0 / (200 * 120), 1e-12);
        /* Re-encoding what was decoded reproduces the bytes (the grid is kept). */
        CHECK_OK(ctx, cs_gimage_encode(ctx, d, &cases[t].opt, &again, &len2));
        CHECK_MSG(len2 == len && memcmp(again, data, len) == 0, "case %d: re-encode differs", t);
        test_note("case %d: bits %d,%d,%d zstd %d: %zu bytes, worst error %.3f step", t, bits[0],
                  bits[1], bits[2], info.zstd, len, worst);
        cs_gimage_buffer_free(data);
        cs_gimage_buffer_free(again);
        cs_gimage_destroy(d);
        cs_gimage_destroy(g);
    }
    /* The medium preset's position depth follows the image: 1/4 pixel. */
    int bits[3];
    CHECK_OK(ctx, cs_gsi_options_bits(ctx, NULL, 768, 512, bits));
    CHECK(bits[0] == 12 && bits[1] == 7 && bits[2] == 6);
    CHECK_OK(ctx, cs_gsi_options_bits(ctx, NULL, 1, 1, bits));
    CHECK(bits[0] == 3);
    cs_gsi_options bad = {.bits_colour = 17};
    CHECK(cs_gsi_options_bits(ctx, &bad, 10, 10, bits) == CS_ERR_ARGUMENT);
    cs_context_destroy(ctx);
}

/* Squared error of quantizing sorted-or-not values v[n] to b bits over [lo, hi]: clamping
 * distance squared outside, step^2 / 12 inside (the writer's criterion, io_gsi.c best_range). */
static double range_cost(const float *v, int n, int b, double lo, double hi) {
    double step = (hi - lo) / (double)((1u << b) - 1u), cost = 0.0;
    for (int i = 0; i < n; i++) {
        double x = v[i];
        cost += x < lo ? (lo - x) * (lo - x) : x > hi ? (x - hi) * (x - hi) : step * step / 12.0;
    }
    return cost;
}

/* A column whose extremes stand a little apart from the rest is stored over a range inside its
 * min/max whose quantization error is lower; the clamped values round-trip to the range's ends.
 * (The criterion trims only thin tails: a value far out costs its squared distance.) */
TEST(gsi_range_trims_thin_tails) {
    cs_context *ctx = test_context(1);
    cs_gimage *g = random_gimage(ctx, 200, 120, 3, CS_GIMAGE_TOPK, 1000, 77);
    cs_gimage_params p = cs_gimage_get_params(g);
    test_rng r = test_rng_seed(78);
    float c1[1000], mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < 1000; i++) {
        /* uniform in [0, 1], two values 0.004 beyond its ends */
        c1[i] = p.chol[3 * i + 1] = i == 3   ? -0.004f
                                    : i == 7 ? 1.004f
                                             : (float)test_rng_uniform(&r);
        mn = fminf(mn, c1[i]);
        mx = fmaxf(mx, c1[i]);
    }
    int bits[3];
    CHECK_OK(ctx, cs_gsi_options_bits(ctx, NULL, 200, 120, bits));
    uint8_t *data;
    size_t len;
    CHECK_OK(ctx, cs_gimage_encode(ctx, g, NULL, &data, &len));
    double lo[8], hi[8];
    file_ranges(data, 8, lo, hi);
    double cost = range_cost(c1, 1000, bits[1], lo[3], hi[3]);
    double cost_minmax = range_cost(c1, 1000, bits[1], mn, mx);
    test_note("c1 in %.4f .. %.4f stored over %.4f .. %.4f: squared error %.4g (min/max %.4g)",
              (double)mn, (double)mx, lo[3], hi[3], cost, cost_minmax);
    CHECK(lo[3] > (double)mn && hi[3] < (double)mx && cost < cost_minmax);
    cs_gimage *d;
    CHECK_OK(ctx, cs_gimage_decode(ctx, data, len, &d));
    cs_gimage_params pd = cs_gimage_get_params(d);
    check_round_trip(&p, &pd, bits, data);
    cs_gimage_buffer_free(data);
    cs_gimage_destroy(d);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

TEST(gsi_save_load_file_and_empty_image) {
    cs_context *ctx = test_context(1);
    cs_gimage *g = random_gimage(ctx, 50, 40, 3, CS_GIMAGE_TOPK, 0, 1), *d;
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("empty.gsi"));
    CHECK_OK(ctx, cs_gimage_save(ctx, g, path, NULL));
    CHECK_OK(ctx, cs_gimage_load(ctx, path, &d));
    CHECK(cs_gimage_get_params(d).count == 0);
    cs_image img;
    CHECK_OK(ctx, cs_gimage_render(ctx, d, NULL, &img));
    CHECK(img.width == 50 && img.height == 40 && img.data[0] == 0.0f);
    cs_image_free(&img);
    cs_gimage_destroy(d);
    CHECK(cs_gimage_load(ctx, test_tmp("missing.gsi"), &d) == CS_ERR_IO && d == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "missing.gsi") != NULL);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

/* Every truncation and every single-byte header change: a clean result, never a crash. */
TEST(gsi_corrupt_files_are_clean_errors) {
    cs_context *ctx = test_context(1);
    cs_gimage *g = random_gimage(ctx, 64, 48, 3, CS_GIMAGE_TOPK, 40, 7), *d;
    for (int z = 0; z < 2; z++) {
        cs_gsi_options opt = {.no_zstd = !z};
        uint8_t *data;
        size_t len;
        CHECK_OK(ctx, cs_gimage_encode(ctx, g, &opt, &data, &len));
        int failures = 0;
        for (size_t cut = 0; cut < len; cut++) {
            d = NULL;
            cs_status st = cs_gimage_decode(ctx, data, cut, &d);
            failures += st != CS_OK;
            CHECK_MSG(st == CS_ERR_FORMAT || st == CS_ERR_UNSUPPORTED,
                      "zstd %d, %zu of %zu bytes: %s", z, cut, len, cs_status_string(st));
            CHECK(d == NULL && cs_context_last_error(ctx)[0] != 0);
        }
        CHECK(failures == (int)len);
        /* Flip bits of each header and range byte: success with other values or a clean error. */
        size_t head = 32 + 8 * 8;
        int ok = 0, bad = 0;
        for (size_t i = 0; i < head; i++)
            for (int bit = 0; bit < 8; bit++) {
                uint8_t *copy = malloc(len);
                memcpy(copy, data, len);
                copy[i] ^= (uint8_t)(1u << bit);
                d = NULL;
                cs_status st = cs_gimage_decode(ctx, copy, len, &d);
                if (st == CS_OK) {
                    ok++;
                    cs_image img; /* whatever it decodes to renders without trouble */
                    CHECK_OK(ctx, cs_gimage_render(
                                      ctx, d, &(cs_gimage_render_desc){.width = 17, .height = 13},
                                      &img));
                    cs_image_free(&img);
                    cs_gimage_destroy(d);
                } else {
                    bad++;
                    CHECK(d == NULL &&
                          (st == CS_ERR_FORMAT || st == CS_ERR_UNSUPPORTED || st == CS_ERR_NOMEM));
                }
                free(copy);
            }
        test_note("zstd %d: %zu truncations rejected; header bit flips: %d decode, %d rejected", z,
                  len, ok, bad);
        CHECK(bad > 0 && ok > 0);
        cs_gimage_buffer_free(data);
    }
    /* Specific faults, each with its message. */
    uint8_t *data;
    size_t len;
    cs_gsi_options raw = {.no_zstd = 1, .bits_position = 12, .bits_cholesky = 6, .bits_colour = 6};
    CHECK_OK(ctx, cs_gimage_encode(ctx, g, &raw, &data, &len));
    struct {
        size_t at;
        uint8_t value;
        const char *message;
    } faults[] = {
        {0, 'X', "not a .gsi"},
        {4, 3, "version"},
        {6, 7, "rule"},
        {7, 2, "channels"},
        {22, 17, "bit depth"},
        {23, 4, "flags"},
        {24, 3, "top-K"},
        {25, 1, "reserved"},
        {31, 1, "payload"},
        {35, 0x7f, "range"}, /* x lo with exponent bits set: inf or nan */
        {32 + 8 * 8 + 40 * 2 + 40 + 39, 0xff, "exceeds"}, /* x plane high byte: > 12 bits */
    };
    for (int t = 0; t < (int)(sizeof faults / sizeof *faults); t++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, data, len);
        copy[faults[t].at] = faults[t].value;
        if (faults[t].at == 35) copy[34] = 0xff;
        d = NULL;
        cs_status st = cs_gimage_decode(ctx, copy, len, &d);
        CHECK_MSG(st != CS_OK && strstr(cs_context_last_error(ctx), faults[t].message),
                  "fault %d: %s: %s", t, cs_status_string(st), cs_context_last_error(ctx));
        free(copy);
    }
    cs_gimage_buffer_free(data);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

/* A version-2 file of one RGB Gaussian, built from the spec: 8-bit positions, 4-bit Cholesky and
 * colour, every range [0, 2^b - 1] so a stored integer q decodes to q. Planes (one byte each):
 * y, x, c0, c1, c2, Y, Co + 15, Cg + 15. */
static size_t build_v2(uint8_t *file, const uint8_t planes[8]) {
    memset(file, 0, 32);
    memcpy(file, "GSI", 4);
    file[4] = 2;                          /* version */
    file[7] = 3;                          /* RGB, rule 0 (top-K) */
    file[8] = 4, file[12] = 4, file[16] = 1; /* 4x4, one Gaussian */
    file[20] = 8, file[21] = 4, file[22] = 4;
    file[23] = 1;  /* zstd */
    file[24] = 10; /* K */
    const float hi[8] = {255.0f, 255.0f, 15.0f, 15.0f, 15.0f, 15.0f, 15.0f, 15.0f};
    for (int k = 0; k < 8; k++) {
        memset(file + 32 + 8 * k, 0, 4);
        memcpy(file + 36 + 8 * k, &hi[k], 4); /* little-endian hosts (x86-64, arm64) */
    }
    size_t at = 96;
    for (int pl = 0; pl < 8; pl++) {
        size_t z = ZSTD_compress(file + at + 4, 64, planes + pl, 1, 3);
        CHECK(!ZSTD_isError(z));
        for (int i = 0; i < 4; i++) file[at + i] = (uint8_t)(z >> (8 * i));
        at += 4 + z;
    }
    uint32_t payload = (uint32_t)(at - 96);
    for (int i = 0; i < 4; i++) file[28 + i] = (uint8_t)(payload >> (8 * i));
    return at;
}

TEST(gsi_v2_hand_built_file_and_v1_equivalence) {
    cs_context *ctx = test_context(1);
    /* r, g, b = 10, 7, 4: Co = 6, t = 4 + 3 = 7, Cg = 0, Y = 7 */
    uint8_t file[1024], planes[8] = {3, 2, 1, 2, 3, 7, 6 + 15, 0 + 15};
    size_t len = build_v2(file, planes);
    cs_gimage *d = NULL;
    CHECK_OK(ctx, cs_gimage_decode(ctx, file, len, &d));
    if (d) {
        cs_gimage_params p = cs_gimage_get_params(d);
        const float want[8] = {2, 3, 1, 2, 3, 10, 7, 4};
        float got[8] = {p.xy[0], p.xy[1], p.chol[0], p.chol[1], p.chol[2],
                        p.colour[0], p.colour[1], p.colour[2]};
        for (int k = 0; k < 8; k++) CHECK_MSG(got[k] == want[k], "column %d: %g", k, (double)got[k]);
        cs_gimage_destroy(d);
    }
    /* Y, Co, Cg = 15, 15, 15 inverts to g = 23: beyond 4 bits */
    planes[5] = 15, planes[6] = 30, planes[7] = 30;
    len = build_v2(file, planes);
    d = NULL;
    CHECK(cs_gimage_decode(ctx, file, len, &d) == CS_ERR_FORMAT && d == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "colour") != NULL);
    /* version 2 without the zstd flag, and a plane size beyond the file */
    planes[5] = 7, planes[6] = 21, planes[7] = 15;
    len = build_v2(file, planes);
    file[23] = 0;
    CHECK(cs_gimage_decode(ctx, file, len, &d) == CS_ERR_FORMAT);
    file[23] = 1;
    file[96] = 200;
    CHECK(cs_gimage_decode(ctx, file, len, &d) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "truncated") != NULL);

    /* The same model as v2 (default), v1 raw and a hand-made v1 zstd file: the same bits. The
     * colours are near-gray, as in fitted photos, where YCoCg pays and the writer picks v2. */
    cs_gimage *g = random_gimage(ctx, 96, 64, 3, CS_GIMAGE_TOPK, 300, 11), *a, *b, *c;
    cs_gimage_params pg = cs_gimage_get_params(g);
    for (int i = 0; i < 300; i++)
        for (int ch = 1; ch < 3; ch++)
            pg.colour[3 * i + ch] = pg.colour[3 * i] + 0.02f * (float)((i * (ch + 3)) % 5);
    uint8_t *v2, *v1;
    size_t n2, n1;
    CHECK_OK(ctx, cs_gimage_encode(ctx, g, NULL, &v2, &n2));
    CHECK_OK(ctx, cs_gimage_encode(ctx, g, &(cs_gsi_options){.no_zstd = 1}, &v1, &n1));
    CHECK(v2[4] == 2 && v1[4] == 1);
    size_t head = 32 + 8 * 8, bound = ZSTD_compressBound(n1 - head);
    uint8_t *v1z = malloc(head + bound);
    memcpy(v1z, v1, head);
    size_t z = ZSTD_compress(v1z + head, bound, v1 + head, n1 - head, 19);
    CHECK(!ZSTD_isError(z));
    v1z[23] = 1;
    for (int i = 0; i < 4; i++) v1z[28 + i] = (uint8_t)(z >> (8 * i));
    CHECK_OK(ctx, cs_gimage_decode(ctx, v2, n2, &a));
    CHECK_OK(ctx, cs_gimage_decode(ctx, v1, n1, &b));
    CHECK_OK(ctx, cs_gimage_decode(ctx, v1z, head + z, &c));
    cs_gimage_params pa = cs_gimage_get_params(a), pb = cs_gimage_get_params(b),
                     pc = cs_gimage_get_params(c);
    size_t floats = 300 * 8;
    CHECK(memcmp(pa.xy, pb.xy, floats * sizeof(float)) == 0); /* the whole block */
    CHECK(memcmp(pa.xy, pc.xy, floats * sizeof(float)) == 0);
    test_note("300 random Gaussians: v1 zstd %zu bytes, v2 %zu bytes", head + z, n2);
    CHECK(n2 < head + z);
    /* A handful of Gaussians: one frame is smaller than eight, and the writer keeps version 1. */
    cs_gimage *few = random_gimage(ctx, 96, 64, 3, CS_GIMAGE_TOPK, 5, 12);
    uint8_t *v;
    size_t nv;
    CHECK_OK(ctx, cs_gimage_encode(ctx, few, NULL, &v, &nv));
    CHECK(v[4] == 1 && v[23] == 1);
    cs_gimage_buffer_free(v);
    cs_gimage_destroy(few);
    free(v1z);
    cs_gimage_buffer_free(v1);
    cs_gimage_buffer_free(v2);
    cs_gimage_destroy(a);
    cs_gimage_destroy(b);
    cs_gimage_destroy(c);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

TEST(gsi_allocation_failures_are_reported) {
    cs_context *ctx = test_context(1);
    cs_gimage *g = random_gimage(ctx, 30, 30, 3, CS_GIMAGE_TOPK, 25, 9), *d;
    uint8_t *data;
    size_t len;
    CHECK_OK(ctx, cs_gimage_encode(ctx, g, NULL, &data, &len));
    int reported = 0;
    for (long n = 1; n <= 8; n++) {
        d = NULL;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_gimage_decode(ctx, data, len, &d);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) {
            cs_gimage_destroy(d);
            continue;
        }
        reported++;
        CHECK_MSG(st == CS_ERR_NOMEM && d == NULL, "allocation %ld: %s", n, cs_status_string(st));
    }
    CHECK(reported >= 3);
    for (long n = 1; n <= 4; n++) {
        uint8_t *out = NULL;
        size_t l2;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_gimage_encode(ctx, g, NULL, &out, &l2);
        cs__test_fail_alloc_after(0);
        CHECK(st == CS_OK || (st == CS_ERR_NOMEM && out == NULL));
        cs_gimage_buffer_free(out);
    }
    cs_gimage_buffer_free(data);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

TEST(image2d_render_bad_arguments_and_non_finite) {
    cs_context *ctx = test_context(2);
    cs_gimage *g = random_gimage(ctx, 40, 30, 3, CS_GIMAGE_TOPK, 50, 11);
    cs_image img;
    CHECK(cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = -1.0f}, &img) ==
          CS_ERR_ARGUMENT);
    CHECK(img.data == NULL);
    CHECK(cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.width = 10}, &img) == CS_ERR_ARGUMENT);
    CHECK(cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = 1e9f}, &img) ==
          CS_ERR_ARGUMENT);
    CHECK(strstr(cs_context_last_error(ctx), "2^20") != NULL);
    CHECK(cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.crop_w = 5, .crop_h = 0}, &img) ==
          CS_ERR_ARGUMENT);
    /* Tiny and huge outputs. */
    CHECK_OK(ctx, cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = 0.001f}, &img));
    CHECK(img.width == 1 && img.height == 1);
    cs_image_free(&img);
    CHECK_OK(ctx,
             cs_gimage_render(
                 ctx, g,
                 &(cs_gimage_render_desc){
                     .scale = 100.0f, .crop_x = 2000, .crop_y = 1500, .crop_w = 8, .crop_h = 8},
                 &img));
    cs_image_free(&img);
    /* NaN, infinite and extreme parameters: skipped or harmless, never a crash. */
    cs_gimage_params p = cs_gimage_get_params(g);
    p.xy[0] = NAN;
    p.chol[3] = INFINITY;
    p.chol[7] = -1e30f;
    p.chol[9] = 80.0f; /* exp(80) pixels wide */
    p.colour[30] = INFINITY;
    CHECK_OK(ctx, cs_gimage_render(ctx, g, NULL, &img));
    int finite = 0;
    for (int i = 0; i < 40 * 30 * 3; i++)
        finite += isfinite(img.data[i]) && img.data[i] >= 0.0f && img.data[i] <= 1.0f;
    CHECK(finite == 40 * 30 * 3); /* clamped on output (NaN sums clamp to 0 or 1 as well) */
    cs_image_free(&img);
    uint8_t *data = NULL;
    size_t len;
    CHECK(cs_gimage_encode(ctx, g, NULL, &data, &len) == CS_ERR_ARGUMENT && data == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "non-finite") != NULL);
    cs_gimage_destroy(g);
    CHECK(cs_gimage_create(ctx, 0, 10, 3, CS_GIMAGE_TOPK, 1, &g) == CS_ERR_ARGUMENT);
    CHECK(cs_gimage_create(ctx, 10, 10, 2, CS_GIMAGE_TOPK, 1, &g) == CS_ERR_ARGUMENT);
    CHECK(cs_gimage_create(ctx, 10, 10, 3, CS_GIMAGE_TOPK, -1, &g) == CS_ERR_ARGUMENT);
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * The command line
 */
static int run_cli(const char *args) {
    const char *cli = getenv("CSPLAT_CLI");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", cli, args, test_tmp("cli.log"));
    int rc = system(cmd);
    return rc == -1 ? -1 : (rc >> 8) & 0xff;
}

TEST(image2d_cli_fit_info_render) {
    if (!getenv("CSPLAT_CLI")) SKIP("CSPLAT_CLI not set (run through make unit-test)");
    cs_context *ctx = test_context(1);
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, 48, 32, 3, &img));
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 48; x++)
            for (int c = 0; c < 3; c++)
                img.data[(y * 48 + x) * 3 + c] = (float)((x + c * 10) % 48) / 47.0f * (y < 16);
    char png[4096], gsi[4096], out[4096], args[16384];
    snprintf(png, sizeof png, "%s", test_tmp("cli_in.png"));
    snprintf(gsi, sizeof gsi, "%s", test_tmp("cli.gsi"));
    snprintf(out, sizeof out, "%s", test_tmp("cli_out.png"));
    CHECK_OK(ctx, cs_image_save_png(ctx, &img, png, 8));
    snprintf(args, sizeof args, "image fit %s -o %s -n 80 --iters 60 --quality high -q", png, gsi);
    CHECK(run_cli(args) == 0);
    snprintf(args, sizeof args, "image info %s --json", gsi);
    CHECK(run_cli(args) == 0);
    unsigned char *log = test_read_file(test_tmp("cli.log"), NULL);
    CHECK(log && strstr((char *)log, "\"gaussians\":\t80") && strstr((char *)log, "\"topk\""));
    free(log);
    snprintf(args, sizeof args, "image render %s -o %s --scale 2.5 --crop 10,5,30,20", gsi, out);
    CHECK(run_cli(args) == 0);
    cs_image r;
    CHECK_OK(ctx, cs_image_load(ctx, out, &r));
    CHECK(r.width == 30 && r.height == 20 && r.channels == 3);
    cs_image_free(&r);
    /* Usage errors exit 2, runtime failures 1, and write nothing. */
    snprintf(args, sizeof args, "image render %s -o %s --width 10", gsi, out);
    CHECK(run_cli(args) == 2);
    snprintf(args, sizeof args, "image fit %s -o %s -n 0", png, gsi);
    CHECK(run_cli(args) == 2);
    CHECK(run_cli("image frobnicate") == 2);
    snprintf(args, sizeof args, "image info %s", png); /* a PNG is not a .gsi */
    CHECK(run_cli(args) == 1);
    snprintf(args, sizeof args, "image fit %s -o %s", test_tmp("nope.png"), test_tmp("n.gsi"));
    CHECK(run_cli(args) == 1);
    CHECK(!test_read_file(test_tmp("n.gsi"), NULL));
    cs_image_free(&img);
    cs_context_destroy(ctx);
}
