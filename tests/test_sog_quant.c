/*
 * test_sog_quant.c - the SOG codebooks (src/sog_quant.c) on hand-checkable data, and allocation-
 * failure injection through the interchange readers and writers (every allocation they make
 * fails in turn; each failure must come back as CS_ERR_NOMEM with no scene handed out), and the
 * SH value codebook sized to the palette's own error (sog_write.c).
 */
#include "formats.h"
#include "interop_check.h"
#include "sog.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TEST(sog_codebook_1d_is_exact_or_lloyd_optimal) {
    cs_context *ctx = test_context(1);
    /* Three distinct values into 4 entries: exact, padded with the last value. */
    const float few[6] = {2.0f, -1.0f, 2.0f, 0.5f, -1.0f, 0.5f};
    float cb[4];
    uint8_t lab[6];
    CHECK_OK(ctx, cs__codebook_1d(ctx, few, 6, 4, cb, lab));
    CHECK(cb[0] == -1.0f && cb[1] == 0.5f && cb[2] == 2.0f && cb[3] == 2.0f);
    for (int i = 0; i < 6; i++) CHECK(cb[lab[i]] == few[i]);
    /* Two tight clusters around 0 and 10 into 2 entries: the entries are the cluster means. */
    float two[200];
    for (int i = 0; i < 100; i++) {
        two[i] = -0.5f + (float)i / 99.0f;             /* mean 0 */
        two[100 + i] = 9.0f + 2.0f * (float)i / 99.0f; /* mean 10 */
    }
    float cb2[2];
    uint8_t lab2[200];
    CHECK_OK(ctx, cs__codebook_1d(ctx, two, 200, 2, cb2, lab2));
    CHECK_NEAR(cb2[0], 0.0, 1e-5);
    CHECK_NEAR(cb2[1], 10.0, 1e-5);
    CHECK(lab2[0] == 0 && lab2[99] == 0 && lab2[100] == 1 && lab2[199] == 1);
    /* Non-finite values are labelled with an end, not a crash. */
    const float odd[3] = {NAN, INFINITY, -INFINITY};
    uint8_t lab3[3];
    CHECK_OK(ctx, cs__codebook_1d(ctx, odd, 3, 4, cb, lab3));
    CHECK(lab3[0] < 4 && lab3[1] < 4 && lab3[2] < 4);
    cs_context_destroy(ctx);
}

TEST(sog_kmeans_exact_palette_and_determinism) {
    cs_context *c1 = test_context(1), *c2 = test_context(2);
    /* 3000 points drawn from 40 distinct vectors: at k = 64 the palette is exactly them. */
    const int n = 3000, dim = 9, distinct = 40;
    float *pts = malloc(sizeof(float) * n * dim), *base = malloc(sizeof(float) * distinct * dim);
    test_rng r = test_rng_seed(3);
    for (int i = 0; i < distinct * dim; i++) base[i] = (float)test_rng_normal(&r);
    for (int i = 0; i < n; i++)
        memcpy(pts + i * dim, base + (test_rng_u32(&r) % distinct) * dim, sizeof(float) * dim);
    float cent[64 * 9];
    uint32_t lab[3000];
    int k;
    CHECK_OK(c1, cs__kmeans(c1, pts, n, dim, 64, 5, cent, lab, &k));
    CHECK(k <= distinct);
    for (int i = 0; i < n; i++)
        CHECK_MSG(lab[i] < (uint32_t)k &&
                      memcmp(cent + lab[i] * dim, pts + i * dim, sizeof(float) * dim) == 0,
                  "point %d not reproduced exactly", i);
    /* Continuous data, k < n: labels point at the nearest centroid of the window, and the
     * result is the same for 1 and 2 threads. */
    for (int i = 0; i < n * dim; i++) pts[i] = (float)test_rng_normal(&r);
    float ca[64 * 9], cb[64 * 9];
    uint32_t la[3000], lb[3000];
    int ka, kb;
    CHECK_OK(c1, cs__kmeans(c1, pts, n, dim, 64, 8, ca, la, &ka));
    CHECK_OK(c2, cs__kmeans(c2, pts, n, dim, 64, 8, cb, lb, &kb));
    CHECK(ka == 64 && kb == 64);
    CHECK(memcmp(ca, cb, sizeof ca) == 0 && memcmp(la, lb, sizeof la) == 0);
    /* Lloyd lowers the error below the seeds' (0 iterations). */
    float c0[64 * 9];
    uint32_t l0[3000];
    int k0;
    CHECK_OK(c1, cs__kmeans(c1, pts, n, dim, 64, 0, c0, l0, &k0));
    double e0 = 0, e8 = 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) {
            double a = pts[i * dim + d] - c0[l0[i] * dim + d],
                   b = pts[i * dim + d] - ca[la[i] * dim + d];
            e0 += a * a;
            e8 += b * b;
        }
    test_note("k-means squared error: seeds %.1f, 8 Lloyd steps %.1f", e0, e8);
    CHECK(e8 < 0.9 * e0);
    free(pts);
    free(base);
    cs_context_destroy(c1);
    cs_context_destroy(c2);
}

/* Fail allocation 1, 2, ... of `op` until it succeeds; every failure must be CS_ERR_NOMEM. */
#define FAIL_EACH_ALLOCATION(ctx, label, op)                                                       \
    do {                                                                                           \
        int bad_ = 0, n_;                                                                          \
        for (n_ = 1; n_ < 400; n_++) {                                                             \
            cs__test_fail_alloc_after(n_);                                                         \
            cs_status st_ = (op);                                                                  \
            cs__test_fail_alloc_after(0);                                                          \
            if (st_ == CS_OK) break;                                                               \
            if (st_ != CS_ERR_NOMEM) bad_++;                                                       \
        }                                                                                          \
        CHECK_MSG(bad_ == 0, "%s: %d failures were not CS_ERR_NOMEM (%s)", label, bad_,            \
                  cs_context_last_error(ctx));                                                     \
        CHECK_MSG(n_ > 1 && n_ < 400, "%s: %d allocations", label, n_);                            \
    } while (0)

/* Distinct values in meta.json's shN codebook (the writer repeats the last for unused ones). */
static int shn_codebook_entries(const char *meta_path) {
    size_t len;
    unsigned char *text = test_read_file(meta_path, &len);
    char *z = text ? malloc(len + 1) : NULL;
    if (z) {
        memcpy(z, text, len);
        z[len] = 0;
    }
    cJSON *meta = z ? cJSON_Parse(z) : NULL;
    const cJSON *cb = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "shN"), "codebook"), *e;
    int distinct = 0;
    double last = NAN;
    cJSON_ArrayForEach(e, cb) {
        distinct += e->valuedouble != last;
        last = e->valuedouble;
    }
    cJSON_Delete(meta);
    free(z);
    free(text);
    return distinct;
}

/* Squared error of the decoded SH rest coefficients (file order) against the source's, summed:
 * file position i holds source Gaussian order[i]. */
static double sh_rest_sse(const cs_scene *src, const cs_scene *back, const uint32_t *order) {
    cs_scene_params a = cs_scene_get_params((cs_scene *)src);
    cs_scene_params b = cs_scene_get_params((cs_scene *)back);
    size_t k3 = 3 * (size_t)a.sh_coeffs;
    double sse = 0;
    for (int64_t i = 0; i < b.count; i++)
        for (size_t v = 3; v < k3; v++) {
            double t = (double)b.sh[(size_t)i * k3 + v] - (double)a.sh[order[i] * k3 + v];
            sse += t * t;
        }
    return sse;
}

TEST(sog_palette_value_codebook_follows_the_palette_error) {
    cs_context *ctx = test_context(2);
    const int n = 4000;
    cs_scene *src = ix_random_scene(ctx, n, 1, 91); /* SH rest U(-0.8, 0.8): noise */
    cs_scene_params p = cs_scene_get_params(src);
    uint32_t *order = malloc(n * sizeof *order);
    CHECK_OK(ctx, cs__morton_order(ctx, p.means, n, order)); /* the writer's order (no plan) */
    /* 256 palette entries for 4000 noise vectors of 9 values leave a large k-means error; a
     * budget of 10% of it is met by the minimum of 16 values, where the cap is 91. */
    cs_sog_plan plan = {.sh_palette = 256, .sh_codebook = 91};
    double sse[2];
    int entries[2];
    for (int r = 0; r < 2; r++) {
        char dir[4096], meta[4200];
        snprintf(dir, sizeof dir, "%s", test_tmp(r ? "budget" : "nobudget"));
        mkdir(dir, 0755);
        snprintf(meta, sizeof meta, "%s/meta.json", dir);
        plan.sh_codebook_ratio = r ? 0.1f : 0.0f;
        CHECK_OK(ctx, cs__sog_save_plan(ctx, src, meta, &plan));
        entries[r] = shn_codebook_entries(meta);
        cs_scene *back = NULL;
        CHECK_OK(ctx, cs_scene_load(ctx, meta, &back));
        sse[r] = back ? sh_rest_sse(src, back, order) : (double)INFINITY;
        cs_scene_destroy(back);
    }
    test_note("SH error %.2f with 91 values, %.2f with %d", sse[0], sse[1], entries[1]);
    CHECK(entries[0] == 91);
    CHECK(entries[1] == 16);
    /* The coarser values add about the budget to the SH error, no more. */
    CHECK(sse[1] <= 1.12 * sse[0]);
    /* An exact palette (40 distinct vectors, so no k-means error) keeps the cap. */
    test_rng r = test_rng_seed(5);
    float base[40][9];
    for (int v = 0; v < 40; v++)
        for (int c = 0; c < 9; c++) base[v][c] = (float)(0.3 * test_rng_normal(&r));
    for (int i = 0; i < n; i++) {
        const float *b = base[test_rng_u32(&r) % 40];
        for (int c = 0; c < 9; c++) p.sh[(size_t)i * 12 + 3 + (size_t)c] = b[c];
    }
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/meta.json", test_tmp("budget"));
    plan.sh_codebook_ratio = 0.1f;
    CHECK_OK(ctx, cs__sog_save_plan(ctx, src, meta, &plan));
    CHECK(shn_codebook_entries(meta) == 91);
    free(order);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

TEST(interop_reports_allocation_failures) {
    cs_context *ctx = test_context(1);
    cs_scene *src = ix_random_scene(ctx, 100, 2, 12), *s = NULL;
    const char *ext[3] = {"spz", "sog", "compressed.ply"};
    for (int f = 0; f < 3; f++) {
        char path[4096], label[64];
        snprintf(path, sizeof path, "%s/alloc.%s", test_tmpdir(), ext[f]);
        snprintf(label, sizeof label, "write %s", ext[f]);
        FAIL_EACH_ALLOCATION(ctx, label, cs_scene_save(ctx, src, path));
        size_t len;
        unsigned char *data = test_read_file(path, &len);
        const cs_scene_codec *codec = cs__scene_codec(cs_format_from_path(path));
        snprintf(label, sizeof label, "read %s", ext[f]);
        FAIL_EACH_ALLOCATION(ctx, label, codec->parse(ctx, label, data, len, &s));
        CHECK(s != NULL);
        cs_scene_destroy(s);
        s = NULL;
        free(data);
    }
    cs_sog_options opt = {.self_organize = 1, .quality = 0.5f};
    char path[4096];
    snprintf(path, sizeof path, "%s/alloc_compress.sog", test_tmpdir());
    FAIL_EACH_ALLOCATION(ctx, "compress", cs_scene_save_sog(ctx, src, path, &opt));
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

TEST(interop_empty_scenes_round_trip) {
    cs_context *ctx = test_context(1);
    for (int degree = 0; degree <= 3; degree += 3) {
        cs_scene *empty;
        CHECK_OK(ctx, cs_scene_create(ctx, 0, degree, &empty));
        const char *ext[5] = {"v2.spz", "v3.spz", "v4.spz", "sog", "compressed.ply"};
        for (int f = 0; f < 5; f++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/empty%d.%s", test_tmpdir(), degree, ext[f]);
            cs_spz_options o = {.version = 2 + f};
            CHECK_OK(ctx, f < 3 ? cs_scene_save_spz(ctx, empty, path, &o)
                                : cs_scene_save(ctx, empty, path));
            cs_scene *back = NULL;
            CHECK_OK(ctx, cs_scene_load(ctx, path, &back));
            CHECK_MSG(back && cs_scene_count(back) == 0, "%s", path);
            cs_scene_destroy(back);
        }
        char lod[4096];
        snprintf(lod, sizeof lod, "%s/lod-meta.json", test_tmpdir());
        CHECK(cs_scene_save(ctx, empty, lod) == CS_ERR_UNSUPPORTED);
        cs_scene_destroy(empty);
    }
    cs_context_destroy(ctx);
}
