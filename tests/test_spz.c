/*
 * test_spz.c - Niantic SPZ: fields written as the specification defines them (checked byte by
 * byte against hand-computed values, including the RUB <-> RDF flip), hand-built files of
 * versions 1 and 3 decoded to hand-computed parameters, round trips of versions 2-4 within each
 * attribute's quantisation step, the version-4 container layout, and malformed input (truncated
 * or corrupt streams, a gzip bomb, lying headers, unknown versions).
 *
 * Quantisation steps (spz README / load-spz.cc), the bounds the round trips check:
 *   position  2^-12 (12 fractional bits): error <= 2^-13
 *   log-scale 1/16: error <= 1/32
 *   opacity   1/255 in sigmoid space: error <= 0.5/255
 *   DC colour 1/(0.15 * 255) = 0.0261: error <= 0.0131
 *   rotation  v3/v4 9-bit magnitudes of (1/sqrt2): 1 - |dot| <= 2e-5; v2 8-bit xyz (steps of
 *             1/127.5, w = sqrt(1 - |xyz|^2) amplifies them near w = 0, up to ~0.12): <= 1e-2
 *   SH        band 1 buckets of 8/128, rest 16/128: error <= 4.5/128 and 8.5/128
 */
#include "formats.h"
#include "interop_check.h"
#include "sog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* gzip-compress (or decompress) a whole buffer; the result is malloc'd. */
static unsigned char *gz(const unsigned char *in, size_t len, size_t *out_len, bool compress) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int ok = compress ? deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY)
                      : inflateInit2(&zs, 16 + MAX_WBITS);
    if (ok != Z_OK) return NULL;
    size_t cap = compress ? len + 1024 : 64 << 20;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int zr = compress ? deflate(&zs, Z_FINISH) : inflate(&zs, Z_FINISH);
    *out_len = cap - zs.avail_out;
    if (compress) deflateEnd(&zs);
    else inflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void put24(unsigned char *p, int32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void header16(unsigned char *h, uint32_t version, uint32_t n, int degree, int fb,
                     int flags) {
    put32(h, 0x5053474e);
    put32(h + 4, version);
    put32(h + 8, n);
    h[12] = (unsigned char)degree;
    h[13] = (unsigned char)fb;
    h[14] = (unsigned char)flags;
    h[15] = 0;
}

TEST(spz_writes_fields_as_specified) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 1, 1, &s));
    cs_scene_params p = cs_scene_get_params(s);
    /* RDF (1.5, -0.25, 2) is RUB (1.5, 0.25, -2). */
    p.means[0] = 1.5f;
    p.means[1] = -0.25f;
    p.means[2] = 2.0f;
    p.log_scales[0] = -2.0f;  /* (-2 + 10) * 16 = 128 */
    p.log_scales[1] = -10.0f; /* 0 */
    p.log_scales[2] = 6.0f;   /* 256 -> clamped 255 */
    p.opacities[0] = 0.0f;    /* sigmoid 0.5 * 255 = 127.5 -> 128 */
    p.sh[0] = 1.0f;           /* 0.15 * 255 + 127.5 = 165.75 -> 166 */
    p.sh[1] = 0.0f;           /* 127.5 -> 128 */
    p.sh[2] = -1.0f;          /* 89.25 -> 89 */
    /* Rotation by 2 * acos(0.8) about RDF x: wxyz (0.8, 0.6, 0, 0); RUB keeps x. */
    p.quats[0] = 0.8f;
    p.quats[1] = 0.6f;
    p.quats[2] = 0.0f;
    p.quats[3] = 0.0f;
    /* SH band 1: coefficient 1 (odd in y) flips, 2 (odd in z) flips, 3 (odd in x) does not. */
    p.sh[3] = 0.5f;  /* -> -0.5: round(-64) + 128 = 64, bucket 8 -> 64 */
    p.sh[7] = 0.5f;  /* coefficient 2, green -> -0.5 -> 64 */
    p.sh[11] = 0.5f; /* coefficient 3, blue -> 0.5 -> 192 */
    const char *path = test_tmp("fields.spz");
    cs_spz_options opt = {.version = 3, .antialiased = 1};
    CHECK_OK(ctx, cs_scene_save_spz(ctx, s, path, &opt));
    size_t len, raw_len;
    unsigned char *file = test_read_file(path, &len);
    unsigned char *raw = file ? gz(file, len, &raw_len, false) : NULL;
    CHECK(raw && raw_len == 16 + 9 + 1 + 3 + 3 + 4 + 9);
    if (raw && raw_len == 45) {
        unsigned char want_hdr[16];
        header16(want_hdr, 3, 1, 1, 12, 1);
        CHECK(memcmp(raw, want_hdr, 16) == 0);
        const unsigned char *b = raw + 16;
        /* 1.5 * 4096 = 6144 = 0x001800; 0.25 -> 0x000400; -2 -> -8192 = 0xffe000. */
        const unsigned char pos[9] = {0x00, 0x18, 0x00, 0x00, 0x04, 0x00, 0x00, 0xe0, 0xff};
        CHECK(memcmp(b, pos, 9) == 0);
        CHECK(b[9] == 128);
        CHECK(b[10] == 166 && b[11] == 128 && b[12] == 89);
        CHECK(b[13] == 128 && b[14] == 0 && b[15] == 255);
        /* xyzw (0.6, 0, 0, 0.8): largest w (3); x: 511 * 0.6 / 0.70711 + 0.5 -> 434, y = z = 0.
         * comp = ((3 << 10 | 434) << 10 | 0) << 10 | 0. */
        uint32_t comp = (((3u << 10 | 434u) << 10) << 10);
        CHECK(cs__rd_u32le(b + 16) == comp);
        const unsigned char sh[9] = {64, 128, 128, 128, 64, 128, 128, 128, 192};
        CHECK(memcmp(b + 20, sh, 9) == 0);
    }
    free(raw);
    free(file);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(spz_reads_hand_built_v3_and_v1) {
    cs_context *ctx = test_context(1);
    /* Version 3, two Gaussians, degree 1, 8 fractional bits, no flags. */
    unsigned char raw[16 + 2 * (9 + 1 + 3 + 3 + 4 + 9)];
    memset(raw, 0, sizeof raw);
    header16(raw, 3, 2, 1, 8, 0);
    unsigned char *b = raw + 16;
    put24(b, 256);       /* x = 1 */
    put24(b + 3, 512);   /* y = 2 (RUB) -> -2 (RDF) */
    put24(b + 6, -768);  /* z = -3 (RUB) -> 3 */
    put24(b + 9, -1);    /* x = -1/256 */
    b[18] = 255;         /* alpha of Gaussian 0 -> logit(1 - 1e-6) */
    b[19] = 51;          /* alpha 0.2 */
    b[20] = 128;         /* colour (128/255 - 0.5) / 0.15 */
    b[26] = 96;          /* scale 96/16 - 10 = -4 */
    /* Gaussian 0: xyzw (0.6, 0, 0, 0.8) as above; Gaussian 1: largest y, x = -0.5 (sign bit). */
    put32(b + 32, ((3u << 10 | 434u) << 10) << 10);
    uint32_t mag = (uint32_t)(511.0 * 0.5 / 0.70710678 + 0.5); /* 361 */
    put32(b + 36, (((1u << 10) | 1u << 9 | mag) << 10) << 10);
    b[40] = 0;   /* SH coefficient 1 red: (0 - 128)/128 = -1, flipped -> 1 */
    b[44] = 192; /* coefficient 2 green: 0.5, flipped -> -0.5 */
    b[48] = 192; /* coefficient 3 blue: 0.5, not flipped */
    size_t zlen;
    unsigned char *z = gz(raw, sizeof raw, &zlen, true);
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs__codec_spz.parse(ctx, "v3", z, zlen, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.count == 2 && p.sh_degree == 1);
        CHECK(p.means[0] == 1.0f && p.means[1] == -2.0f && p.means[2] == 3.0f);
        CHECK(p.means[3] == -1.0f / 256.0f && p.means[4] == 0.0f && p.means[5] == 0.0f);
        CHECK_NEAR(p.opacities[0], log((1 - 1e-6) / 1e-6), 0.1);
        CHECK_NEAR(p.opacities[1], log(0.2 / 0.8), 1e-5);
        CHECK_NEAR(p.sh[0], (128.0 / 255.0 - 0.5) / 0.15, 1e-6);
        CHECK_NEAR(p.sh[1], -0.5 / 0.15, 1e-6);
        CHECK(p.log_scales[0] == -4.0f && p.log_scales[1] == -10.0f);
        double x = 0.70710678 * 434.0 / 511.0;
        CHECK_NEAR(p.quats[0], sqrt(1 - x * x), 1e-6);
        CHECK_NEAR(p.quats[1], x, 1e-6);
        CHECK(p.quats[2] == 0.0f && p.quats[3] == 0.0f);
        /* Gaussian 1: RUB xyzw (-0.5, ~0.866, 0, 0) -> RDF wxyz (0, -0.5, -0.866, 0). */
        double m = 0.70710678 * mag / 511.0;
        CHECK_NEAR(p.quats[4], 0.0, 1e-7);
        CHECK_NEAR(p.quats[5], -m, 1e-6);
        CHECK_NEAR(p.quats[6], -sqrt(1 - m * m), 1e-6);
        CHECK_NEAR(p.sh[3 + 0], 1.0, 1e-6);
        CHECK_NEAR(p.sh[6 + 1], -0.5, 1e-6);
        CHECK_NEAR(p.sh[9 + 2], 0.5, 1e-6);
        CHECK_NEAR(p.sh[3 + 1], 1.0, 1e-6); /* 0 bytes elsewhere: -1, band-1 coefficient 1 flips */
    }
    cs_scene_destroy(s);
    free(z);

    /* Version 1: float16 positions and 3-byte xyz rotations. */
    unsigned char v1[16 + 6 + 1 + 3 + 3 + 3];
    memset(v1, 0, sizeof v1);
    header16(v1, 1, 1, 0, 0, 0);
    v1[16 + 1] = 0x3c; /* half 1.0 (0x3c00) */
    v1[16 + 3] = 0x40; /* y: half 2.0 (0x4000) -> -2 */
    v1[16 + 5] = 0xc0; /* z: half -2.0 (0xc000) -> 2 */
    v1[16 + 13] = 255; /* rotation x = 255/127.5 - 1 = 1: w = 0 */
    v1[16 + 14] = 128;
    v1[16 + 15] = 128;
    z = gz(v1, sizeof v1, &zlen, true);
    CHECK_OK(ctx, cs__codec_spz.parse(ctx, "v1", z, zlen, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.means[0] == 1.0f && p.means[1] == -2.0f && p.means[2] == 2.0f);
        CHECK_NEAR(p.quats[1], 1.0, 1e-6);
        CHECK_NEAR(p.quats[2], -(128 / 127.5 - 1), 1e-6);
    }
    cs_scene_destroy(s);
    free(z);
    cs_context_destroy(ctx);
}

TEST(spz_round_trips_within_quantization) {
    cs_context *ctx = test_context(2);
    cs_scene *src = ix_random_scene(ctx, 500, 3, 11);
    for (int version = 2; version <= 4; version++) {
        char name[32];
        snprintf(name, sizeof name, "rt%d.spz", version);
        const char *path = test_tmp(name);
        cs_spz_options opt = {.version = version};
        CHECK_OK(ctx, cs_scene_save_spz(ctx, src, path, &opt));
        cs_scene *back = NULL;
        CHECK_OK(ctx, cs_scene_load(ctx, path, &back));
        if (!back) continue;
        CHECK(cs_scene_source_format(back) == CS_FORMAT_SPZ);
        ix_errors e = ix_compare(src, back, false);
        ix_errors bound = {.pos = 1.0 / 8192 + 1e-6, .log_scale = 1.0 / 32 + 1e-6,
                           .quat = version == 2 ? 1e-2 : 2e-5, .opacity = 0.5 / 255 + 1e-6,
                           .dc = 0.5 / (0.15 * 255) + 1e-6, .sh = 8.5 / 128 + 1e-6};
        ix_check(name, &e, &bound);
        test_note("v%d: pos %.2g scale %.2g quat %.2g opacity %.2g dc %.2g sh %.2g", version,
                  e.pos, e.log_scale, e.quat, e.opacity, e.dc, e.sh);
        cs_scene_file_info info;
        CHECK_OK(ctx, cs_scene_probe(ctx, path, &info));
        CHECK(info.format == CS_FORMAT_SPZ && info.version == version && info.count == 500 &&
              info.sh_degree == 3);
        cs_scene_destroy(back);
    }
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

TEST(spz_v4_layout_matches_v3_body) {
    cs_context *ctx = test_context(1);
    cs_scene *src = ix_random_scene(ctx, 40, 0, 5);
    const char *p3 = test_tmp("l3.spz");
    char p4[4096];
    snprintf(p4, sizeof p4, "%s", test_tmp("l4.spz"));
    cs_spz_options o3 = {.version = 3}, o4 = {.version = 4};
    CHECK_OK(ctx, cs_scene_save_spz(ctx, src, p3, &o3));
    CHECK_OK(ctx, cs_scene_save_spz(ctx, src, p4, &o4));
    size_t l3, l4, raw_len;
    unsigned char *f3 = test_read_file(p3, &l3), *f4 = test_read_file(p4, &l4);
    unsigned char *raw = gz(f3, l3, &raw_len, false);
    /* Degree 0: five streams (the empty SH array is omitted), TOC right after the header. */
    CHECK(f4 && l4 > 32 + 5 * 16);
    if (f4 && raw && l4 > 32 + 5 * 16) {
        CHECK(cs__rd_u32le(f4) == 0x5053474e && cs__rd_u32le(f4 + 4) == 4);
        CHECK(cs__rd_u32le(f4 + 8) == 40 && f4[12] == 0 && f4[13] == 12 && f4[15] == 5);
        CHECK(cs__rd_u32le(f4 + 16) == 32);
        const size_t sizes[5] = {360, 40, 120, 120, 160};
        size_t at = 32 + 5 * 16, body = 16;
        for (int i = 0; i < 5; i++) {
            uint64_t c = cs__rd_u64le(f4 + 32 + 16 * i), u = cs__rd_u64le(f4 + 40 + 16 * i);
            CHECK(u == sizes[i]);
            unsigned char out[512];
            size_t r = ZSTD_decompress(out, sizeof out, f4 + at, (size_t)c);
            /* Each stream is exactly the v3 body's array for that attribute. */
            CHECK(r == sizes[i] && memcmp(out, raw + body, sizes[i]) == 0);
            at += (size_t)c;
            body += sizes[i];
        }
        CHECK(at == l4);
    }
    free(raw);
    free(f3);
    free(f4);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}

TEST(spz_rejects_malformed_input) {
    cs_context *ctx = test_context(1);
    cs_scene *s = NULL;
    unsigned char raw[16 + 20];
    memset(raw, 0, sizeof raw);
    header16(raw, 3, 1, 0, 12, 0);
    size_t zlen;
    unsigned char *z = gz(raw, sizeof raw, &zlen, true);
    CHECK_OK(ctx, cs__codec_spz.parse(ctx, "ok", z, zlen, &s));
    cs_scene_destroy(s);
    /* Truncated compressed stream. */
    CHECK(cs__codec_spz.parse(ctx, "cut", z, zlen - 6, &s) == CS_ERR_FORMAT && !s);
    test_note("%s", cs_context_last_error(ctx));
    /* Corrupt deflate data. */
    z[12] ^= 0xff;
    z[13] ^= 0x55;
    CHECK(cs__codec_spz.parse(ctx, "corrupt", z, zlen, &s) != CS_OK && !s);
    free(z);
    /* Gzip bomb: the header says 1 Gaussian (20 bytes) but 32 MiB of zeros follow. */
    size_t big = (size_t)32 << 20;
    unsigned char *bomb = calloc(1, big);
    header16(bomb, 3, 1, 0, 12, 0);
    z = gz(bomb, big, &zlen, true);
    free(bomb);
    CHECK(cs__codec_spz.parse(ctx, "bomb", z, zlen, &s) == CS_ERR_FORMAT && !s);
    CHECK(strstr(cs_context_last_error(ctx), "more than") != NULL);
    free(z);
    /* A header declaring far more Gaussians than the file could hold. */
    header16(raw, 3, 4000000000u, 3, 12, 0);
    z = gz(raw, sizeof raw, &zlen, true);
    CHECK(cs__codec_spz.parse(ctx, "huge", z, zlen, &s) == CS_ERR_FORMAT && !s);
    CHECK(strstr(cs_context_last_error(ctx), "declares") != NULL);
    free(z);
    /* Unknown versions, gzip-wrapped or plain. */
    header16(raw, 7, 1, 0, 12, 0);
    z = gz(raw, sizeof raw, &zlen, true);
    CHECK(cs__codec_spz.parse(ctx, "v7", z, zlen, &s) == CS_ERR_UNSUPPORTED && !s);
    CHECK(cs__codec_spz.parse(ctx, "v7", raw, sizeof raw, &s) == CS_ERR_UNSUPPORTED && !s);
    free(z);
    /* SH degree 5 and fractional bits beyond 24. */
    header16(raw, 3, 1, 5, 12, 0);
    CHECK(cs__codec_spz.parse(ctx, "deg", raw, sizeof raw, &s) == CS_ERR_FORMAT);
    header16(raw, 3, 1, 0, 40, 0);
    CHECK(cs__codec_spz.parse(ctx, "fb", raw, sizeof raw, &s) == CS_ERR_FORMAT);
    /* Version 4: wrong stream count, a stream size that disagrees, corrupt zstd data. */
    cs_scene *src = ix_random_scene(ctx, 10, 0, 3);
    const char *path = test_tmp("bad4.spz");
    cs_spz_options o4 = {.version = 4};
    CHECK_OK(ctx, cs_scene_save_spz(ctx, src, path, &o4));
    size_t len;
    unsigned char *f = test_read_file(path, &len);
    if (f) {
        f[15] = 6;
        CHECK(cs__codec_spz.parse(ctx, "streams", f, len, &s) == CS_ERR_FORMAT);
        f[15] = 5;
        f[40] ^= 1; /* uncompressed size of stream 0 */
        CHECK(cs__codec_spz.parse(ctx, "usize", f, len, &s) == CS_ERR_FORMAT);
        f[40] ^= 1;
        unsigned char c0 = f[32], c1 = f[33];
        f[32] = 0xff; /* compressed size of stream 0 runs past the end */
        f[33] = 0xff;
        CHECK(cs__codec_spz.parse(ctx, "csize", f, len, &s) == CS_ERR_FORMAT);
        f[32] = c0;
        f[33] = c1;
        CHECK(cs__codec_spz.parse(ctx, "short", f, 20, &s) == CS_ERR_FORMAT);
        f[32 + 5 * 16 + 6] ^= 0xff; /* inside the first zstd frame */
        CHECK(cs__codec_spz.parse(ctx, "zstd", f, len, &s) != CS_OK && !s);
        free(f);
    }
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}
