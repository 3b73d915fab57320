/*
 * test_sog.c - PlayCanvas SOG v2: a hand-built SOG (images made here with libwebp, meta.json
 * written by hand) decoded to hand-computed values, round trips (bundled .sog and unbundled
 * meta.json) within each attribute's quantisation, the real playbot scene (all 7 levels of
 * detail), the self-organizing compressor, and malformed input.
 *
 * Quantisation (write-sog.ts): positions 16 bits of the log-transformed range per axis (error
 * <= step/2 * (1 + |x|), step = range / 65535); scales, DC colour and SH palette values are
 * replaced by their codebook entry, which must be the entry nearest the source value; opacity
 * 8 bits of sigmoid (<= 0.5/255); rotations 8 bits per smallest component over [-1, 1] / sqrt2
 * (1 - |dot| <= 1e-4).
 */
#include "formats.h"
#include "interop_check.h"
#include "sog.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <webp/encode.h>

/* Lossless and exact: libwebp's simple API may rewrite RGB under alpha 0. */
static bool write_webp(const char *dir, const char *name, const unsigned char *rgba, int w, int h) {
    WebPConfig config;
    WebPPicture pic;
    WebPMemoryWriter mem;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) return false;
    config.lossless = 1;
    config.exact = 1;
    pic.use_argb = 1;
    pic.width = w;
    pic.height = h;
    WebPMemoryWriterInit(&mem);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &mem;
    bool ok = WebPPictureImportRGBA(&pic, rgba, 4 * w) && WebPEncode(&config, &pic);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ok = ok && test_write_file(path, mem.mem, mem.size);
    WebPPictureFree(&pic);
    WebPMemoryWriterClear(&mem);
    return ok;
}

static bool write_text(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return test_write_file(path, text, strlen(text));
}

/* The hand-built SOG: three Gaussians, SH degree 1, images 3 x 1. */
static const char *hand_meta =
    "{\"version\":2,\"count\":3,"
    "\"means\":{\"mins\":[0,0,-0.6931471805599453],\"maxs\":[0.6931471805599453,1,"
    "0.6931471805599453],\"files\":[\"means_l.webp\",\"means_u.webp\"]},"
    "\"scales\":{\"codebook\":[-1,-2,-3],\"files\":[\"scales.webp\"]},"
    "\"quats\":{\"files\":[\"quats.webp\"]},"
    "\"sh0\":{\"codebook\":[0.5,-0.5],\"files\":[\"sh0.webp\"]},"
    "\"shN\":{\"count\":2,\"bands\":1,\"codebook\":[0.25,-0.25],"
    "\"files\":[\"shN_centroids.webp\",\"shN_labels.webp\"]}}";

static bool write_hand_sog(const char *dir, const char *meta) {
    mkdir(dir, 0700);
    const unsigned char lo[12] = {0, 0, 0, 255, 255, 0, 255, 255, 0, 0, 0, 255};
    const unsigned char hi[12] = {0, 0, 0, 255, 255, 128, 255, 255, 0, 0, 0, 255};
    const unsigned char quats[12] = {128, 128, 128, 255, 255, 0, 128, 252, 0, 0, 0, 7};
    const unsigned char scales[12] = {0, 1, 2, 255, 2, 2, 2, 255, 0, 0, 0, 255};
    const unsigned char sh0[12] = {0, 1, 0, 51, 1, 1, 1, 0, 0, 0, 0, 255};
    const unsigned char labels[12] = {1, 0, 0, 255, 0, 0, 0, 255, 1, 0, 0, 255};
    unsigned char cent[192 * 4];
    memset(cent, 255, sizeof cent);
    /* Entry 0: coefficients (0,0,0) (1,1,1) (0,1,0); entry 1: all 1 = -0.25. */
    const unsigned char e0[9] = {0, 0, 0, 1, 1, 1, 0, 1, 0};
    for (int j = 0; j < 3; j++)
        for (int c = 0; c < 3; c++) {
            cent[4 * j + c] = e0[3 * j + c];
            cent[4 * (3 + j) + c] = 1;
        }
    return write_webp(dir, "means_l.webp", lo, 3, 1) && write_webp(dir, "means_u.webp", hi, 3, 1) &&
           write_webp(dir, "quats.webp", quats, 3, 1) &&
           write_webp(dir, "scales.webp", scales, 3, 1) && write_webp(dir, "sh0.webp", sh0, 3, 1) &&
           write_webp(dir, "shN_labels.webp", labels, 3, 1) &&
           write_webp(dir, "shN_centroids.webp", cent, 192, 1) &&
           write_text(dir, "meta.json", meta);
}

TEST(sog_reads_hand_built_files) {
    cs_context *ctx = test_context(1);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp("hand"));
    CHECK(write_hand_sog(dir, hand_meta));
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, path, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.count == 3 && p.sh_degree == 1 && cs_scene_source_format(s) == CS_FORMAT_SOG);
        /* Gaussian 0: q = 0 everywhere: x = 0, y = 0, z = -(e^ln2 - 1) = -1. */
        CHECK_NEAR(p.means[0], 0, 1e-7);
        CHECK_NEAR(p.means[1], 0, 1e-7);
        CHECK_NEAR(p.means[2], -1, 1e-6);
        /* Gaussian 1: x, z at q = 65535 -> 1; y at q = 32768: e^(32768/65535) - 1. */
        CHECK_NEAR(p.means[3], 1, 1e-6);
        CHECK_NEAR(p.means[4], expm1(32768.0 / 65535.0), 1e-6);
        CHECK_NEAR(p.means[5], 1, 1e-6);
        /* Quaternions: tag 255 (z largest), the others (128/255 * 2 - 1) / sqrt2. */
        double c = (128.0 / 255 * 2 - 1) / sqrt(2.0);
        CHECK_NEAR(p.quats[0], c, 1e-6);
        CHECK_NEAR(p.quats[2], c, 1e-6);
        CHECK_NEAR(p.quats[3], sqrt(1 - 3 * c * c), 1e-6);
        /* Gaussian 1: tag 252 (w largest, reconstructed 0), x = 1/sqrt2, y = -1/sqrt2. */
        CHECK_NEAR(p.quats[4], 0, 1e-3);
        CHECK_NEAR(p.quats[5], 1 / sqrt(2.0), 1e-6);
        CHECK_NEAR(p.quats[6], -1 / sqrt(2.0), 1e-6);
        CHECK_NEAR(p.quats[7], c, 1e-6);
        /* Gaussian 2: invalid tag 7 -> identity. */
        CHECK(p.quats[8] == 1 && p.quats[9] == 0 && p.quats[10] == 0 && p.quats[11] == 0);
        CHECK(p.log_scales[0] == -1 && p.log_scales[1] == -2 && p.log_scales[2] == -3);
        CHECK(p.log_scales[3] == -3 && p.log_scales[6] == -1);
        /* DC: codebook [0.5, -0.5]; opacity 51/255 = 0.2. */
        CHECK(p.sh[0] == 0.5f && p.sh[1] == -0.5f && p.sh[2] == 0.5f);
        CHECK(p.sh[12] == -0.5f);
        CHECK_NEAR(p.opacities[0], log(0.2 / 0.8), 1e-5);
        CHECK_NEAR(p.opacities[2], log((1 - 1e-6) / 1e-6), 0.1);
        /* SH: Gaussian 0 and 2 use entry 1 (all -0.25), Gaussian 1 entry 0. */
        for (int k = 3; k < 12; k++) CHECK(p.sh[k] == -0.25f && p.sh[24 + k] == -0.25f);
        const float e0[9] = {0.25f, 0.25f, 0.25f, -0.25f, -0.25f, -0.25f, 0.25f, -0.25f, 0.25f};
        for (int k = 0; k < 9; k++) CHECK(p.sh[12 + 3 + k] == e0[k]);
    }
    cs_scene_destroy(s);
    cs_scene_file_info info;
    CHECK_OK(ctx, cs_scene_probe(ctx, path, &info));
    CHECK(info.format == CS_FORMAT_SOG && info.version == 2 && info.count == 3 &&
          info.sh_degree == 1);
    cs_context_destroy(ctx);
}

/* Nearest codebook entry to v. */
static float nearest(const cJSON *codebook, float v) {
    float best = 0, bd = INFINITY;
    const cJSON *e;
    cJSON_ArrayForEach(e, codebook) {
        float c = (float)e->valuedouble, d = fabsf(c - v);
        if (d < bd) {
            bd = d;
            best = c;
        }
    }
    return best;
}

/* Check every codebook-coded value of decoded is the entry nearest its source value. */
static void check_codebooks(const char *meta_path, const cs_scene *src, const cs_scene *back,
                            bool sh_exact) {
    unsigned char *text = test_read_file(meta_path, NULL);
    cJSON *meta = text ? cJSON_Parse((const char *)text) : NULL;
    free(text);
    CHECK(meta != NULL);
    if (!meta) return;
    const cJSON *sc = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "scales"), "codebook");
    const cJSON *c0 = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "sh0"), "codebook");
    const cJSON *cn = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "shN"), "codebook");
    cs_scene_params a = cs_scene_get_params((cs_scene *)src);
    cs_scene_params b = cs_scene_get_params((cs_scene *)back);
    int bad = 0;
    /* Gaussians are matched by nearest mean, as ix_compare does. */
    for (int64_t j = 0; j < b.count; j++) {
        int64_t i = ix_nearest(&a, b.means + 3 * j);
        for (int x = 0; x < 3; x++) {
            bad += b.log_scales[3 * j + x] != nearest(sc, a.log_scales[3 * i + x]);
            bad += b.sh[(size_t)j * b.sh_coeffs * 3 + x] !=
                   nearest(c0, a.sh[(size_t)i * a.sh_coeffs * 3 + x]);
        }
        for (int k = 3; sh_exact && k < 3 * a.sh_coeffs; k++)
            bad += b.sh[(size_t)j * b.sh_coeffs * 3 + k] !=
                   nearest(cn, a.sh[(size_t)i * a.sh_coeffs * 3 + k]);
    }
    CHECK_MSG(bad == 0, "%d values are not their nearest codebook entry", bad);
    cJSON_Delete(meta);
}

TEST(sog_round_trips_within_quantization) {
    cs_context *ctx = test_context(2);
    cs_scene *src = ix_random_scene(ctx, 600, 3, 31);
    char dir[4096], meta[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp("rt_sog"));
    mkdir(dir, 0700);
    snprintf(meta, sizeof meta, "%s/meta.json", dir);
    /* A palette as large as the scene: SH errors come from the value codebook alone. */
    cs_sog_plan plan = {.sh_palette = 600};
    CHECK_OK(ctx, cs__sog_save_plan(ctx, src, meta, &plan));
    /* |x| <= 2.1: log-transformed range <= 2 ln 3.1, step/2 * (1 + |x|). */
    double step = 2 * log(3.1) / 65535;
    ix_errors bound = {.pos = 0.5 * step * 3.1 + 1e-6,
                       .log_scale = -1,
                       .quat = 1e-4,
                       .opacity = 0.5 / 255 + 1e-6,
                       .dc = -1,
                       .sh = -1};
    cs_scene *back = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, meta, &back));
    if (back) {
        ix_errors e = ix_compare(src, back, true);
        ix_check("sog meta.json", &e, &bound);
        check_codebooks(meta, src, back, true);
        test_note("unbundled: pos %.2g quat %.2g opacity %.2g scale %.2g dc %.2g sh %.2g", e.pos,
                  e.quat, e.opacity, e.log_scale, e.dc, e.sh);
    }
    cs_scene_destroy(back);
    /* Bundled, default palette (512 entries for 600 Gaussians of random SH: no bound on SH,
     * which the exact-palette case above covers). */
    const char *bundle = test_tmp("rt.sog");
    CHECK_OK(ctx, cs_scene_save(ctx, src, bundle));
    CHECK_OK(ctx, cs_scene_load(ctx, bundle, &back));
    if (back) {
        ix_errors e = ix_compare(src, back, true);
        ix_check("sog bundled", &e, &bound);
        test_note("bundled: SH error %.3g with a 512-entry palette", e.sh);
    }
    cs_scene_file_info info;
    CHECK_OK(ctx, cs_scene_probe(ctx, bundle, &info));
    CHECK(info.format == CS_FORMAT_SOG && info.version == 2 && info.count == 600 &&
          info.sh_degree == 3 && strstr(info.detail, "bundled"));
    cs_scene_destroy(back);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

TEST(sog_reads_playbot_levels_of_detail) {
    const char *root = test_data("playcanvas_playbot_sog/lod-meta.json");
    if (!root) SKIP("../shared/data/playcanvas_playbot_sog absent");
    char lod[4096];
    snprintf(lod, sizeof lod, "%s", root);
    cs_context *ctx = test_context(0);
    /* SOURCE.txt: splat counts per level. */
    const int64_t counts[7] = {500000, 250000, 125000, 31000, 8406, 3000, 1873};
    /* lod-meta.json's root bound. */
    const double lo[3] = {-1.033496, -1.083135, -1.039343}, hi[3] = {1.03509, 0.05205518, 1.042389};
    cs_scene_file_info info;
    CHECK_OK(ctx, cs_scene_probe(ctx, lod, &info));
    CHECK(info.format == CS_FORMAT_SOG && info.lod_levels == 7 && info.version == 2 &&
          info.sh_degree == 2);
    for (int l = 0; l < 7; l++) {
        CHECK(info.lod_counts[l] == counts[l]);
        char meta[64];
        snprintf(meta, sizeof meta, "playcanvas_playbot_sog/%d_0/meta.json", l);
        const char *path = test_data(meta);
        cs_scene *s = NULL, *viatree = NULL;
        CHECK_OK(ctx, cs_scene_load(ctx, path, &s));
        CHECK_OK(ctx, cs_scene_load_lod(ctx, lod, l, &viatree));
        if (!s || !viatree) {
            cs_scene_destroy(s);
            cs_scene_destroy(viatree);
            continue;
        }
        cs_scene_stats st;
        CHECK_OK(ctx, cs_scene_compute_stats(ctx, s, &st));
        CHECK(st.count == counts[l] && st.sh_degree == 2 && st.non_finite == 0);
        for (int a = 0; a < 3; a++)
            CHECK(st.bounds_min[a] >= lo[a] - 1e-3 && st.bounds_max[a] <= hi[a] + 1e-3);
        CHECK(st.opacity_min >= 0 && st.opacity_max <= 1 && st.scale_max < 1.0);
        /* Each level is one file whose node ranges cover it in order: identical scenes. */
        cs_scene_params a = cs_scene_get_params(s), b = cs_scene_get_params(viatree);
        size_t floats = (size_t)a.count * (3 + 3 + 4 + 1 + 3 * (size_t)a.sh_coeffs);
        CHECK(b.count == a.count && memcmp(a.means, b.means, floats * sizeof(float)) == 0);
        test_note("level %d: %lld Gaussians, opacity mean %.3f, scale median %.4g", l,
                  (long long)st.count, st.opacity_mean, st.scale_median);
        cs_scene_destroy(s);
        cs_scene_destroy(viatree);
    }
    cs_scene *none = NULL;
    CHECK(cs_scene_load_lod(ctx, lod, 7, &none) == CS_ERR_ARGUMENT && !none);
    cs_context_destroy(ctx);
}

/* Write the hand-built SOG with one file replaced (NULL keeps it), load, expect `want`. */
static void expect_failure(cs_context *ctx, const char *tag, const char *meta, const char *file,
                           const unsigned char *data, size_t len, cs_status want) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp(tag));
    CHECK(write_hand_sog(dir, meta));
    if (file) {
        snprintf(path, sizeof path, "%s/%s", dir, file);
        CHECK(test_write_file(path, data, len));
    }
    snprintf(path, sizeof path, "%s/meta.json", dir);
    cs_scene *s = NULL;
    cs_status st = cs_scene_load(ctx, path, &s);
    CHECK_MSG(st == want && !s, "%s: got %s (%s)", tag, cs_status_string(st),
              cs_context_last_error(ctx));
    test_note("%s: %s", tag, cs_context_last_error(ctx));
    cs_scene_destroy(s);
}

static char *replace(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    size_t n = strlen(text) + strlen(to) + 1;
    char *out = malloc(n);
    if (!at) {
        snprintf(out, n, "%s", text);
        return out;
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

TEST(sog_rejects_malformed_input) {
    cs_context *ctx = test_context(1);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp("hand_src"));
    CHECK(write_hand_sog(dir, hand_meta));
    char qpath[4200];
    snprintf(qpath, sizeof qpath, "%s/quats.webp", dir);
    size_t qlen;
    unsigned char *q = test_read_file(qpath, &qlen);
    /* Truncated and corrupt WebP (the VP8L chunk's fourcc broken). */
    expect_failure(ctx, "trunc", hand_meta, "quats.webp", q, qlen / 2, CS_ERR_FORMAT);
    if (q && qlen > 16) {
        q[12] ^= 0x20;
        expect_failure(ctx, "corrupt", hand_meta, "quats.webp", q, qlen, CS_ERR_FORMAT);
    }
    free(q);
    expect_failure(ctx, "notwebp", hand_meta, "sh0.webp", (const unsigned char *)"RIFF", 4,
                   CS_ERR_FORMAT);
    /* meta.json lying: more Gaussians than pixels, palette and codebook indices out of range. */
    char *m = replace(hand_meta, "\"count\":3", "\"count\":4");
    expect_failure(ctx, "count", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    m = replace(hand_meta, "\"count\":2", "\"count\":1");
    expect_failure(ctx, "palette", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    m = replace(hand_meta, "[-1,-2,-3]", "[-1,-2]");
    expect_failure(ctx, "codebook", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    m = replace(hand_meta, "\"count\":3", "\"count\":-3");
    expect_failure(ctx, "negative", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    m = replace(hand_meta, "\"bands\":1", "\"bands\":2");
    expect_failure(ctx, "bands", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    /* Versions: 3 unknown, no version (v1) unsupported. */
    m = replace(hand_meta, "\"version\":2", "\"version\":3");
    expect_failure(ctx, "v3", m, NULL, NULL, 0, CS_ERR_UNSUPPORTED);
    free(m);
    m = replace(hand_meta, "\"version\":2,", "");
    expect_failure(ctx, "v1", m, NULL, NULL, 0, CS_ERR_UNSUPPORTED);
    free(m);
    /* A file name leaving the folder; JSON that is not JSON; a missing image. */
    m = replace(hand_meta, "\"scales.webp\"", "\"../scales.webp\"");
    expect_failure(ctx, "escape", m, NULL, NULL, 0, CS_ERR_FORMAT);
    free(m);
    expect_failure(ctx, "json", "{\"version\":2,", NULL, NULL, 0, CS_ERR_FORMAT);
    m = replace(hand_meta, "\"sh0.webp\"", "\"absent.webp\"");
    expect_failure(ctx, "absent", m, NULL, NULL, 0, CS_ERR_IO);
    free(m);

    /* Bundled archives: a CRC mismatch, truncation, no meta.json. */
    cs_scene *src = ix_random_scene(ctx, 50, 1, 4), *s = NULL;
    const char *bundle = test_tmp("bad.sog");
    CHECK_OK(ctx, cs_scene_save(ctx, src, bundle));
    size_t len;
    unsigned char *z = test_read_file(bundle, &len);
    if (z && len > 100) {
        CHECK_OK(ctx, cs__codec_sog.parse(ctx, "ok", z, len, &s));
        cs_scene_destroy(s);
        s = NULL;
        /* meta.json, the first entry, is DEFLATEd (method 8 at byte 8 of its local header);
         * the second, means_l.webp, is STORED: its data follows meta.json's compressed bytes,
         * its own 30-byte header and 12-byte name. */
        CHECK(z[8] == 8 && z[9] == 0);
        size_t second = 30 + 9 + cs__rd_u32le(z + 18), at = second + 30 + 12 + 2;
        CHECK(at < len && z[second + 8] == 0);
        z[at] ^= 0x01;
        CHECK(cs__codec_sog.parse(ctx, "crc", z, len, &s) == CS_ERR_FORMAT && !s);
        CHECK(strstr(cs_context_last_error(ctx), "CRC") != NULL);
        z[at] ^= 0x01;
        CHECK(cs__codec_sog.parse(ctx, "cut", z, len - 30, &s) == CS_ERR_FORMAT && !s);
        /* Rename the entry in the central directory (its first record follows the data). */
        size_t cd = cs__rd_u32le(z + len - 22 + 16);
        if (cd + 46 + 9 < len && memcmp(z + cd + 46, "meta.json", 9) == 0) {
            z[cd + 46] = 'x';
            CHECK(cs__codec_sog.parse(ctx, "nometa", z, len, &s) == CS_ERR_FORMAT && !s);
            CHECK(strstr(cs_context_last_error(ctx), "meta.json") != NULL);
        }
    }
    free(z);
    const unsigned char not_zip[8] = {'P', 'K', 3, 4, 0, 0, 0, 0};
    CHECK(cs__codec_sog.parse(ctx, "tiny", not_zip, sizeof not_zip, &s) == CS_ERR_FORMAT);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

/* PLAS on a shuffled smooth image: neighbours must become similar, the result a permutation,
 * and identical for 1 and 2 threads. */
TEST(sog_plas_sorts_a_shuffled_gradient) {
    const int side = 32, n = side * side, dim = 3;
    float *f = malloc(sizeof(float) * (size_t)n * dim);
    uint32_t *o1 = malloc(sizeof(uint32_t) * (size_t)n), *o2 = malloc(sizeof(uint32_t) * (size_t)n);
    test_rng r = test_rng_seed(77);
    for (int i = 0; i < n; i++) {
        f[3 * i] = (float)test_rng_uniform(&r);
        f[3 * i + 1] = (float)test_rng_uniform(&r);
        f[3 * i + 2] = (float)test_rng_uniform(&r);
        o1[i] = o2[i] = (uint32_t)i;
    }
    cs_context *c1 = test_context(1), *c2 = test_context(2);
    CHECK_OK(c1, cs__plas_sort(c1, f, n, dim, side, 1.0f, o1));
    CHECK_OK(c2, cs__plas_sort(c2, f, n, dim, side, 1.0f, o2));
    CHECK(memcmp(o1, o2, sizeof(uint32_t) * (size_t)n) == 0);
    char *seen = calloc((size_t)n, 1);
    int dup = 0;
    for (int i = 0; i < n; i++) dup += seen[o1[i]]++ != 0;
    CHECK(dup == 0);
    /* Mean distance to the right and lower neighbour, before and after. */
    double before = 0, after = 0;
    int pairs = 0;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            for (int d = 0; d < 2; d++) {
                int nx = x + (d == 0), ny = y + (d == 1);
                if (nx >= side || ny >= side) continue;
                int g = y * side + x, h = ny * side + nx;
                double b2 = 0, a2 = 0;
                for (int c = 0; c < dim; c++) {
                    double tb = f[3 * g + c] - f[3 * h + c];
                    double ta = f[3 * o1[g] + c] - f[3 * o1[h] + c];
                    b2 += tb * tb;
                    a2 += ta * ta;
                }
                before += sqrt(b2);
                after += sqrt(a2);
                pairs++;
            }
    test_note("mean neighbour distance %.3f -> %.3f", before / pairs, after / pairs);
    CHECK(after < 0.35 * before);
    free(seen);
    free(f);
    free(o1);
    free(o2);
    cs_context_destroy(c1);
    cs_context_destroy(c2);
}

/* Covariance R diag(exp(2 s)) R^T of a Gaussian (quaternion w, x, y, z; log scales s). */
static void covariance(const float *q, const float *s, double out[3][3]) {
    double d[4] = {q[0], q[1], q[2], q[3]};
    double n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]);
    double w = d[0] / n, x = d[1] / n, y = d[2] / n, z = d[3] / n;
    double R[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                      {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                      {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            out[i][j] = 0;
            for (int k = 0; k < 3; k++) out[i][j] += R[i][k] * exp(2.0 * (double)s[k]) * R[j][k];
        }
}

/* ||S_a - S_b||_F / ||S_a||_F for the covariances of two (quaternion, log scales) pairs. */
static double covariance_error(const float *qa, const float *sa, const float *qb, const float *sb) {
    double a[3][3], b[3][3], num = 0, den = 0;
    covariance(qa, sa, a);
    covariance(qb, sb, b);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            num += (a[r][c] - b[r][c]) * (a[r][c] - b[r][c]);
            den += a[r][c] * a[r][c];
        }
    return sqrt(num / den);
}

/* Largest ||S_a - S_b||_F / ||S_a||_F between each decoded Gaussian and the source Gaussian with
 * the nearest mean: the compressor reorders Gaussians and stores each in its cube-canonical
 * frame, so rotations and scales are compared through the covariance they make. */
static double max_covariance_error(const cs_scene *source, const cs_scene *decoded) {
    cs_scene_params a = cs_scene_get_params((cs_scene *)source);
    cs_scene_params b = cs_scene_get_params((cs_scene *)decoded);
    double worst = 0;
    for (int64_t j = 0; j < b.count; j++) {
        int64_t i = ix_nearest(&a, b.means + 3 * j);
        worst = fmax(worst, covariance_error(a.quats + 4 * i, a.log_scales + 3 * i, b.quats + 4 * j,
                                             b.log_scales + 3 * j));
    }
    return worst;
}

/* The cube-canonical frame: the same covariance, the largest real part, w positive and at least
 * the other components / (sqrt 2 - 1); a frame already canonical (the identity) is kept. */
TEST(sog_cube_canonical_keeps_the_covariance) {
    test_rng r = test_rng_seed(31);
    double worst = 0, ratio = 0;
    for (int t = 0; t < 20000; t++) {
        float q[4], s[3], qc[4], sc[3];
        double n = 0;
        for (int k = 0; k < 4; k++) {
            q[k] = (float)test_rng_normal(&r);
            n += (double)q[k] * (double)q[k];
        }
        for (int k = 0; k < 4; k++) q[k] = (float)((double)q[k] / sqrt(n));
        for (int k = 0; k < 3; k++) s[k] = (float)(-5 + 4 * test_rng_uniform(&r));
        cs__cube_canonical(q, s, qc, sc);
        worst = fmax(worst, covariance_error(q, s, qc, sc));
        CHECK(qc[0] > 0);
        for (int k = 1; k < 4; k++) ratio = fmax(ratio, fabs((double)qc[k]) / (double)qc[0]);
    }
    test_note("relative covariance change %.2e, largest |x, y, z| / w %.6f", worst, ratio);
    CHECK(worst < 1e-5);
    CHECK(ratio <= sqrt(2.0) - 1 + 1e-6);
    float id[4] = {1, 0, 0, 0}, s[3] = {-1, -2, -3}, qc[4], sc[3];
    cs__cube_canonical(id, s, qc, sc);
    CHECK(qc[0] == 1 && qc[1] == 0 && qc[2] == 0 && qc[3] == 0);
    CHECK(sc[0] == -1 && sc[1] == -2 && sc[2] == -3);
}

TEST(sog_compress_writes_a_valid_deterministic_sog) {
    cs_context *c1 = test_context(1), *c2 = test_context(2);
    cs_scene *src = ix_random_scene(c2, 3000, 1, 55);
    char one[4096], two[4096];
    snprintf(one, sizeof one, "%s", test_tmp("packed1.sog"));
    snprintf(two, sizeof two, "%s", test_tmp("packed2.sog"));
    /* Quality 0.9: 16-bit positions, 8-bit rotations and opacity; 0.5 (the default): 7-bit
     * rotations and opacity. Codebooks and the palette as in any SOG. */
    const float quality[2] = {0.9f, 0.5f};
    const double opacity_bound[2] = {0.5 / 255 + 1e-6, (0.5 * 255.0 / 127 + 0.5) / 255 + 1e-6};
    /* Covariance: scale codebook steps (up to ~0.008 in log scale: 1.6% of the covariance)
     * plus the rotation's rounding (a component step of 0.0055 at 8 bits, 0.011 at 7: up to
     * ~1% and ~2% of an elongated covariance); measured 2.1% and 3.3%. */
    const double cov_bound[2] = {0.03, 0.045};
    for (int v = 0; v < 2; v++) {
        cs_sog_options opt = {.self_organize = 1, .quality = quality[v]};
        CHECK_OK(c1, cs_scene_save_sog(c1, src, one, &opt));
        CHECK_OK(c2, cs_scene_save_sog(c2, src, two, &opt));
        cs_scene *back = NULL;
        CHECK_OK(c2, cs_scene_load(c2, two, &back));
        if (back) {
            double step = 2 * log(3.1) / 65535;
            ix_errors bound = {.pos = 0.5 * step * 3.1 + 1e-6,
                               .log_scale = -1,
                               .quat = -1,
                               .opacity = opacity_bound[v],
                               .dc = 0.1,
                               .sh = -1};
            ix_errors e = ix_compare(src, back, true);
            ix_check("compressed sog", &e, &bound);
            double ce = max_covariance_error(src, back);
            test_note("quality %.1f: covariance error %.4f, opacity %.5f", (double)quality[v], ce,
                      e.opacity);
            CHECK_MSG(ce <= cov_bound[v], "quality %.1f: covariance error %.4f", (double)quality[v],
                      ce);
        }
        cs_scene_destroy(back);
    }
    /* The same bytes whatever the thread count. */
    size_t a, b;
    unsigned char *fa = test_read_file(one, &a), *fb = test_read_file(two, &b);
    CHECK(fa && fb && a == b && memcmp(fa, fb, a) == 0);
    free(fa);
    free(fb);
    cs_scene_destroy(src);
    cs_context_destroy(c1);
    cs_context_destroy(c2);
}

/* Every conversion pair between csplat's five scene formats: a scene saved as A and loaded is
 * saved as B and loaded; the second decode must match the first within B's quantisation step
 * (so a chain never drifts by more than the lossier format's step). */
TEST(interop_every_conversion_pair) {
    cs_context *ctx = test_context(2);
    const char *ext[5] = {"ply", "splat", "spz", "sog", "compressed.ply"};
    double step = 2 * log(3.2) / 65535;
    /* Bounds of a decode against its input, per output format. */
    const ix_errors bound[5] = {
        {.pos = 1e-6, .log_scale = 1e-6, .quat = 1e-6, .opacity = 1e-6, .dc = 1e-6, .sh = 1e-6},
        {.pos = 1e-6,
         .log_scale = 1e-5,
         .quat = 2e-4,
         .opacity = 0.5 / 255 + 1e-6,
         .dc = 0.5 / 255 / 0.28209479 + 1e-5,
         .sh = -1},
        {.pos = 1.0 / 8192 + 1e-6,
         .log_scale = 1.0 / 32 + 1e-6,
         .quat = 2e-5,
         .opacity = 0.5 / 255 + 1e-6,
         .dc = 0.5 / (0.15 * 255) + 1e-6,
         .sh = 8.5 / 128 + 1e-6},
        {.pos = 0.5 * step * 3.2 + 1e-6,
         .log_scale = 0.05,
         .quat = 1e-4,
         .opacity = 0.5 / 255 + 1e-6,
         .dc = 0.05,
         .sh = -1},
        {.pos = 4.3 / 1023 / 2,
         .log_scale = 4.3 / 1023 / 2,
         .quat = 1e-5,
         .opacity = 0.5 / 255 + 1e-6,
         .dc = 3.2 / 255 / 2 + 1e-5,
         .sh = 4.0 / 256 + 1e-6}};
    cs_scene *src = ix_random_scene(ctx, 300, 3, 99);
    for (int a = 0; a < 5; a++) {
        char pa[4096];
        snprintf(pa, sizeof pa, "%s/pair_src.%s", test_tmpdir(), ext[a]);
        cs_scene *da = NULL;
        CHECK_OK(ctx, cs_scene_save(ctx, src, pa));
        CHECK_OK(ctx, cs_scene_load(ctx, pa, &da));
        if (!da) continue;
        for (int b = 0; b < 5; b++) {
            char pb[4096], what[64];
            snprintf(pb, sizeof pb, "%s/pair_%d.%s", test_tmpdir(), a, ext[b]);
            snprintf(what, sizeof what, "%s -> %s", ext[a], ext[b]);
            cs_scene *db = NULL;
            CHECK_OK(ctx, cs_scene_save(ctx, da, pb));
            CHECK_OK(ctx, cs_scene_load(ctx, pb, &db));
            if (!db) continue;
            CHECK_MSG(cs_scene_source_format(db) == cs_format_from_path(pb), "%s: read as %s", what,
                      cs_format_name(cs_scene_source_format(db)));
            ix_errors e = ix_compare(da, db, true);
            ix_check(what, &e, &bound[b]);
            cs_scene_destroy(db);
        }
        cs_scene_destroy(da);
    }
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

/* `csplat compress` and `csplat info` as scripts use them. */
static int run_csplat(const char *args, char *out, size_t cap) {
    char cmd[8192], path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("sog_cli.out"));
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>&1", getenv("CSPLAT_CLI"), args, path);
    int status = system(cmd);
    unsigned char *b = test_read_file(path, NULL);
    snprintf(out, cap, "%s", b ? (const char *)b : "");
    free(b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(sog_cli_compress_and_info) {
    if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))
        SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");
    cs_context *ctx = test_context(1);
    cs_scene *src = ix_random_scene(ctx, 200, 1, 8);
    char in[4096], out[4096], args[16384], text[8192];
    snprintf(in, sizeof in, "%s", test_tmp("cli_in.ply"));
    snprintf(out, sizeof out, "%s", test_tmp("cli_out.sog"));
    CHECK_OK(ctx, cs_scene_save(ctx, src, in));
    snprintf(args, sizeof args, "compress '%s' '%s' --quality 0.8", in, out);
    CHECK(run_csplat(args, text, sizeof text) == 0);
    CHECK(strstr(text, "bytes/Gaussian") != NULL);
    cs_scene *back = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, out, &back));
    CHECK(back && cs_scene_count(back) == 200);
    cs_scene_destroy(back);
    snprintf(args, sizeof args, "info '%s'", out);
    CHECK(run_csplat(args, text, sizeof text) == 0 && strstr(text, "version     2 (bundled"));
    /* Bad usage: no SOG output, a quality out of range, a missing argument. */
    snprintf(args, sizeof args, "compress '%s' '%s'", in, in);
    CHECK(run_csplat(args, text, sizeof text) == 2);
    snprintf(args, sizeof args, "compress '%s' '%s' --quality 2", in, out);
    CHECK(run_csplat(args, text, sizeof text) == 2);
    CHECK(run_csplat("compress", text, sizeof text) == 2);
    /* Runtime failure: an unreadable input names the file, exit code 1. */
    snprintf(args, sizeof args, "compress '%s.missing' '%s'", in, out);
    CHECK(run_csplat(args, text, sizeof text) == 1 && strstr(text, ".missing"));
    const char *lod = test_data("playcanvas_playbot_sog/lod-meta.json");
    if (lod) {
        snprintf(args, sizeof args, "info '%s'", lod);
        CHECK(run_csplat(args, text, sizeof text) == 0);
        CHECK(strstr(text, "lod levels  7: 500000, 250000, 125000, 31000, 8406, 3000, 1873"));
    }
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

/* Files produced by tests/interop/splat_transform.sh in $CSPLAT_INTEROP_DIR: source.ply; for
 * each format X, cs.X (written by csplat) and st.X (written by splat-transform), and
 * NAME.st.ply, splat-transform's decode of NAME. Both readers of one file must agree to float
 * rounding; each file must match the source within its format's quantisation. */
TEST(interop_splat_transform_files) {
    const char *dir = getenv("CSPLAT_INTEROP_DIR");
    if (!dir || !*dir) SKIP("CSPLAT_INTEROP_DIR is not set (run tests/interop/splat_transform.sh)");
    cs_context *ctx = test_context(0);
    char path[4096];
    snprintf(path, sizeof path, "%s/source.ply", dir);
    cs_scene *src = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, path, &src));
    if (!src) {
        cs_context_destroy(ctx);
        return;
    }
    /* compress.sog: `csplat compress` output (csplat only; each Gaussian in its cube-canonical
     * frame with 7-bit rotations and opacity, so rotations and scales are checked through the
     * covariance, within the bound of sog_compress_writes_a_valid_deterministic_sog at
     * quality 0.5; measured 3.3%). */
    const char *fmts[5] = {"spz", "sog", "compressed.ply", "meta.json", "compress.sog"};
    const ix_errors strict = {
        .pos = 1e-5, .log_scale = 1e-5, .quat = 1e-6, .opacity = 1e-5, .dc = 1e-5, .sh = 1e-5};
    /* Against the source: the coarsest step of each format (SOG codebooks and palettes are
     * checked loosely: their error depends on the encoder's clustering). splat-transform's SOG
     * writer truncates where csplat rounds: up to a whole step in opacity and rotations. */
    const ix_errors quant[5] = {{.pos = 1.0 / 8192 + 1e-6,
                                 .log_scale = 1.0 / 32 + 1e-6,
                                 .quat = 2e-5,
                                 .opacity = 0.5 / 255 + 1e-6,
                                 .dc = 0.5 / (0.15 * 255) + 1e-6,
                                 .sh = 8.5 / 128 + 1e-6},
                                {.pos = 2e-4,
                                 .log_scale = 0.3,
                                 .quat = 4e-4,
                                 .opacity = 1.0 / 255 + 1e-5,
                                 .dc = 0.3,
                                 .sh = -1},
                                {.pos = 0.01,
                                 .log_scale = 0.01,
                                 .quat = 1e-5,
                                 .opacity = 0.5 / 255 + 1e-6,
                                 .dc = 0.05,
                                 .sh = 4.0 / 256 + 1e-5},
                                {.pos = 2e-4,
                                 .log_scale = 0.3,
                                 .quat = 4e-4,
                                 .opacity = 1.0 / 255 + 1e-5,
                                 .dc = 0.3,
                                 .sh = -1},
                                {.pos = 2e-4,
                                 .log_scale = -1,
                                 .quat = -1,
                                 .opacity = (0.5 * 255.0 / 127 + 0.5) / 255 + 1e-5,
                                 .dc = 0.3,
                                 .sh = -1}};
    /* SPZ's bytes cover DC colours in [-127.5, 127.5] / 38.25 and SH in [-1, 127/128]: compare
     * SPZ files with the source clamped to that range (real scenes exceed it). */
    cs_scene *clamped = NULL;
    cs_scene_params sp = cs_scene_get_params(src);
    CHECK_OK(ctx, cs_scene_create(ctx, sp.count, sp.sh_degree, &clamped));
    if (clamped) {
        cs_scene_params cp = cs_scene_get_params(clamped);
        size_t floats = (size_t)sp.count * (3 + 3 + 4 + 1 + 3 * (size_t)sp.sh_coeffs);
        memcpy(cp.means, sp.means, floats * sizeof(float));
        for (int64_t i = 0; i < sp.count; i++)
            for (int k = 0; k < 3 * sp.sh_coeffs; k++) {
                float *v = &cp.sh[(size_t)i * 3 * sp.sh_coeffs + (size_t)k];
                float lo = k < 3 ? -127.5f / 38.25f : -1.0f, hi = k < 3 ? 127.5f / 38.25f : 1.0f;
                *v = *v < lo ? lo : (*v > hi ? hi : *v);
            }
    }
    int checked = 0;
    for (int f = 0; f < 5; f++)
        for (int who = 0; who < 2; who++) {
            char file[4096], theirs[4200], what[64];
            if (f == 3) /* unbundled: a folder per writer */
                snprintf(file, sizeof file, "%s/%s_dir/meta.json", dir, who ? "st" : "cs");
            else
                snprintf(file, sizeof file, "%s/%s.%s", dir, who ? "st" : "cs", fmts[f]);
            snprintf(theirs, sizeof theirs, "%s.st.ply", file);
            snprintf(what, sizeof what, "%s written by %s", fmts[f],
                     who ? "splat-transform" : "csplat");
            cs_scene *ours = NULL, *st = NULL;
            if (cs_scene_load(ctx, file, &ours) != CS_OK) {
                if (cs__file_exists(file)) CHECK_MSG(0, "%s: %s", what, cs_context_last_error(ctx));
                continue;
            }
            CHECK_OK(ctx, cs_scene_load(ctx, theirs, &st));
            if (st) {
                ix_errors e = ix_compare(ours, st, false);
                char w2[128];
                snprintf(w2, sizeof w2, "%s: csplat vs splat-transform decode", what);
                ix_check(w2, &e, &strict);
                checked++;
            }
            ix_errors q = ix_compare(f == 0 && clamped ? clamped : src, ours, true);
            char w3[128];
            snprintf(w3, sizeof w3, "%s: decode vs source", what);
            ix_check(w3, &q, &quant[f]);
            if (f == 4) { /* its own frames and 7-bit rotations: compare covariances */
                double ce = max_covariance_error(src, ours);
                test_note("%s: covariance error %.4f", what, ce);
                CHECK_MSG(ce <= 0.045, "%s: covariance error %.4f", what, ce);
            }
            test_note("%s: vs source pos %.2g scale %.2g quat %.2g opacity %.2g dc %.2g sh %.2g",
                      what, q.pos, q.log_scale, q.quat, q.opacity, q.dc, q.sh);
            cs_scene_destroy(ours);
            cs_scene_destroy(st);
        }
    CHECK_MSG(checked > 0, "no file pairs found in %s", dir);
    cs_scene_destroy(clamped);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}
