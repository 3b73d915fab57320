/*
 * test_plycompressed.c - PlayCanvas compressed PLY: the packed words of a hand-computed two-
 * Gaussian scene, a hand-built file decoded to hand-computed values (including the optional
 * 12-property chunk layout), round trips within the quantisation steps, and malformed input.
 *
 * Quantisation steps (chunks of 256, bounds per chunk): position and log-scale 11/10/11 bits of
 * the chunk's range (error <= range / 2047 / 2 for x and z, range / 1023 / 2 for y); colour 8 bits
 * of the chunk's range of f_dc * SH_C0 + 0.5 (error <= range / 255 / 2 / SH_C0); opacity 8 bits
 * of sigmoid (<= 0.5/255); rotation 10 bits per smallest component over [-1/sqrt2, 1/sqrt2]
 * (1 - |dot| <= 1e-5); SH 8 bits over [-4, 4] with truncation, read at bucket centres
 * (<= 4/256 = 0.0157).
 */
#include "formats.h"
#include "interop_check.h"
#include "sog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Offset of the data following "end_header\n". */
static size_t data_start(const unsigned char *f, size_t len) {
    const char *e = f ? strstr((const char *)f, "end_header\n") : NULL;
    return e && (size_t)(e - (const char *)f) + 11 <= len ? (size_t)(e - (const char *)f) + 11 : 0;
}

TEST(plycompressed_packs_hand_computed_words) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 2, 1, &s));
    cs_scene_params p = cs_scene_get_params(s);
    /* Gaussian 0 at the origin, 1 at (1, 2, 3): Morton order keeps 0 first. */
    p.means[3] = 1.0f;
    p.means[4] = 2.0f;
    p.means[5] = 3.0f;
    p.log_scales[0] = p.log_scales[1] = p.log_scales[2] = -3.0f;
    p.log_scales[3] = -1.0f;
    p.log_scales[4] = -2.0f;
    p.log_scales[5] = -2.5f;
    p.opacities[1] = 30.0f; /* sigmoid ~1 -> 255 */
    /* SH [N, 4, 3]: Gaussian 1's DC red is sh[12]. */
    p.sh[12] = 1.0f / CS_SH_C0; /* red = 1.5 (Gaussian 0: 0.5) */
    p.sh[3] = 1.0f;             /* Gaussian 0, coefficient 1 red = f_rest_0: (1/8 + 0.5) * 256 */
    p.sh[12 + 3 * 2 + 2] = -4.5f; /* Gaussian 1, coefficient 2 blue = f_rest_(2*3 + 1): 0 */
    p.quats[4] = 0.0f;         /* Gaussian 1: wxyz (0, 0.6, 0, -0.8): largest z (3), negative */
    p.quats[5] = 0.6f;
    p.quats[7] = -0.8f;
    const char *path = test_tmp("hand.compressed.ply");
    CHECK_OK(ctx, cs_scene_save(ctx, s, path));
    size_t len;
    unsigned char *f = test_read_file(path, &len);
    size_t at = data_start(f, len);
    CHECK(f && strstr((const char *)f, "element chunk 1\n") && at > 0);
    CHECK(len == at + 18 * 4 + 2 * 16 + 2 * 9);
    if (f && at && len == at + 18 * 4 + 2 * 16 + 2 * 9) {
        const unsigned char *c = f + at, *v = c + 72, *sh = v + 32;
        const float bounds[18] = {0, 0, 0, 1, 2, 3, -3, -3, -3, -1, -2, -2.5f,
                                  0.5f, 0.5f, 0.5f, 1.5f, 0.5f, 0.5f};
        for (int i = 0; i < 18; i++) CHECK_NEAR(cs__rd_f32le(c + 4 * i), bounds[i], 1e-6);
        /* Gaussian 0: everything at the bottom of the range; identity rotation: largest w (0),
         * others (0 * sqrt2/2 + 0.5) * 1023 + 0.5 -> 512. Colour 0,0,0 (flat ranges give 0),
         * opacity 0.5 * 255 + 0.5 -> 128. */
        CHECK(cs__rd_u32le(v) == 0);
        CHECK(cs__rd_u32le(v + 4) == ((512u << 10 | 512u) << 10 | 512u));
        CHECK(cs__rd_u32le(v + 8) == 0);
        CHECK(cs__rd_u32le(v + 12) == 128u);
        /* Gaussian 1: the top of every range: 2047 << 21 | 1023 << 11 | 2047. */
        CHECK(cs__rd_u32le(v + 16) == (2047u << 21 | 1023u << 11 | 2047u));
        CHECK(cs__rd_u32le(v + 24) == (2047u << 21 | 1023u << 11 | 2047u));
        CHECK(cs__rd_u32le(v + 28) == (255u << 24 | 255u));
        /* Rotation made positive: (0, -0.6, 0, 0.8); w, x, y -> 512,
         * floor((0.5 - 0.6 * 0.70711) * 1023 + 0.5) = floor(77.98) = 77, 512. */
        uint32_t r = cs__rd_u32le(v + 20);
        CHECK(r >> 30 == 3);
        CHECK((r >> 20 & 1023) == 512 && (r >> 10 & 1023) == 77 && (r & 1023) == 512);
        /* SH bytes: channel-major f_rest; 1.0 -> trunc(0.625 * 256) = 160; 0 -> 128. */
        CHECK(sh[0] == 160 && sh[1] == 128 && sh[8] == 128);
        CHECK(sh[9 + 7] == 0 && sh[9 + 6] == 128);
    }
    free(f);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

/* A hand-built file with 12 chunk properties (colour absolute) in a shuffled order. */
TEST(plycompressed_reads_hand_built_file) {
    cs_context *ctx = test_context(1);
    const char *hdr = "ply\nformat binary_little_endian 1.0\ncomment hand made\n"
                      "element chunk 1\nproperty float max_x\nproperty float min_x\n"
                      "property float min_y\nproperty float max_y\nproperty float min_z\n"
                      "property float max_z\nproperty float min_scale_x\n"
                      "property float max_scale_x\nproperty float min_scale_y\n"
                      "property float max_scale_y\nproperty float min_scale_z\n"
                      "property float max_scale_z\nelement vertex 1\n"
                      "property uint packed_color\nproperty uint packed_position\n"
                      "property uint packed_rotation\nproperty uint packed_scale\nend_header\n";
    size_t hl = strlen(hdr);
    unsigned char buf[2048];
    memcpy(buf, hdr, hl);
    const float chunk[12] = {4, 0, -1, 1, 10, 20, -5, -1, -5, -1, -5, -1};
    for (int i = 0; i < 12; i++) cs__wr_f32le(buf + hl + 4 * i, chunk[i]);
    unsigned char *v = buf + hl + 48;
    /* colour r=255 (1.0), g=0, b=51 (0.2), alpha 204 (0.8) */
    uint32_t words[4] = {255u << 24 | 51u << 8 | 204u,
                         /* position: x 1023/2047 of [0,4], y 1023 (max), z 0 */
                         1023u << 21 | 1023u << 11 | 0u,
                         /* rotation: largest x (1); w = a, y = b, z = c; a = (1023/1023 - 0.5)
                          * * sqrt2 = 0.7071, b = c = (512/1023 - 0.5) * sqrt2 ~ 0.00069 */
                         (1u << 30) | 1023u << 20 | 512u << 10 | 512u,
                         /* scale: x max, y 0, z 2047 */
                         2047u << 21 | 0u << 11 | 2047u};
    for (int w = 0; w < 4; w++)
        for (int b = 0; b < 4; b++) v[4 * w + b] = (unsigned char)(words[w] >> (8 * b));
    cs_scene *s = NULL;
    CHECK(cs__codec_compressed_ply.detect(buf, hl + 64));
    CHECK_OK(ctx, cs__codec_compressed_ply.parse(ctx, "hand", buf, hl + 64, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK_NEAR(p.means[0], 4.0 * 1023 / 2047, 1e-5);
        CHECK_NEAR(p.means[1], 1.0, 1e-6);
        CHECK_NEAR(p.means[2], 10.0, 1e-6);
        CHECK_NEAR(p.sh[0], (1.0 - 0.5) / 0.28209479177387814, 1e-5);
        CHECK_NEAR(p.sh[1], (0.0 - 0.5) / 0.28209479177387814, 1e-5);
        CHECK_NEAR(p.sh[2], (0.2 - 0.5) / 0.28209479177387814, 1e-5);
        CHECK_NEAR(p.opacities[0], log(0.8 / 0.2), 1e-4);
        double a = 0.5 * sqrt(2.0), b = (512.0 / 1023 - 0.5) * sqrt(2.0);
        CHECK_NEAR(p.quats[0], a, 1e-5);
        CHECK_NEAR(p.quats[1], sqrt(1 - a * a - 2 * b * b), 1e-4);
        CHECK_NEAR(p.quats[2], b, 1e-6);
        CHECK_NEAR(p.log_scales[0], -1.0, 1e-6);
        CHECK_NEAR(p.log_scales[1], -5.0, 1e-6);
        CHECK_NEAR(p.log_scales[2], -1.0, 1e-6);
    }
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(plycompressed_round_trips_within_quantization) {
    cs_context *ctx = test_context(2);
    for (int degree = 0; degree <= 3; degree += 3) {
        cs_scene *src = ix_random_scene(ctx, 700, degree, 21 + (unsigned)degree);
        const char *path = test_tmp("rt.compressed.ply");
        CHECK_OK(ctx, cs_scene_save(ctx, src, path));
        cs_scene *back = NULL;
        CHECK_OK(ctx, cs_scene_load(ctx, path, &back));
        if (back) {
            CHECK(cs_scene_source_format(back) == CS_FORMAT_COMPRESSED_PLY);
            CHECK(cs_scene_sh_degree(back) == degree);
            /* Chunk ranges: at most the scene's (4 in position, 4 in log-scale, 3 * SH_C0 + tiny
             * in colour); the bounds use the whole-scene ranges. */
            ix_errors e = ix_compare(src, back, true);
            ix_errors bound = {.pos = 4.3 / 1023 / 2, .log_scale = 4.0 / 1023 / 2 + 1e-6,
                               .quat = 1e-5, .opacity = 0.5 / 255 + 1e-6,
                               .dc = 3.0 / 255 / 2 + 1e-5, .sh = 4.0 / 256 + 1e-6};
            ix_check("compressed ply", &e, &bound);
            test_note("degree %d: pos %.2g scale %.2g quat %.2g opacity %.2g dc %.2g sh %.2g",
                      degree, e.pos, e.log_scale, e.quat, e.opacity, e.dc, e.sh);
        }
        cs_scene_file_info info;
        CHECK_OK(ctx, cs_scene_probe(ctx, path, &info));
        CHECK(info.format == CS_FORMAT_COMPRESSED_PLY && info.count == 700 &&
              info.sh_degree == degree);
        cs_scene_destroy(back);
        cs_scene_destroy(src);
    }
    cs_context_destroy(ctx);
}

TEST(plycompressed_rejects_malformed_input) {
    cs_context *ctx = test_context(1);
    cs_scene *src = ix_random_scene(ctx, 300, 1, 9), *s = NULL;
    const char *path = test_tmp("bad.compressed.ply");
    CHECK_OK(ctx, cs_scene_save(ctx, src, path));
    size_t len;
    unsigned char *f = test_read_file(path, &len);
    CHECK_OK(ctx, cs__codec_compressed_ply.parse(ctx, "ok", f, len, &s));
    cs_scene_destroy(s);
    /* Truncated data, truncated header. */
    CHECK(cs__codec_compressed_ply.parse(ctx, "cut", f, len - 1, &s) == CS_ERR_FORMAT && !s);
    test_note("%s", cs_context_last_error(ctx));
    CHECK(cs__codec_compressed_ply.parse(ctx, "hdr", f, 100, &s) == CS_ERR_FORMAT && !s);
    /* A chunk count that disagrees with the vertex count. */
    char *e = strstr((char *)f, "element chunk 2");
    CHECK(e != NULL);
    if (e) {
        e[14] = '3';
        CHECK(cs__codec_compressed_ply.parse(ctx, "chunks", f, len, &s) == CS_ERR_FORMAT);
        e[14] = '2';
    }
    /* A property renamed: packed_scale missing; a list property. */
    char *ps = strstr((char *)f, "packed_scale");
    if (ps) {
        ps[7] = 'X';
        CHECK(cs__codec_compressed_ply.parse(ctx, "prop", f, len, &s) == CS_ERR_FORMAT);
        ps[7] = 's';
    }
    const char *list = "ply\nformat binary_little_endian 1.0\nelement chunk 1\n"
                       "property list uchar int min_x\nend_header\n";
    CHECK(cs__codec_compressed_ply.parse(ctx, "list", (const uint8_t *)list, strlen(list), &s) ==
          CS_ERR_FORMAT);
    const char *ascii = "ply\nformat ascii 1.0\nelement chunk 0\nend_header\n";
    CHECK(cs__codec_compressed_ply.parse(ctx, "ascii", (const uint8_t *)ascii, strlen(ascii),
                                         &s) == CS_ERR_UNSUPPORTED);
    /* Huge declared counts must not allocate. */
    const char *huge = "ply\nformat binary_little_endian 1.0\nelement chunk 99999999999\n"
                       "property float min_x\nend_header\n";
    CHECK(cs__codec_compressed_ply.parse(ctx, "huge", (const uint8_t *)huge, strlen(huge), &s) ==
          CS_ERR_FORMAT);
    free(f);
    cs_scene_destroy(src);
    cs_context_destroy(ctx);
}
