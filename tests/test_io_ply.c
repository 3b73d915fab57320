/*
 * test_io_ply.c - the Inria PLY codec: hand-written binary and ASCII files with known values,
 * property order and types, SH degree inference and the channel-major f_rest mapping, byte-exact
 * load/save, malformed and truncated inputs, non-finite values, threads, allocation failures.
 *
 * Files are built here from a property list and a value function, independently of the codec:
 * value(i, name) is a distinct, exactly representable number per vertex and property, so every
 * loaded parameter can be checked against the property it must have come from.
 */
#include "formats.h"
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte buffer, kept NUL-terminated (not counted in len) for strstr. */
typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = 2 * (b->len + n) + 256;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void buf_str(buf *b, const char *s) {
    buf_add(b, s, strlen(s));
}

static void buf_f32(buf *b, float v) {
    unsigned char le[4];
    cs__wr_f32le(le, v);
    buf_add(b, le, 4);
}

/* One vertex property of a generated file. */
typedef struct prop_spec {
    const char *type; /* PLY type name */
    const char *name;
} prop_spec;

/* A distinct value per vertex and property, exact in float: 100 i + code(name) + 0.25. */
static double value_of(int i, const char *name) {
    int code = 0, a = 0;
    if (strlen(name) == 1 && name[0] >= 'x' && name[0] <= 'z')
        code = 1 + name[0] - 'x';
    else if (sscanf(name, "f_dc_%d", &a) == 1)
        code = 10 + a;
    else if (sscanf(name, "f_rest_%d", &a) == 1)
        code = 20 + a;
    else if (strcmp(name, "opacity") == 0)
        code = 70;
    else if (sscanf(name, "scale_%d", &a) == 1)
        code = 80 + a;
    else if (sscanf(name, "rot_%d", &a) == 1)
        code = 90 + a;
    else
        code = 99; /* normals and unknown properties */
    return 100.0 * i + code + 0.25;
}

static bool is_int_type(const char *t) {
    return strcmp(t, "float") != 0 && strcmp(t, "double") != 0 && strcmp(t, "float32") != 0 &&
           strcmp(t, "float64") != 0;
}

/* Encode v as a little-endian PLY value of type t (integers take floor(v) mod the type). */
static void buf_value(buf *b, const char *t, double v) {
    unsigned char le[8];
    long long iv = (long long)floor(v);
    size_t n = 4;
    if (strcmp(t, "float") == 0 || strcmp(t, "float32") == 0) {
        cs__wr_f32le(le, (float)v);
    } else if (strcmp(t, "double") == 0 || strcmp(t, "float64") == 0) {
        memcpy(le, &v, 8); /* the test host is little-endian, as csplat's targets are */
        n = 8;
    } else {
        n = strstr(t, "char") || strstr(t, "8") ? 1 : strstr(t, "short") || strstr(t, "16") ? 2 : 4;
        for (size_t k = 0; k < n; k++) le[k] = (unsigned char)((unsigned long long)iv >> (8 * k));
    }
    buf_add(b, le, n);
}

/* A PLY file: header (format "binary_little_endian" or "ascii", optional extra header lines
 * before the vertex element), then count vertices of value_of. */
static buf make_ply(const char *format, const char *extra, const prop_spec *props, int n_props,
                    int count) {
    buf b = {0};
    char line[256];
    buf_str(&b, "ply\n");
    snprintf(line, sizeof line, "format %s 1.0\n", format);
    buf_str(&b, line);
    if (extra) buf_str(&b, extra);
    snprintf(line, sizeof line, "element vertex %d\n", count);
    buf_str(&b, line);
    for (int j = 0; j < n_props; j++) {
        snprintf(line, sizeof line, "property %s %s\n", props[j].type, props[j].name);
        buf_str(&b, line);
    }
    buf_str(&b, "end_header\n");
    bool ascii = strcmp(format, "ascii") == 0;
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < n_props; j++) {
            double v = value_of(i, props[j].name);
            if (!ascii) {
                buf_value(&b, props[j].type, v);
                continue;
            }
            if (is_int_type(props[j].type))
                snprintf(line, sizeof line, "%lld", (long long)floor(v));
            else
                snprintf(line, sizeof line, "%.9g", v);
            buf_str(&b, line);
            buf_str(&b, j + 1 < n_props ? " " : "\n");
        }
    }
    return b;
}

/* The Inria property list for SH degree d (with normals), as plyfile writes it. */
static int inria_props(int degree, prop_spec *out, char names[][24]) {
    static const char *const lead[] = {"x",  "y",      "z",      "nx",    "ny",
                                       "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    static const char *const tail[] = {"opacity", "scale_0", "scale_1", "scale_2",
                                       "rot_0",   "rot_1",   "rot_2",   "rot_3"};
    int n = 0, k = (degree + 1) * (degree + 1);
    for (int i = 0; i < 9; i++) out[n++] = (prop_spec){"float", lead[i]};
    for (int j = 0; j < 3 * (k - 1); j++) {
        snprintf(names[j], 24, "f_rest_%d", j);
        out[n++] = (prop_spec){"float", names[j]};
    }
    for (int i = 0; i < 8; i++) out[n++] = (prop_spec){"float", tail[i]};
    return n;
}

static cs_status parse(cs_context *ctx, const buf *b, cs_scene **out) {
    return cs__codec_ply.parse(ctx, "mem.ply", b->data, b->len, out);
}

/* Every parameter equals value_of of the property it comes from (f_rest channel-major). */
static void check_values(cs_scene *s, int count, int degree) {
    cs_scene_params p = cs_scene_get_params(s);
    int k = (degree + 1) * (degree + 1);
    CHECK(p.count == count && p.sh_degree == degree && p.sh_coeffs == k);
    if (p.count != count || p.sh_coeffs != k) return;
    char name[32];
    for (int i = 0; i < count; i++) {
        for (int a = 0; a < 3; a++) {
            snprintf(name, sizeof name, "%c", 'x' + a);
            CHECK(p.means[3 * i + a] == (float)value_of(i, name));
            snprintf(name, sizeof name, "scale_%d", a);
            CHECK(p.log_scales[3 * i + a] == (float)value_of(i, name));
            snprintf(name, sizeof name, "f_dc_%d", a);
            CHECK(p.sh[3 * k * i + a] == (float)value_of(i, name));
        }
        for (int a = 0; a < 4; a++) {
            snprintf(name, sizeof name, "rot_%d", a);
            CHECK(p.quats[4 * i + a] == (float)value_of(i, name));
        }
        CHECK(p.opacities[i] == (float)value_of(i, "opacity"));
        for (int c = 0; c < 3; c++)
            for (int coef = 1; coef < k; coef++) {
                snprintf(name, sizeof name, "f_rest_%d", c * (k - 1) + coef - 1);
                CHECK_MSG(p.sh[3 * k * i + 3 * coef + c] == (float)value_of(i, name),
                          "vertex %d sh[%d][%d] != %s", i, coef, c, name);
            }
    }
}

TEST(ply_binary_inria_layout_values) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(0, props, names);
    buf b = make_ply("binary_little_endian", NULL, props, n, 3);
    cs_scene *s = NULL;
    CHECK_OK(ctx, parse(ctx, &b, &s));
    if (s) {
        check_values(s, 3, 0);
        cs_scene_params p = cs_scene_get_params(s);
        /* Spot values by hand: vertex 2's y is 200 + 2 + 0.25, its rot_3 200 + 93 + 0.25. */
        CHECK(p.means[7] == 202.25f && p.quats[11] == 293.25f && p.opacities[1] == 170.25f);
    }
    cs_scene_destroy(s);
    free(b.data);
    cs_context_destroy(ctx);
}

TEST(ply_ascii_hand_written_crlf_comments) {
    cs_context *ctx = test_context(1);
    const char *text =
        "ply\r\nformat ascii 1.0\r\ncomment written by hand\r\nobj_info csplat test\r\n"
        "element vertex 2\r\nproperty float x\r\nproperty float y\r\nproperty float z\r\n"
        "property float f_dc_0\r\nproperty float f_dc_1\r\nproperty float f_dc_2\r\n"
        "property float opacity\r\nproperty float scale_0\r\nproperty float scale_1\r\n"
        "property float scale_2\r\nproperty float rot_0\r\nproperty float rot_1\r\n"
        "property float rot_2\r\nproperty float rot_3\r\nend_header\r\n"
        "1 2 3 0.5 -0.25 1.5 -2 -1 -2 -3 0.5 0.5 -0.5 0.5\r\n"
        "-1.5 1e-3 4 0.1 0 -0 2.5 0 0 0 1 0 0 0\r\n";
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs__codec_ply.parse(ctx, "hand.ply", (const uint8_t *)text, strlen(text), &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.count == 2 && p.sh_degree == 0);
        CHECK(p.means[0] == 1.0f && p.means[1] == 2.0f && p.means[2] == 3.0f);
        CHECK(p.means[3] == -1.5f && p.means[4] == 0.001f && p.means[5] == 4.0f);
        CHECK(p.sh[0] == 0.5f && p.sh[1] == -0.25f && p.sh[2] == 1.5f);
        CHECK(p.sh[3] == 0.1f && p.sh[5] == 0.0f && signbit(p.sh[5]));
        CHECK(p.opacities[0] == -2.0f && p.opacities[1] == 2.5f);
        CHECK(p.log_scales[0] == -1.0f && p.log_scales[2] == -3.0f && p.log_scales[5] == 0.0f);
        CHECK(p.quats[0] == 0.5f && p.quats[2] == -0.5f && p.quats[4] == 1.0f);
        CHECK(p.quats[7] == 0.0f);
    }
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(ply_shuffled_order_no_normals_unknown_properties) {
    cs_context *ctx = test_context(1);
    /* gsplat-style (no normals), shuffled, with extra properties of several sizes between. */
    static const prop_spec props[] = {
        {"float", "rot_2"},   {"uchar", "red"},    {"float", "opacity"}, {"float", "z"},
        {"double", "extra"},  {"float", "f_dc_1"}, {"float", "scale_1"}, {"float", "x"},
        {"short", "label"},   {"float", "rot_0"},  {"float", "f_dc_0"},  {"float", "scale_2"},
        {"float", "y"},       {"float", "rot_3"},  {"float", "f_dc_2"},  {"float", "rot_1"},
        {"float", "scale_0"}, {"uchar", "alpha"},
    };
    int n = (int)(sizeof props / sizeof *props);
    const char *formats[2] = {"binary_little_endian", "ascii"};
    for (int f = 0; f < 2; f++) {
        buf b = make_ply(formats[f], NULL, props, n, 5);
        cs_scene *s = NULL;
        CHECK_OK(ctx, parse(ctx, &b, &s));
        if (s) check_values(s, 5, 0);
        cs_scene_destroy(s);
        free(b.data);
    }
    cs_context_destroy(ctx);
}

TEST(ply_numeric_types_converted) {
    cs_context *ctx = test_context(1);
    static const prop_spec props[] = {
        {"double", "x"},      {"int", "y"},         {"uchar", "z"},       {"short", "f_dc_0"},
        {"ushort", "f_dc_1"}, {"char", "f_dc_2"},   {"uint", "opacity"},  {"float64", "scale_0"},
        {"int16", "scale_1"}, {"uint8", "scale_2"}, {"float32", "rot_0"}, {"int32", "rot_1"},
        {"uint32", "rot_2"},  {"int8", "rot_3"},
    };
    int n = (int)(sizeof props / sizeof *props);
    const char *formats[2] = {"binary_little_endian", "ascii"};
    for (int f = 0; f < 2; f++) {
        buf b = make_ply(formats[f], NULL, props, n, 1); /* vertex 0: integer parts code */
        cs_scene *s = NULL;
        CHECK_OK(ctx, parse(ctx, &b, &s));
        if (s) {
            cs_scene_params p = cs_scene_get_params(s);
            CHECK(p.means[0] == 1.25f);                      /* double keeps the fraction */
            CHECK(p.means[1] == 2.0f && p.means[2] == 3.0f); /* integers floor it */
            CHECK(p.sh[0] == 10.0f && p.sh[1] == 11.0f && p.sh[2] == 12.0f);
            CHECK(p.opacities[0] == 70.0f);
            CHECK(p.log_scales[0] == 80.25f && p.log_scales[1] == 81.0f);
            CHECK(p.log_scales[2] == 82.0f);
            CHECK(p.quats[0] == 90.25f && p.quats[1] == 91.0f && p.quats[3] == 93.0f);
        }
        cs_scene_destroy(s);
        free(b.data);
    }
    /* Signed and unsigned ranges: bytes 0xFF as char are -1, as uchar 255. */
    const char *hdr =
        "ply\nformat binary_little_endian 1.0\nelement vertex 1\n"
        "property char x\nproperty uchar y\nproperty short z\nproperty ushort f_dc_0\n"
        "property int f_dc_1\nproperty uint f_dc_2\nproperty float opacity\n"
        "property float scale_0\nproperty float scale_1\nproperty float scale_2\n"
        "property float rot_0\nproperty float rot_1\nproperty float rot_2\n"
        "property float rot_3\nend_header\n";
    buf b = {0};
    buf_str(&b, hdr);
    unsigned char ff[1 + 1 + 2 + 2 + 4 + 4];
    memset(ff, 0xFF, sizeof ff);
    buf_add(&b, ff, sizeof ff);
    for (int i = 0; i < 8; i++) buf_f32(&b, 0.0f);
    cs_scene *s = NULL;
    CHECK_OK(ctx, parse(ctx, &b, &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.means[0] == -1.0f && p.means[1] == 255.0f && p.means[2] == -1.0f);
        CHECK(p.sh[0] == 65535.0f && p.sh[1] == -1.0f && p.sh[2] == 4294967295.0f);
    }
    cs_scene_destroy(s);
    free(b.data);
    cs_context_destroy(ctx);
}

TEST(ply_sh_degree_inferred_from_f_rest_count) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    for (int d = 0; d <= 3; d++) {
        int n = inria_props(d, props, names);
        buf b = make_ply("binary_little_endian", NULL, props, n, 4);
        cs_scene *s = NULL;
        CHECK_OK(ctx, parse(ctx, &b, &s));
        if (s) check_values(s, 4, d);
        cs_scene_destroy(s);
        free(b.data);
    }
    /* 10 f_rest properties match no degree: the message names the count. */
    int n = inria_props(1, props, names);
    prop_spec more[64];
    memcpy(more, props, sizeof(prop_spec) * (size_t)n);
    more[n] = (prop_spec){"float", "f_rest_9"};
    buf b = make_ply("binary_little_endian", NULL, more, n + 1, 1);
    cs_scene *s = NULL;
    CHECK(parse(ctx, &b, &s) == CS_ERR_FORMAT && s == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "mem.ply: 10 f_rest_* properties") != NULL);
    free(b.data);
    cs_context_destroy(ctx);
}

TEST(ply_f_rest_channel_major_mapping) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(1, props, names);
    buf b = make_ply("binary_little_endian", NULL, props, n, 2);
    cs_scene *s = NULL;
    CHECK_OK(ctx, parse(ctx, &b, &s));
    if (s) {
        /* Degree 1, K = 4, sh [N,4,3]: f_rest_0..2 are red coefficients 1..3, f_rest_3..5 green,
         * f_rest_6..8 blue. value_of(1, f_rest_j) = 100 + 20 + j + 0.25. */
        cs_scene_params p = cs_scene_get_params(s);
        const float *sh1 = p.sh + 12;                                       /* vertex 1 */
        CHECK(sh1[0] == 110.25f && sh1[1] == 111.25f && sh1[2] == 112.25f); /* f_dc */
        CHECK(sh1[3 * 1 + 0] == 120.25f); /* coefficient 1 red   = f_rest_0 */
        CHECK(sh1[3 * 2 + 0] == 121.25f); /* coefficient 2 red   = f_rest_1 */
        CHECK(sh1[3 * 3 + 0] == 122.25f); /* coefficient 3 red   = f_rest_2 */
        CHECK(sh1[3 * 1 + 1] == 123.25f); /* coefficient 1 green = f_rest_3 */
        CHECK(sh1[3 * 3 + 1] == 125.25f); /* coefficient 3 green = f_rest_5 */
        CHECK(sh1[3 * 1 + 2] == 126.25f); /* coefficient 1 blue  = f_rest_6 */
        CHECK(sh1[3 * 3 + 2] == 128.25f); /* coefficient 3 blue  = f_rest_8 */
    }
    cs_scene_destroy(s);
    free(b.data);
    cs_context_destroy(ctx);
}

/* The canonical file for a scene of random float bits: written by the test from the spec. */
static buf canonical_file(int degree, int count, unsigned long long seed) {
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(degree, props, names);
    buf b = {0};
    char line[64];
    snprintf(line, sizeof line, "ply\nformat binary_little_endian 1.0\nelement vertex %d\n", count);
    buf_str(&b, line);
    for (int j = 0; j < n; j++) {
        snprintf(line, sizeof line, "property float %s\n", props[j].name);
        buf_str(&b, line);
    }
    buf_str(&b, "end_header\n");
    test_rng r = test_rng_seed(seed);
    for (int i = 0; i < count; i++)
        for (int j = 0; j < n; j++) {
            unsigned bits = test_rng_u32(&r);
            if (j >= 3 && j < 6)
                bits = 0; /* normals are written as 0 */
            else if (test_rng_u32(&r) % 8 == 0)
                bits = 0x80000000u; /* -0.0 */
            unsigned char le[4] = {(unsigned char)bits, (unsigned char)(bits >> 8),
                                   (unsigned char)(bits >> 16), (unsigned char)(bits >> 24)};
            buf_add(&b, le, 4);
        }
    return b;
}

TEST(ply_load_save_byte_identical) {
    cs_context *ctx = test_context(2);
    for (int d = 0; d <= 3; d++) {
        buf b = canonical_file(d, 301, 1234 + (unsigned)d);
        char in[4096], out[4096];
        snprintf(in, sizeof in, "%s", test_tmp("canonical_in.ply"));
        snprintf(out, sizeof out, "%s", test_tmp("canonical_out.ply"));
        CHECK(test_write_file(in, b.data, b.len));
        cs_scene *s = NULL;
        CHECK_OK(ctx, cs_scene_load(ctx, in, &s));
        if (s) {
            CHECK(cs_scene_source_format(s) == CS_FORMAT_PLY && cs_scene_sh_degree(s) == d);
            CHECK_OK(ctx, cs_scene_save(ctx, s, out));
            size_t len = 0;
            unsigned char *got = test_read_file(out, &len);
            CHECK_MSG(got && len == b.len && memcmp(got, b.data, len) == 0,
                      "degree %d: saved file differs (%zu vs %zu bytes)", d, len, b.len);
            free(got);
        }
        cs_scene_destroy(s);
        free(b.data);
    }
    cs_context_destroy(ctx);
}

TEST(ply_writer_header_is_canonical) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 3, 1, &s));
    cs_scene_get_params(s).means[0] = -0.0f;
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("header.ply"));
    CHECK_OK(ctx, cs_scene_save(ctx, s, path));
    size_t len = 0;
    unsigned char *got = test_read_file(path, &len);
    const char *head = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
                       "property float x\nproperty float y\nproperty float z\n"
                       "property float nx\nproperty float ny\nproperty float nz\n"
                       "property float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\n"
                       "property float f_rest_0\n";
    const char *tail = "property float f_rest_8\nproperty float opacity\n"
                       "property float scale_0\nproperty float scale_1\nproperty float scale_2\n"
                       "property float rot_0\nproperty float rot_1\nproperty float rot_2\n"
                       "property float rot_3\nend_header\n";
    CHECK(got && memcmp(got, head, strlen(head)) == 0);
    const char *end = got ? strstr((const char *)got, "end_header\n") : NULL;
    size_t body = end ? (size_t)(end - (const char *)got) + 11 : 0;
    CHECK(end && body >= strlen(tail) && memcmp(end + 11 - strlen(tail), tail, strlen(tail)) == 0);
    /* 3 records of 3 + 3 + 3 + 9 + 1 + 3 + 4 = 26 floats; the -0.0 keeps its sign bit. */
    CHECK(len == body + 3 * 26 * 4);
    CHECK(got && len > body + 3 && got[body + 3] == 0x80 && got[body] == 0);
    CHECK(got && len > body + 40 && cs__rd_f32le(got + body + 4 * 22) == 1.0f); /* rot_0 = 1 */
    free(got);
    cs_scene_destroy(s);
    /* An empty scene round-trips as "element vertex 0" and no body. */
    CHECK_OK(ctx, cs_scene_create(ctx, 0, 2, &s));
    CHECK_OK(ctx, cs_scene_save(ctx, s, path));
    cs_scene_destroy(s);
    s = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, path, &s));
    CHECK(s && cs_scene_count(s) == 0 && cs_scene_sh_degree(s) == 2);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(ply_other_elements_before_and_after_vertex) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(0, props, names);
    /* Binary: a face element with a list before the vertex element, an edge element after. */
    const char *extra = "comment faces first\nelement face 2\n"
                        "property list uchar int vertex_indices\nproperty uchar flags\n";
    buf v = make_ply("binary_little_endian", extra, props, n, 2);
    const char *end = strstr((const char *)v.data, "end_header\n") + 11;
    size_t header = (size_t)(end - (const char *)v.data);
    buf b = {0};
    buf_add(&b, v.data, header);
    static const unsigned char faces[] = {3, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 7, 0, 9};
    buf_add(&b, faces, sizeof faces); /* face 0: 3 indices, flags 7; face 1: 0 indices, 9 */
    buf_add(&b, v.data + header, v.len - header);
    static const unsigned char edges[] = {1, 2, 3, 4};
    buf_add(&b, edges, sizeof edges);
    /* The element after the vertex is declared in the header, after the vertex properties. */
    buf h = {0};
    const char *vend = strstr((const char *)b.data, "end_header\n");
    buf_add(&h, b.data, (size_t)(vend - (const char *)b.data));
    buf_str(&h, "element edge 1\nproperty int a\n");
    buf_add(&h, vend, b.len - (size_t)(vend - (const char *)b.data));
    cs_scene *s = NULL;
    CHECK_OK(ctx, parse(ctx, &h, &s));
    if (s) check_values(s, 2, 0);
    cs_scene_destroy(s);
    free(v.data);
    free(b.data);
    free(h.data);

    /* ASCII: the same layout. */
    buf av = make_ply("ascii", extra, props, n, 2);
    end = strstr((const char *)av.data, "end_header\n") + 11;
    header = (size_t)(end - (const char *)av.data);
    buf a = {0};
    buf_add(&a, av.data, header);
    buf_str(&a, "3 1 2 3 7\n0 9\n");
    buf_add(&a, av.data + header, av.len - header);
    buf_str(&a, "1234\n");
    s = NULL;
    CHECK_OK(ctx, parse(ctx, &a, &s));
    if (s) check_values(s, 2, 0);
    cs_scene_destroy(s);
    free(av.data);
    free(a.data);
    cs_context_destroy(ctx);
}

/* True when word w is one of the space-separated words of list. */
static bool word_in(const char *list, const char *w) {
    size_t n = strlen(w);
    for (const char *p = list; p && (p = strstr(p, w)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return true;
    return false;
}

/* A header with the Inria degree-0 properties (no normals) minus the words of `drop`, plus the
 * `add` lines. */
static void bad_header(buf *b, const char *format, const char *count, const char *drop,
                       const char *add) {
    static const char *const names[] = {"x",      "y",       "z",       "f_dc_0",  "f_dc_1",
                                        "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                                        "rot_0",  "rot_1",   "rot_2",   "rot_3"};
    char line[128];
    snprintf(line, sizeof line, "ply\nformat %s 1.0\nelement vertex %s\n", format, count);
    buf_str(b, line);
    for (int i = 0; i < 14; i++) {
        if (drop && word_in(drop, names[i])) continue;
        snprintf(line, sizeof line, "property float %s\n", names[i]);
        buf_str(b, line);
    }
    if (add) buf_str(b, add);
    buf_str(b, "end_header\n");
}

/* The 14 required vertex properties (Inria order, no normals). */
#define VERTEX_PROPS                                                                               \
    "property float x\nproperty float y\nproperty float z\nproperty float f_dc_0\n"                \
    "property float f_dc_1\nproperty float f_dc_2\nproperty float opacity\n"                       \
    "property float scale_0\nproperty float scale_1\nproperty float scale_2\n"                     \
    "property float rot_0\nproperty float rot_1\nproperty float rot_2\nproperty float rot_3\n"

typedef struct bad_case {
    const char *what;
    const char *format, *count, *drop, *add, *body; /* body: raw text after the header */
    size_t zero_bytes;                              /* or this many zero bytes */
    cs_status status;
    const char *message; /* expected after "bad.ply: " */
} bad_case;

TEST(ply_malformed_inputs_named_errors) {
    cs_context *ctx = test_context(1);
    static const bad_case cases[] = {
        {"big-endian", "binary_big_endian", "1", NULL, NULL, NULL, 56, CS_ERR_UNSUPPORTED,
         "binary_big_endian is not supported"},
        {"missing properties", "binary_little_endian", "1", "y opacity rot_3", NULL, NULL, 44,
         CS_ERR_FORMAT, "missing vertex properties: y, opacity, rot_3"},
        {"count beyond the file", "binary_little_endian", "1000000000000", NULL, NULL, NULL, 100,
         CS_ERR_FORMAT,
         "vertex count 1000000000000 needs 56000000000000 bytes but the file has 100"},
        {"count overflow", "binary_little_endian", "9223372036854775807", NULL, NULL, NULL, 56,
         CS_ERR_FORMAT, "vertex count 9223372036854775807 times 56 bytes per vertex overflows"},
        {"count too large", "binary_little_endian", "99999999999999999999", NULL, NULL, NULL, 0,
         CS_ERR_FORMAT, "element count 99999999999999999999 is too large"},
        {"negative count", "binary_little_endian", "-5", NULL, NULL, NULL, 0, CS_ERR_FORMAT,
         "negative element count -5"},
        {"count not a number", "ascii", "12abc", NULL, NULL, NULL, 0, CS_ERR_FORMAT,
         "element count '12abc' is not a number"},
        {"ascii count beyond the file", "ascii", "1000", NULL, NULL, "1 2 3\n", 0, CS_ERR_FORMAT,
         "vertex count 1000 needs at least 27999 bytes but the file has 6"},
        {"non-numeric ascii", "ascii", "1", NULL, NULL, "1 2 abc 4 5 6 7 8 9 10 11 12 13 14\n", 0,
         CS_ERR_FORMAT, "vertex 0, property 'z': 'abc' is not a number"},
        {"ascii ends early", "ascii", "2", NULL, NULL,
         "1.00000 2 3 4 5 6 7 8 9 10 11 12 13 14\n1.00000 2 3 4 5 6 7 8 9 10 11\n", 0,
         CS_ERR_FORMAT, "truncated at vertex 1 of 2"},
        {"f_rest count", "binary_little_endian", "1", NULL,
         "property float f_rest_0\nproperty float f_rest_1\n", NULL, 64, CS_ERR_FORMAT,
         "2 f_rest_* properties; expected 0, 9, 24 or 45"},
        {"f_rest gap", "binary_little_endian", "1", NULL,
         "property float f_rest_0\nproperty float f_rest_1\nproperty float f_rest_2\n"
         "property float f_rest_3\nproperty float f_rest_4\nproperty float f_rest_5\n"
         "property float f_rest_6\nproperty float f_rest_7\nproperty float f_rest_10\n",
         NULL, 92, CS_ERR_FORMAT, "property 'f_rest_10' is outside f_rest_0..f_rest_8"},
        {"duplicate", "binary_little_endian", "1", NULL, "property float x\n", NULL, 60,
         CS_ERR_FORMAT, "duplicate vertex property 'x'"},
        {"list in vertex", "binary_little_endian", "1", "opacity",
         "property list uchar float opacity\n", NULL, 60, CS_ERR_FORMAT,
         "vertex property 'opacity' is a list"},
        {"unknown type", "binary_little_endian", "1", NULL, "property half extra\n", NULL, 60,
         CS_ERR_FORMAT, "unknown type in property 'extra'"},
        {"unknown format", "binary", "1", NULL, NULL, NULL, 56, CS_ERR_FORMAT,
         "unknown PLY format 'binary'"},
        {"unexpected line", "binary_little_endian", "1", NULL, "elephant 3\n", NULL, 56,
         CS_ERR_FORMAT, "unexpected header line 'elephant 3'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const bad_case *k = &cases[c];
        buf b = {0};
        bad_header(&b, k->format, k->count, k->drop, k->add);
        if (k->body) buf_str(&b, k->body);
        for (size_t i = 0; i < k->zero_bytes; i++) buf_add(&b, "", 1);
        cs_scene *s = NULL;
        cs_status st = cs__codec_ply.parse(ctx, "bad.ply", b.data, b.len, &s);
        char want[256];
        snprintf(want, sizeof want, "bad.ply: %s", k->message);
        CHECK_MSG(st == k->status && s == NULL && strstr(cs_context_last_error(ctx), want),
                  "%s: %s: %s", k->what, cs_status_string(st), cs_context_last_error(ctx));
        cs_scene_destroy(s);
        free(b.data);
    }
    /* Whole-file cases that do not fit the table. */
    static const struct {
        const char *text, *message;
    } raw[] = {
        {"ply\nformat ascii 1.0\nelement vertex 1\n", "truncated header (no end_header line)"},
        {"plx\nformat ascii 1.0\nend_header\n", "not a PLY file"},
        {"ply\nformat ascii 2.0\nend_header\n", "PLY version '2.0'"},
        {"ply\nproperty float x\nend_header\n", "property before any element"},
        {"ply\nelement vertex 0\nend_header\n", "no format line"},
        {"ply\nformat ascii 1.0\nelement face 0\nend_header\n", "no 'vertex' element"},
        {"ply\nformat binary_little_endian 1.0\nelement face 2\n"
         "property list uchar int vertex_indices\nelement vertex 0\n" VERTEX_PROPS
         "end_header\n\x03\x01",
         "element 'face' is truncated"},
        {"ply\nformat binary_little_endian 1.0\nelement face 9\nproperty int a\n"
         "element vertex 0\n" VERTEX_PROPS "end_header\n\x03\x01",
         "element 'face' count 9 needs more than the 2 bytes left"},
        {"ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int i\nelement vertex "
         "0\n" VERTEX_PROPS "end_header\n-3 1 2 3\n",
         "element 'face': list length '-3' is not a count"},
        {"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\xff\x01\n"
         "end_header\n",
         "missing vertex properties: y, z, f_dc_0"},
    };
    for (size_t c = 0; c < sizeof raw / sizeof *raw; c++) {
        cs_scene *s = NULL;
        cs_status st = cs__codec_ply.parse(ctx, "bad.ply", (const uint8_t *)raw[c].text,
                                           strlen(raw[c].text), &s);
        char want[256];
        snprintf(want, sizeof want, "bad.ply: %s", raw[c].message);
        CHECK_MSG(st != CS_OK && s == NULL && strstr(cs_context_last_error(ctx), want),
                  "case %zu: %s: %s", c, cs_status_string(st), cs_context_last_error(ctx));
        cs_scene_destroy(s);
    }
    cs_context_destroy(ctx);
}

/* Parse every prefix of b from an exact-size copy (so ASan sees any over-read). */
static int parse_prefixes(cs_context *ctx, const buf *b, bool all_must_fail) {
    int failures = 0;
    for (size_t n = 0; n < b->len; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, b->data, n);
        cs_scene *s = NULL;
        cs_status st = cs__codec_ply.parse(ctx, "cut.ply", copy, n, &s);
        if (st != CS_OK) {
            failures++;
            CHECK_MSG(s == NULL && strncmp(cs_context_last_error(ctx), "cut.ply: ", 9) == 0,
                      "prefix %zu: %s", n, cs_context_last_error(ctx));
        } else {
            CHECK_MSG(!all_must_fail, "prefix %zu of %zu parsed", n, b->len);
        }
        cs_scene_destroy(s);
        free(copy);
    }
    return failures;
}

TEST(ply_truncated_at_every_byte) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(1, props, names);
    buf b = make_ply("binary_little_endian", NULL, props, n, 2);
    CHECK(parse_prefixes(ctx, &b, true) == (int)b.len);
    free(b.data);
    /* ASCII: a cut inside the last number can still be a valid file; none may crash, and every
     * cut inside the header or before the last line fails. */
    buf a = make_ply("ascii", NULL, props, n, 2);
    const char *last = strrchr((const char *)a.data, '\n');
    while (last > (const char *)a.data && last[-1] != '\n') last--;
    int failed = parse_prefixes(ctx, &a, false);
    CHECK(failed >= (int)(last - (const char *)a.data));
    free(a.data);
    cs_context_destroy(ctx);
}

TEST(ply_nan_inf_kept) {
    cs_context *ctx = test_context(1);
    const char *text = "ply\nformat ascii 1.0\nelement vertex 2\n" VERTEX_PROPS "end_header\n"
                       "nan 0 0 0 0 0 inf 0 0 0 1 0 0 0\n1 2 3 0 0 0 -inf 0 0 0 1 0 0 0\n";
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs__codec_ply.parse(ctx, "nan.ply", (const uint8_t *)text, strlen(text), &s));
    if (s) {
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(isnan(p.means[0]) && isinf(p.opacities[0]) && p.opacities[0] > 0);
        CHECK(isinf(p.opacities[1]) && p.opacities[1] < 0);
        cs_scene_stats st;
        CHECK_OK(ctx, cs_scene_compute_stats(ctx, s, &st));
        CHECK(st.non_finite == 2);
        CHECK(st.bounds_min[0] == 1.0 && st.bounds_max[2] == 3.0); /* NaN mean excluded */
    }
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(ply_threads_give_identical_scene) {
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(3, props, names);
    buf b = make_ply("binary_little_endian", NULL, props, n, 10001);
    cs_scene *s[2] = {NULL, NULL};
    int threads[2] = {1, 4};
    for (int t = 0; t < 2; t++) {
        cs_context *ctx = test_context(threads[t]);
        CHECK_OK(ctx, parse(ctx, &b, &s[t]));
        cs_context_destroy(ctx);
    }
    if (s[0] && s[1]) {
        check_values(s[1], 10001, 3);
        size_t floats = (size_t)10001 * (3 + 3 + 4 + 1 + 48);
        CHECK(memcmp(cs_scene_get_params(s[0]).means, cs_scene_get_params(s[1]).means,
                     floats * sizeof(float)) == 0);
    }
    cs_scene_destroy(s[0]);
    cs_scene_destroy(s[1]);
    free(b.data);
}

TEST(ply_detected_by_content_and_saved_by_extension) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(2, props, names);
    buf b = make_ply("ascii", NULL, props, n, 3);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("scene.data")); /* no .ply extension */
    CHECK(test_write_file(path, b.data, b.len));
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, path, &s));
    if (s) {
        CHECK(cs_scene_source_format(s) == CS_FORMAT_PLY);
        check_values(s, 3, 2);
    }
    cs_scene_destroy(s);
    free(b.data);
    CHECK(cs_scene_load(ctx, test_tmp("missing.ply"), &s) == CS_ERR_IO);
    CHECK(strstr(cs_context_last_error(ctx), "missing.ply") != NULL);
    cs_context_destroy(ctx);
}

TEST(ply_allocation_failures_return_nomem) {
    cs_context *ctx = test_context(1);
    prop_spec props[64];
    char names[45][24];
    int n = inria_props(1, props, names);
    buf b = make_ply("binary_little_endian", NULL, props, n, 10);
    char path[4096], out[4096];
    snprintf(path, sizeof path, "%s", test_tmp("alloc.ply"));
    snprintf(out, sizeof out, "%s", test_tmp("alloc_out.ply"));
    CHECK(test_write_file(path, b.data, b.len));
    /* Fail the 1st, 2nd, ... allocation of a load until one load needs no more. */
    int injected = 0;
    for (long k = 1; k < 50; k++) {
        cs_scene *s = NULL;
        cs__test_fail_alloc_after(k);
        cs_status st = cs_scene_load(ctx, path, &s);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) {
            check_values(s, 10, 1);
            /* The same for saving: a failure leaves no file behind. */
            for (long w = 1; w < 10; w++) {
                cs__test_fail_alloc_after(w);
                cs_status ws = cs_scene_save(ctx, s, out);
                cs__test_fail_alloc_after(0);
                if (ws == CS_OK) break;
                CHECK_MSG(ws == CS_ERR_NOMEM && !cs__file_exists(out), "save allocation %ld: %s", w,
                          cs_context_last_error(ctx));
            }
            cs_scene_destroy(s);
            break;
        }
        injected++;
        CHECK_MSG(st == CS_ERR_NOMEM && s == NULL, "allocation %ld: %s: %s", k,
                  cs_status_string(st), cs_context_last_error(ctx));
    }
    CHECK(injected >= 4); /* file buffer, header, scene struct, scene block */
    CHECK(cs__file_exists(out));
    free(b.data);
    cs_context_destroy(ctx);
}
