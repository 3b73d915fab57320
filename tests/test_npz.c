/*
 * test_npz.c - the .npz reader: archives built here byte by byte (stored, deflated with zlib,
 * ZIP64 fields), every supported dtype against known values, malformed headers and archives,
 * truncation and corruption at every offset, allocation failures, and the real gsplat garden file.
 */
#include "npz.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------------
 * Builders: a growable byte buffer, .npy files and ZIP archives.
 */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put16(buf *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static void put32(buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put64(buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

/* A version 1.0 .npy: header padded with spaces so the data starts at a multiple of 64, as
 * numpy does. */
static buf make_npy(const char *dict, const void *data, size_t bytes) {
    buf b = {0};
    size_t hlen = strlen(dict) + 1;
    size_t total = (10 + hlen + 63) / 64 * 64;
    put(&b, "\x93NUMPY\x01\x00", 8);
    put16(&b, (unsigned)(total - 10));
    put(&b, dict, strlen(dict));
    while (b.n < total - 1) put(&b, " ", 1);
    put(&b, "\n", 1);
    put(&b, data, bytes);
    return b;
}

typedef struct zentry {
    const char *name;
    buf npy;
    int method; /* 0 stored, 8 deflated */
} zentry;

static buf raw_deflate(const uint8_t *src, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    buf out = {0};
    out.cap = deflateBound(&zs, n);
    out.p = malloc(out.cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)out.cap;
    deflate(&zs, Z_FINISH);
    out.n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* A ZIP of entries. zip64: sizes and offsets go through ZIP64 extra fields and the ZIP64 end
 * records, as numpy writes for large arrays. */
static buf make_zip(const zentry *e, int n, bool zip64) {
    buf z = {0}, cd = {0};
    for (int i = 0; i < n; i++) {
        buf comp = e[i].method == 8 ? raw_deflate(e[i].npy.p, e[i].npy.n) : (buf){0};
        const uint8_t *data = e[i].method == 8 ? comp.p : e[i].npy.p;
        size_t csize = e[i].method == 8 ? comp.n : e[i].npy.n, usize = e[i].npy.n;
        uint32_t crc = (uint32_t)crc32(0, e[i].npy.p, (uInt)usize);
        uint32_t offset = (uint32_t)z.n;
        char name[80];
        snprintf(name, sizeof name, "%s.npy", e[i].name);
        size_t nlen = strlen(name);
        /* local header */
        put32(&z, 0x04034b50);
        put16(&z, zip64 ? 45 : 20);
        put16(&z, 0);
        put16(&z, (unsigned)e[i].method);
        put32(&z, 0);
        put32(&z, crc);
        put32(&z, zip64 ? 0xFFFFFFFF : (uint32_t)csize);
        put32(&z, zip64 ? 0xFFFFFFFF : (uint32_t)usize);
        put16(&z, (unsigned)nlen);
        put16(&z, zip64 ? 20 : 0);
        put(&z, name, nlen);
        if (zip64) {
            put16(&z, 1);
            put16(&z, 16);
            put64(&z, usize);
            put64(&z, csize);
        }
        put(&z, data, csize);
        /* central record */
        put32(&cd, 0x02014b50);
        put16(&cd, 45);
        put16(&cd, zip64 ? 45 : 20);
        put16(&cd, 0);
        put16(&cd, (unsigned)e[i].method);
        put32(&cd, 0);
        put32(&cd, crc);
        put32(&cd, zip64 ? 0xFFFFFFFF : (uint32_t)csize);
        put32(&cd, zip64 ? 0xFFFFFFFF : (uint32_t)usize);
        put16(&cd, (unsigned)nlen);
        put16(&cd, zip64 ? 28 : 0);
        put16(&cd, 0);
        put16(&cd, 0);
        put16(&cd, 0);
        put32(&cd, 0);
        put32(&cd, zip64 ? 0xFFFFFFFF : offset);
        put(&cd, name, nlen);
        if (zip64) {
            put16(&cd, 1);
            put16(&cd, 24);
            put64(&cd, usize);
            put64(&cd, csize);
            put64(&cd, offset);
        }
        free(comp.p);
    }
    uint64_t cd_off = z.n;
    put(&z, cd.p, cd.n);
    if (zip64) {
        uint64_t z64 = z.n;
        put32(&z, 0x06064b50);
        put64(&z, 44);
        put16(&z, 45);
        put16(&z, 45);
        put32(&z, 0);
        put32(&z, 0);
        put64(&z, (uint64_t)n);
        put64(&z, (uint64_t)n);
        put64(&z, cd.n);
        put64(&z, cd_off);
        put32(&z, 0x07064b50);
        put32(&z, 0);
        put64(&z, z64);
        put32(&z, 1);
    }
    put32(&z, 0x06054b50);
    put16(&z, 0);
    put16(&z, 0);
    put16(&z, zip64 ? 0xFFFF : (unsigned)n);
    put16(&z, zip64 ? 0xFFFF : (unsigned)n);
    put32(&z, zip64 ? 0xFFFFFFFF : (uint32_t)cd.n);
    put32(&z, zip64 ? 0xFFFFFFFF : (uint32_t)cd_off);
    put16(&z, 0);
    free(cd.p);
    return z;
}

/* The test archive: one array of every supported dtype with known values. */
typedef struct sample {
    zentry e[6];
    float f4[6];
    double f8[2];
    uint8_t u1[4];
    int32_t i4[4];
    int64_t i8;
    uint8_t b1[3];
} sample;

static void make_sample(sample *s, int method) {
    for (int i = 0; i < 6; i++) s->f4[i] = 0.5f * (float)i - 1.0f;
    s->f8[0] = 1e-3;
    s->f8[1] = -2.5;
    for (int i = 0; i < 4; i++) s->u1[i] = (uint8_t)(i * 80);
    for (int i = 0; i < 4; i++) s->i4[i] = (i - 2) * 100000;
    s->i8 = 648;
    s->b1[0] = 1;
    s->b1[1] = 0;
    s->b1[2] = 1;
    /* This test assumes a little-endian host for the raw bytes, as numpy's "<" means. */
    s->e[0] = (zentry){"means",
                       make_npy("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (2, 3), }",
                                s->f4, sizeof s->f4),
                       method};
    s->e[1] = (zentry){
        "f8",
        make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", s->f8, sizeof s->f8),
        method};
    s->e[2] = (zentry){"colors",
                       make_npy("{'descr': '|u1', 'fortran_order': False, "
                                "'shape': (1, 4), }",
                                s->u1, sizeof s->u1),
                       method};
    s->e[3] = (zentry){"ints",
                       make_npy("{\"descr\": \"<i4\", \"fortran_order\": False, "
                                "\"shape\": (2, 2)}",
                                s->i4, sizeof s->i4),
                       method};
    s->e[4] = (zentry){
        "width",
        make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &s->i8, sizeof s->i8),
        method};
    s->e[5] = (zentry){
        "mask",
        make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", s->b1, sizeof s->b1),
        method};
}

static void free_sample(sample *s) {
    for (int i = 0; i < 6; i++) free(s->e[i].npy.p);
}

static void check_sample(cs_context *ctx, const cs_npz *npz, const sample *s) {
    CHECK(cs__npz_count(npz) == 6);
    CHECK(cs__npz_get(npz, 6) == NULL && cs__npz_get(npz, -1) == NULL);
    CHECK(cs__npz_find(npz, "absent") == NULL);
    const cs_npz_array *a = cs__npz_find(npz, "means");
    CHECK(a && cs__npz_get(npz, 0) == a);
    if (!a) return;
    CHECK(strcmp(a->dtype, "<f4") == 0 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
    CHECK(a->count == 6 && memcmp(a->data, s->f4, sizeof s->f4) == 0);
    CHECK((uintptr_t)a->data % 8 == 0);
    float out[8];
    CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
    CHECK(out[0] == -1.0f && out[5] == 1.5f);

    a = cs__npz_find(npz, "f8");
    CHECK(a && a->ndim == 1 && a->shape[0] == 2 && strcmp(a->dtype, "<f8") == 0);
    if (a) CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
    CHECK(out[0] == 1e-3f && out[1] == -2.5f);

    a = cs__npz_find(npz, "colors");
    CHECK(a && a->ndim == 2 && a->shape[1] == 4 && strcmp(a->dtype, "|u1") == 0);
    if (a) CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
    CHECK(out[0] == 0.0f && out[3] == 240.0f);

    a = cs__npz_find(npz, "ints");
    CHECK(a && a->count == 4 && strcmp(a->dtype, "<i4") == 0);
    if (a) CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
    CHECK(out[0] == -200000.0f && out[3] == 100000.0f);

    a = cs__npz_find(npz, "width");
    CHECK(a && a->ndim == 0 && a->count == 1 && strcmp(a->dtype, "<i8") == 0);
    if (a) {
        int64_t w;
        memcpy(&w, a->data, 8);
        CHECK(w == 648);
        CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
        CHECK(out[0] == 648.0f);
    }

    a = cs__npz_find(npz, "mask");
    CHECK(a && a->count == 3 && strcmp(a->dtype, "|b1") == 0);
    if (a) CHECK_OK(ctx, cs__npz_to_float(ctx, a, out));
    CHECK(out[0] == 1.0f && out[1] == 0.0f && out[2] == 1.0f);
}

TEST(npz_stored_every_dtype) {
    cs_context *ctx = test_context(1);
    sample s;
    make_sample(&s, 0);
    buf z = make_zip(s.e, 6, false);
    cs_npz *npz;
    CHECK_OK(ctx, cs__npz_parse(ctx, "mem.npz", z.p, z.n, &npz));
    if (npz) check_sample(ctx, npz, &s);
    cs__npz_destroy(npz);
    /* The same through a file. */
    const char *path = test_tmp("sample.npz");
    CHECK(test_write_file(path, z.p, z.n));
    CHECK_OK(ctx, cs__npz_load(ctx, path, &npz));
    if (npz) check_sample(ctx, npz, &s);
    cs__npz_destroy(npz);
    cs__npz_destroy(NULL);
    free(z.p);
    free_sample(&s);
    cs_context_destroy(ctx);
}

TEST(npz_deflated_and_zip64) {
    cs_context *ctx = test_context(1);
    sample s;
    make_sample(&s, 8);
    for (int zip64 = 0; zip64 < 2; zip64++) {
        buf z = make_zip(s.e, 6, zip64);
        cs_npz *npz;
        CHECK_OK(ctx, cs__npz_parse(ctx, "mem.npz", z.p, z.n, &npz));
        if (npz) check_sample(ctx, npz, &s);
        cs__npz_destroy(npz);
        free(z.p);
    }
    free_sample(&s);

    /* A larger, compressible array. */
    static float ramp[4096];
    for (int i = 0; i < 4096; i++) ramp[i] = (float)(i % 64);
    zentry e = {"ramp",
                make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (64, 64), }", ramp,
                         sizeof ramp),
                8};
    buf z = make_zip(&e, 1, false);
    CHECK(z.n < sizeof ramp / 4);
    cs_npz *npz;
    CHECK_OK(ctx, cs__npz_parse(ctx, "ramp.npz", z.p, z.n, &npz));
    const cs_npz_array *a = cs__npz_find(npz, "ramp");
    CHECK(a && a->count == 4096 && memcmp(a->data, ramp, sizeof ramp) == 0);
    cs__npz_destroy(npz);
    free(z.p);
    free(e.npy.p);
    cs_context_destroy(ctx);
}

/* Status of parsing one array with header dict and data bytes; the message lands in ctx. */
static cs_status parse_one(cs_context *ctx, const char *dict, const void *data, size_t bytes,
                           int method) {
    zentry e = {"x", make_npy(dict, data, bytes), method};
    buf z = make_zip(&e, 1, false);
    cs_npz *npz;
    cs_status st = cs__npz_parse(ctx, "bad.npz", z.p, z.n, &npz);
    cs__npz_destroy(npz);
    free(z.p);
    free(e.npy.p);
    return st;
}

TEST(npz_bad_headers) {
    cs_context *ctx = test_context(1);
    float d[4] = {1, 2, 3, 4};
    /* shape * itemsize beyond the entry: 5 floats declared, 4 present. */
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", d, 16, 0) ==
          CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "bad.npz") &&
          strstr(cs_context_last_error(ctx), "entry holds 16"));
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", d, 16, 8) ==
          CS_ERR_FORMAT);
    /* A product of dimensions that overflows. */
    CHECK(parse_one(ctx,
                    "{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (4294967296, 4294967296, 16), }",
                    d, 16, 0) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "overflow"));
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", d, 16, 0) ==
          CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "Fortran"));
    CHECK(parse_one(ctx, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", d, 16, 0) ==
          CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "'>f4'"));
    CHECK(parse_one(ctx, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", d,
                    16, 0) == CS_ERR_UNSUPPORTED);
    /* Missing, duplicated or unknown keys, and broken syntax. */
    CHECK(parse_one(ctx, "{'descr': '<f4', 'shape': (4,), }", d, 16, 0) == CS_ERR_FORMAT);
    CHECK(parse_one(ctx,
                    "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d,
                    16, 0) == CS_ERR_FORMAT);
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", d, 16,
                    0) == CS_ERR_FORMAT);
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,", d, 16, 0) ==
          CS_ERR_FORMAT);
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", d, 16, 0) ==
          CS_ERR_FORMAT);
    CHECK(parse_one(ctx, "{'descr': '<f4', 'fortran_order': false, 'shape': (4,), }", d, 16, 0) ==
          CS_ERR_FORMAT);
    /* Accepted variants: Python 2 long suffix, no trailing comma, extra data after the array. */
    CHECK_OK(ctx, parse_one(ctx, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L)}", d,
                            16, 0));
    CHECK_OK(ctx,
             parse_one(ctx, "{'shape': (0, 3), 'fortran_order': False, 'descr': '<f4'}", d, 0, 0));
    cs_context_destroy(ctx);
}

TEST(npz_bad_archives) {
    cs_context *ctx = test_context(1);
    cs_npz *npz;
    sample s;
    make_sample(&s, 0);
    buf z = make_zip(s.e, 2, false);
    CHECK(cs__npz_parse(ctx, "x.npz", (const uint8_t *)"hello", 5, &npz) == CS_ERR_FORMAT &&
          npz == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "x.npz: no ZIP end-of-central-directory"));
    CHECK(cs__npz_parse(ctx, "x.npz", z.p, 0, &npz) == CS_ERR_FORMAT);
    CHECK(cs__npz_load(ctx, "/nonexistent/garden.npz", &npz) == CS_ERR_IO);
    CHECK(strstr(cs_context_last_error(ctx), "/nonexistent/garden.npz"));

    /* A flipped data byte fails the CRC-32 check. */
    buf c = {0};
    put(&c, z.p, z.n);
    c.p[30 + 9 + 128 + 4] ^= 0x40; /* inside means.npy's data */
    CHECK(cs__npz_parse(ctx, "x.npz", c.p, c.n, &npz) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "CRC"));
    free(c.p);

    /* Two central records pointing at the same local entry overlap. */
    zentry twice[2] = {s.e[0], s.e[0]};
    buf t = make_zip(twice, 2, false);
    /* Point the second central record's offset at the first entry. */
    size_t cd2 = t.n - 22 - (46 + strlen("means.npy"));
    CHECK(cs__rd_u32le(t.p + cd2) == 0x02014b50);
    memset(t.p + cd2 + 42, 0, 4);
    CHECK(cs__npz_parse(ctx, "x.npz", t.p, t.n, &npz) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "overlap"));
    free(t.p);

    /* A deflated entry declaring more than deflate can produce from its size. */
    zentry d = {"means", s.e[0].npy, 8};
    buf b = make_zip(&d, 1, false);
    size_t cd = b.n - 22 - (46 + strlen("means.npy"));
    uint8_t big[4] = {0, 0, 0, 0x40}; /* 1 GiB */
    memcpy(b.p + cd + 24, big, 4);
    CHECK(cs__npz_parse(ctx, "x.npz", b.p, b.n, &npz) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "maximum ratio"));
    /* One declaring fewer bytes than it inflates to: never written past the declared size. */
    uint8_t small[4] = {100, 0, 0, 0};
    memcpy(b.p + cd + 24, small, 4);
    CHECK(cs__npz_parse(ctx, "x.npz", b.p, b.n, &npz) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "more than its declared 100 bytes"));
    free(b.p);

    /* An entry that is not a .npy, and an unsupported method. */
    zentry other = {"notes", s.e[0].npy, 0};
    buf o = make_zip(&other, 1, false);
    o.p[o.n - 22 - 1] = 'x'; /* central name "notes.npy" -> "notes.npx" */
    CHECK(cs__npz_parse(ctx, "x.npz", o.p, o.n, &npz) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "not a .npy"));
    free(o.p);
    buf m = make_zip(s.e, 1, false);
    size_t cdm = m.n - 22 - (46 + strlen("means.npy"));
    m.p[cdm + 10] = 14; /* LZMA */
    CHECK(cs__npz_parse(ctx, "x.npz", m.p, m.n, &npz) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "method 14"));
    free(m.p);

    free(z.p);
    free_sample(&s);
    cs_context_destroy(ctx);
}

/* Same arrays (names may differ: a corrupted central name is still a valid name). */
static bool same_arrays(const cs_npz *a, const cs_npz *b) {
    if (cs__npz_count(a) != cs__npz_count(b)) return false;
    for (int i = 0; i < cs__npz_count(a); i++) {
        const cs_npz_array *x = cs__npz_get(a, i), *y = cs__npz_get(b, i);
        size_t item = x->dtype[2] - '0';
        if (strcmp(x->dtype, y->dtype) != 0 || x->ndim != y->ndim || x->count != y->count ||
            memcmp(x->shape, y->shape, sizeof x->shape) != 0 ||
            memcmp(x->data, y->data, (size_t)x->count * item) != 0)
            return false;
    }
    return true;
}

/* Every prefix and every single-byte corruption of a small archive: errors, never a crash or
 * an out-of-bounds read (ASan run). */
TEST(npz_truncated_and_corrupted) {
    cs_context *ctx = test_context(1);
    for (int method = 0; method <= 8; method += 8) {
        for (int zip64 = 0; zip64 < 2; zip64++) {
            sample s;
            make_sample(&s, method);
            buf z = make_zip(s.e, 6, zip64);
            int ok_prefix = 0, corrupt_ok = 0;
            cs_npz *ref;
            CHECK_OK(ctx, cs__npz_parse(ctx, "t.npz", z.p, z.n, &ref));
            for (size_t n = 0; n < z.n; n++) {
                /* An exact-size copy so ASan sees reads past the prefix. */
                uint8_t *p = malloc(n ? n : 1);
                memcpy(p, z.p, n);
                cs_npz *npz;
                if (cs__npz_parse(ctx, "t.npz", p, n, &npz) == CS_OK) ok_prefix++;
                cs__npz_destroy(npz);
                free(p);
            }
            CHECK(ok_prefix == 0);
            for (size_t i = 0; i < z.n; i++) {
                uint8_t keep = z.p[i];
                z.p[i] ^= 0xFF;
                cs_npz *npz;
                if (cs__npz_parse(ctx, "t.npz", z.p, z.n, &npz) == CS_OK) {
                    corrupt_ok++;
                    /* only harmless bytes: dates, versions, attributes, names */
                    CHECK_MSG(same_arrays(ref, npz), "corrupting byte %zu changed the data", i);
                }
                cs__npz_destroy(npz);
                z.p[i] = keep;
            }
            test_note("method %d zip64 %d: %zu bytes, %d corruptions accepted", method, zip64, z.n,
                      corrupt_ok);
            cs__npz_destroy(ref);
            free(z.p);
            free_sample(&s);
        }
    }
    cs_context_destroy(ctx);
}

TEST(npz_allocation_failures) {
    cs_context *ctx = test_context(1);
    sample s;
    make_sample(&s, 8);
    buf z = make_zip(s.e, 6, false);
    int failures = 0;
    for (long n = 1; n < 200; n++) {
        cs_npz *npz;
        cs__test_fail_alloc_after(n);
        cs_status st = cs__npz_parse(ctx, "a.npz", z.p, z.n, &npz);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) {
            check_sample(ctx, npz, &s);
            cs__npz_destroy(npz);
            break;
        }
        CHECK_MSG(st == CS_ERR_NOMEM, "failing allocation %ld gave %s: %s", n, cs_status_string(st),
                  cs_context_last_error(ctx));
        failures++;
    }
    CHECK(failures >= 7); /* three tables plus six arrays and the inflate state */
    free(z.p);
    free_sample(&s);
    cs_context_destroy(ctx);
}

TEST(npz_gsplat_garden) {
    const char *path = test_data("gsplat_test_garden/test_garden.npz");
    if (!path) SKIP("../shared/data/gsplat_test_garden/test_garden.npz is absent");
    cs_context *ctx = test_context(1);
    cs_npz *npz;
    CHECK_OK(ctx, cs__npz_load(ctx, path, &npz));
    if (!npz) {
        cs_context_destroy(ctx);
        return;
    }
    CHECK(cs__npz_count(npz) == 6);
    const cs_npz_array *means = cs__npz_find(npz, "means3d");
    const cs_npz_array *colors = cs__npz_find(npz, "colors");
    const cs_npz_array *viewmats = cs__npz_find(npz, "viewmats");
    const cs_npz_array *ks = cs__npz_find(npz, "Ks");
    const cs_npz_array *width = cs__npz_find(npz, "width");
    const cs_npz_array *height = cs__npz_find(npz, "height");
    CHECK(means && colors && viewmats && ks && width && height);
    if (!(means && colors && viewmats && ks && width && height)) {
        cs__npz_destroy(npz);
        cs_context_destroy(ctx);
        return;
    }
    CHECK(strcmp(means->dtype, "<f4") == 0 && means->ndim == 2 && means->shape[0] == 138766 &&
          means->shape[1] == 3 && means->count == 138766 * 3);
    CHECK(strcmp(colors->dtype, "|u1") == 0 && colors->ndim == 2 && colors->shape[0] == 138766 &&
          colors->shape[1] == 3);
    CHECK(strcmp(viewmats->dtype, "<f4") == 0 && viewmats->ndim == 3 && viewmats->shape[0] == 3 &&
          viewmats->shape[1] == 4 && viewmats->shape[2] == 4);
    CHECK(strcmp(ks->dtype, "<f4") == 0 && ks->ndim == 3 && ks->shape[0] == 3 &&
          ks->shape[1] == 3 && ks->shape[2] == 3);
    CHECK(strcmp(width->dtype, "<i8") == 0 && width->ndim == 0 && width->count == 1);
    CHECK(strcmp(height->dtype, "<i8") == 0 && height->ndim == 0);
    int64_t w, h;
    memcpy(&w, width->data, 8);
    memcpy(&h, height->data, 8);
    CHECK(w == 648 && h == 420);

    float k[27], v[48];
    CHECK_OK(ctx, cs__npz_to_float(ctx, ks, k));
    CHECK_NEAR(k[0], 480.61, 0.01);
    CHECK_NEAR(k[4], 481.54, 0.01);
    CHECK_NEAR(k[2], 324.19, 0.01);
    CHECK_NEAR(k[5], 210.06, 0.01);
    CHECK(k[1] == 0.0f && k[3] == 0.0f && k[6] == 0.0f && k[7] == 0.0f && k[8] == 1.0f);

    /* Each viewmat is [R t; 0 0 0 1] with R orthonormal and det +1. */
    CHECK_OK(ctx, cs__npz_to_float(ctx, viewmats, v));
    for (int c = 0; c < 3; c++) {
        const float *m = v + 16 * c;
        double worst = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double dot = 0;
                for (int l = 0; l < 3; l++) dot += (double)m[4 * i + l] * (double)m[4 * j + l];
                worst = fmax(worst, fabs(dot - (i == j)));
            }
        double a[9];
        for (int i = 0; i < 9; i++) a[i] = (double)m[4 * (i / 3) + i % 3];
        double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                     a[2] * (a[3] * a[7] - a[4] * a[6]);
        CHECK_MSG(worst < 1e-5, "camera %d: R R^T deviates from I by %g", c, worst);
        CHECK_NEAR(det, 1.0, 1e-5);
        CHECK(m[12] == 0.0f && m[13] == 0.0f && m[14] == 0.0f && m[15] == 1.0f);
    }

    /* Points are finite; colours span a real photo's range. */
    const float *p = (const float *)means->data;
    int64_t finite = 0;
    for (int64_t i = 0; i < means->count; i++) finite += isfinite(p[i]);
    CHECK(finite == means->count);
    int cmin = 255, cmax = 0;
    for (int64_t i = 0; i < colors->count; i++) {
        cmin = colors->data[i] < cmin ? colors->data[i] : cmin;
        cmax = colors->data[i] > cmax ? colors->data[i] : cmax;
    }
    CHECK(cmin < 20 && cmax > 235);
    test_note("means3d[0] = (%.4f, %.4f, %.4f), colors[0] = (%d, %d, %d)", (double)p[0],
              (double)p[1], (double)p[2], colors->data[0], colors->data[1], colors->data[2]);
    cs__npz_destroy(npz);

    /* Truncations of the real file (EOCD gone, or central directory cut) are errors. */
    size_t len;
    unsigned char *all = test_read_file(path, &len);
    CHECK(all != NULL);
    for (int i = 1; all && i <= 40; i++) {
        size_t n = len - (size_t)i * (i < 20 ? 7 : len / 41);
        cs_npz *t;
        CHECK(cs__npz_parse(ctx, "cut.npz", all, n, &t) == CS_ERR_FORMAT && t == NULL);
    }
    free(all);
    cs_context_destroy(ctx);
}

/* The fuzz seeds were written by Python's zipfile (an independent ZIP writer: stored, deflated,
 * and ZIP64 local headers via force_zip64, as numpy.savez does) with .npy versions 1.0, 2.0 and
 * 3.0. Run from the repository root, as `make unit-test` does. */
TEST(npz_python_zipfile_archives) {
    static const char *const files[3] = {"fuzz/seeds/fuzz_npz/stored.npz",
                                         "fuzz/seeds/fuzz_npz/deflated.npz",
                                         "fuzz/seeds/fuzz_npz/zip64.npz"};
    FILE *probe = fopen(files[0], "rb");
    if (!probe) SKIP("%s not found: run from the repository root", files[0]);
    fclose(probe);
    cs_context *ctx = test_context(1);
    for (int i = 0; i < 3; i++) {
        cs_npz *npz;
        CHECK_OK(ctx, cs__npz_load(ctx, files[i], &npz));
        CHECK(cs__npz_count(npz) == 6);
        const char *names[6] = {"means", "colors", "width", "ks", "idx", "mask"};
        const char *dtypes[6] = {"<f4", "|u1", "<i8", "<f8", "<i4", "|b1"};
        const float first[6] = {0.0f, 0.0f, 648.0f, 1.5f, -1.0f, 1.0f};
        const float last[6] = {5.0f, 5.0f, 648.0f, 3.0f, 7.0f, 0.0f};
        for (int k = 0; npz && k < 6; k++) {
            const cs_npz_array *a = cs__npz_get(npz, k);
            CHECK_MSG(a && strcmp(a->name, names[k]) == 0 && strcmp(a->dtype, dtypes[k]) == 0,
                      "%s: array %d is %s %s", files[i], k, a ? a->name : "-", a ? a->dtype : "-");
            float f[8];
            if (a && a->count <= 8 && cs__npz_to_float(ctx, a, f) == CS_OK)
                CHECK_MSG(f[0] == first[k] && f[a->count - 1] == last[k], "%s: %s = %g .. %g",
                          files[i], names[k], (double)f[0], (double)f[a->count - 1]);
        }
        cs__npz_destroy(npz);
    }
    cs_context_destroy(ctx);
}
