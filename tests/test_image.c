/*
 * test_image.c - PNG/JPEG loading and PNG saving.
 *
 * Fixtures are encoded here with libpng and libjpeg directly (every PNG colour type and bit depth,
 * palettes, tRNS, Adam7; baseline, progressive, grayscale and CMYK JPEG) from known sample values,
 * then decoded with cs_image_load and compared exactly (PNG) or within JPEG's error on a smooth
 * gradient. Real files from ../shared/data are checked against libpng's independent simplified
 * API (PNG) and their known sizes. Bad input: truncation at every offset, a non-image, an empty
 * file, a huge IHDR, a missing file, allocation failures; nothing may reach stderr.
 */
#include "image.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------------
 * Fixture encoders.
 */

typedef struct png_spec {
    int width, height, color, depth, interlace;
    const png_color *palette;
    int npalette;
    const png_byte *trns; /* palette alpha */
    int ntrns;
    const png_color_16 *trns_color; /* colour key (gray/RGB) */
} png_spec;

/* rows: packed samples as PNG stores them (16-bit big-endian, sub-byte gray MSB first). */
static bool write_png(const char *path, const png_spec *s, const uint8_t *rows, size_t rowbytes) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *ptrs = malloc((size_t)s->height * sizeof *ptrs);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(ptrs);
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->depth, s->color,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->npalette);
    if (s->trns || s->trns_color) png_set_tRNS(png, info, s->trns, s->ntrns, s->trns_color);
    png_write_info(png, info);
    for (int y = 0; y < s->height; y++) ptrs[y] = (png_bytep)(uintptr_t)(rows + y * rowbytes);
    png_write_image(png, ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(ptrs);
    return fclose(f) == 0;
}

/* Deterministic sample values in [0, max]. */
static unsigned sample_value(int x, int y, int c, unsigned max) {
    unsigned v = (unsigned)(x * 7919 + y * 104729 + c * 12345 + x * y * 31);
    return v % (max + 1);
}

static int channels_of(int color) {
    switch (color) {
    case PNG_COLOR_TYPE_GRAY:
        return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
    case PNG_COLOR_TYPE_RGB:
        return 3;
    default:
        return 4;
    }
}

/* Encode a gray/GA/RGB/RGBA fixture (depth 1..16) and check the decode sample by sample. */
static void check_png_variant(cs_context *ctx, int color, int depth, int interlace) {
    png_spec s = {37, 23, color, depth, interlace, NULL, 0, NULL, 0, NULL};
    int ch = channels_of(color);
    unsigned max = (1u << depth) - 1;
    size_t rowbytes = ((size_t)s.width * (size_t)ch * (size_t)depth + 7) / 8;
    uint8_t *rows = calloc((size_t)s.height, rowbytes);
    for (int y = 0; y < s.height; y++)
        for (int x = 0; x < s.width; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample_value(x, y, c, max);
                size_t i = (size_t)x * (size_t)ch + (size_t)c;
                uint8_t *r = rows + (size_t)y * rowbytes;
                if (depth == 16) {
                    r[2 * i] = (uint8_t)(v >> 8);
                    r[2 * i + 1] = (uint8_t)v;
                } else if (depth == 8) {
                    r[i] = (uint8_t)v;
                } else {
                    size_t bit = i * (size_t)depth;
                    r[bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
                }
            }
    char name[64];
    snprintf(name, sizeof name, "fixture_c%d_d%d_i%d.png", color, depth, interlace);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp(name));
    CHECK(write_png(path, &s, rows, rowbytes));
    cs_image img;
    CHECK_OK(ctx, cs_image_load(ctx, path, &img));
    CHECK_MSG(img.width == s.width && img.height == s.height && img.channels == ch, "%s: %dx%dx%d",
              name, img.width, img.height, img.channels);
    int bad = 0;
    for (int y = 0; img.data && y < s.height; y++)
        for (int x = 0; x < s.width; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample_value(x, y, c, max);
                /* libpng expands sub-byte gray by bit replication: v * 255 / max exactly. */
                float want = depth == 16 ? (float)v / 65535.0f : (float)(v * (255 / max)) / 255.0f;
                float got =
                    img.data[((size_t)y * (size_t)s.width + (size_t)x) * (size_t)ch + (size_t)c];
                bad += got != want;
            }
    CHECK_MSG(bad == 0, "%s: %d samples differ", name, bad);
    cs_image_free(&img);
    free(rows);
}

TEST(image_png_every_color_type_and_depth) {
    cs_context *ctx = test_context(1);
    const int colors[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                           PNG_COLOR_TYPE_RGB_ALPHA};
    for (int i = 0; i < 4; i++)
        for (int d = 8; d <= 16; d += 8)
            for (int il = 0; il < 2; il++)
                check_png_variant(ctx, colors[i], d, il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE);
    for (int d = 1; d <= 4; d *= 2) check_png_variant(ctx, PNG_COLOR_TYPE_GRAY, d, 0);
    check_png_variant(ctx, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_ADAM7);
    cs_context_destroy(ctx);
}

/* Palette images expand to RGB, or RGBA with a tRNS chunk; an RGB colour key becomes alpha. */
TEST(image_png_palette_and_trns) {
    cs_context *ctx = test_context(1);
    const png_color pal[4] = {{255, 0, 0}, {0, 128, 255}, {17, 34, 51}, {250, 251, 252}};
    const png_byte alpha[3] = {0, 100, 200}; /* entry 3 has no alpha: opaque */
    enum { W = 9, H = 5 };
    for (int depth = 2; depth <= 8; depth += 6)
        for (int with_trns = 0; with_trns < 2; with_trns++) {
            size_t rowbytes = (W * (size_t)depth + 7) / 8;
            uint8_t rows[H * W] = {0};
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    unsigned v = (unsigned)(x + 2 * y) % 4;
                    size_t bit = (size_t)x * (size_t)depth;
                    rows[(size_t)y * rowbytes + bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
                }
            png_spec s = {W,
                          H,
                          PNG_COLOR_TYPE_PALETTE,
                          depth,
                          0,
                          pal,
                          4,
                          with_trns ? alpha : NULL,
                          with_trns ? 3 : 0,
                          NULL};
            const char *path = test_tmp("palette.png");
            CHECK(write_png(path, &s, rows, rowbytes));
            cs_image img;
            CHECK_OK(ctx, cs_image_load(ctx, path, &img));
            int ch = with_trns ? 4 : 3;
            CHECK(img.width == W && img.height == H && img.channels == ch);
            int bad = 0;
            for (int y = 0; img.data && y < H; y++)
                for (int x = 0; x < W; x++) {
                    unsigned v = (unsigned)(x + 2 * y) % 4;
                    const float *p = img.data + ((size_t)y * W + (size_t)x) * (size_t)ch;
                    bad += p[0] != (float)pal[v].red / 255.0f;
                    bad += p[1] != (float)pal[v].green / 255.0f;
                    bad += p[2] != (float)pal[v].blue / 255.0f;
                    if (with_trns) bad += p[3] != (v < 3 ? (float)alpha[v] / 255.0f : 1.0f);
                }
            CHECK_MSG(bad == 0, "palette depth %d tRNS %d: %d samples differ", depth, with_trns,
                      bad);
            cs_image_free(&img);
        }

    /* RGB with a colour key: matching pixels get alpha 0, the others 1. */
    uint8_t rgb[2 * 3 * 3] = {10, 20, 30, 1, 2, 3, 10, 20, 30, 4, 5, 6, 10, 20, 31, 7, 8, 9};
    png_color_16 key = {0, 10, 20, 30, 0};
    png_spec s = {3, 2, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, &key};
    const char *path = test_tmp("colorkey.png");
    CHECK(write_png(path, &s, rgb, 9));
    cs_image img;
    CHECK_OK(ctx, cs_image_load(ctx, path, &img));
    CHECK(img.channels == 4 && img.width == 3 && img.height == 2);
    if (img.data) {
        CHECK(img.data[3] == 0.0f && img.data[7] == 1.0f && img.data[11] == 0.0f);
        CHECK(img.data[15] == 1.0f && img.data[19] == 1.0f && img.data[23] == 1.0f);
        CHECK(img.data[16] == 10.0f / 255.0f && img.data[18] == 31.0f / 255.0f);
    }
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

TEST(image_png_save_round_trip) {
    cs_context *ctx = test_context(1);
    test_rng rng = test_rng_seed(7);
    for (int ch = 1; ch <= 4; ch++)
        for (int depth = 8; depth <= 16; depth += 8) {
            cs_image img;
            CHECK_OK(ctx, cs_image_alloc(ctx, 31, 17, ch, &img));
            size_t n = 31 * 17 * (size_t)ch;
            for (size_t i = 0; i < n; i++) img.data[i] = (float)test_rng_uniform(&rng);
            /* Out-of-range values and NaN clamp. */
            img.data[0] = -0.25f;
            img.data[1] = 1.75f;
            img.data[2] = NAN;
            img.data[3] = INFINITY;
            const char *path = test_tmp("round.png");
            CHECK_OK(ctx, cs_image_save_png(ctx, &img, path, depth));
            cs_image back;
            CHECK_OK(ctx, cs_image_load(ctx, path, &back));
            CHECK(back.width == 31 && back.height == 17 && back.channels == ch);
            float max = depth == 8 ? 255.0f : 65535.0f;
            int bad = 0;
            for (size_t i = 0; back.data && i < n; i++) {
                float v = img.data[i];
                v = isnan(v) ? 0.0f : fminf(fmaxf(v, 0.0f), 1.0f);
                float want = floorf(v * max + 0.5f) / max;
                bad += back.data[i] != want;
            }
            CHECK_MSG(bad == 0, "%d channels %d-bit: %d samples differ", ch, depth, bad);
            if (back.data) {
                CHECK(back.data[0] == 0.0f && back.data[1] == 1.0f);
                CHECK(back.data[2] == 0.0f && back.data[3] == 1.0f);
            }
            /* Loading and saving again is exact: quantized values survive unchanged. */
            if (back.data) {
                CHECK_OK(ctx, cs_image_save_png(ctx, &back, path, depth));
                cs_image again;
                CHECK_OK(ctx, cs_image_load(ctx, path, &again));
                CHECK(again.data && memcmp(again.data, back.data, n * sizeof(float)) == 0);
                cs_image_free(&again);
            }
            cs_image_free(&back);
            cs_image_free(&img);
        }
    cs_image_free(NULL);
    cs_context_destroy(ctx);
}

TEST(image_save_bad_arguments) {
    cs_context *ctx = test_context(1);
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, 4, 4, 3, &img));
    CHECK(cs_image_save_png(ctx, &img, test_tmp("x.png"), 12) == CS_ERR_ARGUMENT);
    CHECK(cs_image_save_png(ctx, &img, "/nonexistent/dir/x.png", 8) == CS_ERR_IO);
    CHECK(strstr(cs_context_last_error(ctx), "/nonexistent/dir/x.png"));
    cs_image bad = img;
    bad.channels = 5;
    CHECK(cs_image_save_png(ctx, &bad, test_tmp("x.png"), 8) == CS_ERR_ARGUMENT);
    CHECK(cs_image_alloc(ctx, 0, 4, 3, &bad) == CS_ERR_ARGUMENT && bad.data == NULL);
    CHECK(cs_image_alloc(ctx, 4, 4, 5, &bad) == CS_ERR_ARGUMENT);
    CHECK(cs_image_alloc(ctx, 100000, 100000, 3, &bad) == CS_ERR_UNSUPPORTED);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * JPEG.
 */

typedef struct jpeg_spec {
    int width, height, components; /* 1 gray, 3 RGB, 4 CMYK */
    bool progressive, arithmetic;
} jpeg_spec;

static float gradient(int x, int y, int c, int w, int h) {
    return (float)(0.1 + 0.8 * (c == 0   ? x / (double)(w - 1)
                                : c == 1 ? y / (double)(h - 1)
                                         : 0.5 * (x + y) / (double)(w + h - 2)));
}

/* Encode a smooth gradient at quality 95; returns malloc'd bytes. */
static unsigned char *make_jpeg(const jpeg_spec *s, unsigned long *len) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    *len = 0;
    jpeg_mem_dest(&ci, &mem, len);
    ci.image_width = (JDIMENSION)s->width;
    ci.image_height = (JDIMENSION)s->height;
    ci.input_components = s->components;
    ci.in_color_space = s->components == 1   ? JCS_GRAYSCALE
                        : s->components == 3 ? JCS_RGB
                                             : JCS_CMYK;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    if (s->progressive) jpeg_simple_progression(&ci);
    ci.arith_code = s->arithmetic;
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)s->width * (size_t)s->components);
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < s->width; x++)
            for (int c = 0; c < s->components; c++)
                row[x * s->components + c] =
                    (unsigned char)(255.0f * gradient(x, y, c, s->width, s->height) + 0.5f);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    unsigned char *out = malloc(*len);
    memcpy(out, mem, *len);
    free(mem);
    return out;
}

TEST(image_jpeg_baseline_progressive_gray) {
    cs_context *ctx = test_context(1);
    const jpeg_spec specs[6] = {{64, 48, 3, false, false}, {64, 48, 3, true, false},
                                {61, 35, 1, false, false}, {61, 35, 1, true, false},
                                {64, 48, 3, false, true},  {61, 35, 1, true, true}};
    for (int k = 0; k < 6; k++) {
        const jpeg_spec *s = &specs[k];
        unsigned long len;
        unsigned char *jpg = make_jpeg(s, &len);
        const char *path = test_tmp("fixture.jpeg.bin"); /* the extension must not matter */
        CHECK(test_write_file(path, jpg, len));
        cs_image img;
        CHECK_OK(ctx, cs_image_load(ctx, path, &img));
        CHECK(img.width == s->width && img.height == s->height && img.channels == s->components);
        double max_err = 0, sum = 0;
        size_t n = 0;
        for (int y = 0; img.data && y < s->height; y++)
            for (int x = 0; x < s->width; x++)
                for (int c = 0; c < s->components; c++) {
                    float got = img.data[((size_t)y * (size_t)s->width + (size_t)x) *
                                             (size_t)s->components +
                                         (size_t)c];
                    double e = fabs((double)got - (double)gradient(x, y, c, s->width, s->height));
                    max_err = fmax(max_err, e);
                    sum += e;
                    n++;
                }
        /* Quality 95 on a smooth ramp: a few levels at most (chroma is subsampled 2x2). */
        CHECK_MSG(max_err < 8.0 / 255.0 && sum / (double)n < 2.0 / 255.0,
                  "%s%s %d channels: max error %.4f, mean %.4f",
                  s->progressive ? "progressive" : "baseline", s->arithmetic ? " arithmetic" : "",
                  s->components, max_err, sum / (double)(n ? n : 1));
        cs_image_free(&img);
        free(jpg);
    }
    cs_context_destroy(ctx);
}

TEST(image_jpeg_cmyk_unsupported) {
    cs_context *ctx = test_context(1);
    jpeg_spec s = {16, 16, 4, false, false};
    unsigned long len;
    unsigned char *jpg = make_jpeg(&s, &len);
    cs_image img;
    CHECK(cs__image_decode(ctx, "cmyk.jpg", jpg, len, &img) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "cmyk.jpg: JPEG: CMYK"));
    CHECK(img.data == NULL && img.width == 0);
    free(jpg);
    cs_context_destroy(ctx);
}

static void log_collect(void *user, cs_log_level level, const char *message) {
    if (level == CS_LOG_WARN) snprintf(user, 256, "%s", message);
}

/* Garbage between two markers: libjpeg's warning goes to the log callback (not stderr), and the
 * image still decodes. */
TEST(image_jpeg_warning_goes_to_log) {
    char logged[256] = "";
    cs_context *ctx;
    cs_context_desc desc = {.threads = 1, .log = log_collect, .log_user = logged};
    CHECK_OK(NULL, cs_context_create(&desc, &ctx));
    jpeg_spec s = {16, 16, 3, false, false};
    unsigned long len;
    unsigned char *jpg = make_jpeg(&s, &len);
    /* SOI (2) + APP0 JFIF (2 + 16): insert 3 stray bytes after it. */
    CHECK(jpg[2] == 0xFF && jpg[3] == 0xE0 && jpg[20] == 0xFF);
    unsigned char *bad = malloc(len + 3);
    memcpy(bad, jpg, 20);
    memcpy(bad + 20, "xyz", 3);
    memcpy(bad + 23, jpg + 20, len - 20);
    cs_image img;
    CHECK_OK(ctx, cs__image_decode(ctx, "stray.jpg", bad, len + 3, &img));
    CHECK(img.width == 16 && img.channels == 3);
    CHECK_MSG(strstr(logged, "stray.jpg: JPEG: Corrupt JPEG data: 3 extraneous bytes"), "log: %s",
              logged);
    cs_image_free(&img);
    free(bad);
    free(jpg);
    cs_context_destroy(ctx);
}

/* A progressive file whose last scan is repeated 600 times: refused at scan 501 instead of
 * decoding for as long as the file is (libjpeg only warns about the bogus progression). */
TEST(image_jpeg_scan_limit) {
    cs_context *ctx = test_context(1);
    jpeg_spec s = {16, 16, 1, true, false};
    unsigned long len;
    unsigned char *jpg = make_jpeg(&s, &len);
    size_t last = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xDA) last = i;
    CHECK(last > 0 && jpg[len - 2] == 0xFF && jpg[len - 1] == 0xD9);
    size_t scan = len - 2 - last, n = last + 600 * scan + 2;
    unsigned char *many = malloc(n);
    memcpy(many, jpg, last);
    for (int k = 0; k < 600; k++) memcpy(many + last + (size_t)k * scan, jpg + last, scan);
    memcpy(many + n - 2, jpg + len - 2, 2);
    cs_image img;
    CHECK(cs__image_decode(ctx, "scans.jpg", many, n, &img) == CS_ERR_FORMAT);
    CHECK_MSG(strstr(cs_context_last_error(ctx), "scans.jpg: JPEG: more than 500 progressive"),
              "%s", cs_context_last_error(ctx));
    free(many);
    free(jpg);
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * Bad input.
 */

/* Run fn with stderr redirected to a file; returns the number of bytes written to it. */
static long stderr_bytes_during(void (*fn)(void *), void *arg) {
    fflush(stderr);
    int saved = dup(2);
    const char *path = test_tmp("stderr.txt");
    FILE *f = fopen(path, "w+");
    if (saved < 0 || !f) return -1;
    dup2(fileno(f), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

typedef struct trunc_case {
    cs_context *ctx;
    const uint8_t *data;
    size_t len;
    size_t must_fail_below; /* every prefix shorter than this must fail */
    int failures, wrong;
} trunc_case;

static void truncate_all(void *arg) {
    trunc_case *t = arg;
    for (size_t n = 0; n < t->len; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(p, t->data, n);
        cs_image img;
        cs_status st = cs__image_decode(t->ctx, "cut", p, n, &img);
        if (st != CS_OK) {
            t->failures++;
            if (img.data || !strstr(cs_context_last_error(t->ctx), "cut")) t->wrong++;
        } else if (n < t->must_fail_below) {
            t->wrong++;
        }
        cs_image_free(&img);
        free(p);
    }
}

TEST(image_truncated_png_and_jpeg) {
    cs_context *ctx = test_context(1);
    /* A 16-bit RGBA interlaced PNG and a non-interlaced gray one. */
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, 19, 11, 4, &img));
    for (size_t i = 0; i < 19 * 11 * 4; i++) img.data[i] = (float)(i % 97) / 96.0f;
    const char *path = test_tmp("trunc.png");
    CHECK_OK(ctx, cs_image_save_png(ctx, &img, path, 16));
    cs_image_free(&img);
    size_t len;
    unsigned char *png = test_read_file(path, &len);
    /* Everything but the 12-byte IEND chunk is needed (IEND itself is never read). */
    trunc_case t = {ctx, png, len, len - 12, 0, 0};
    CHECK(stderr_bytes_during(truncate_all, &t) == 0);
    CHECK_MSG(t.wrong == 0, "PNG: %d prefixes decoded or failed badly", t.wrong);
    free(png);

    for (int prog = 0; prog < 2; prog++) {
        jpeg_spec s = {40, 24, 3, prog, false};
        unsigned long jlen;
        unsigned char *jpg = make_jpeg(&s, &jlen);
        /* The last entropy-coded bytes may hold only padding bits; all before must be there. */
        trunc_case j = {ctx, jpg, jlen, jlen - 4, 0, 0};
        CHECK(stderr_bytes_during(truncate_all, &j) == 0);
        CHECK_MSG(j.wrong == 0, "JPEG %d: %d prefixes decoded or failed badly", prog, j.wrong);
        test_note("JPEG (%s, %lu bytes): %d of %lu prefixes refused",
                  prog ? "progressive" : "baseline", jlen, j.failures, jlen);
        free(jpg);
    }
    cs_context_destroy(ctx);
}

/* A PNG of a valid signature and IHDR (with its CRC) claiming w x h RGB, then IEND. */
static size_t make_png_header(uint8_t *out, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[4 + 4 + 13] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        ihdr[8 + i] = (uint8_t)(w >> (24 - 8 * i));
        ihdr[12 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    ihdr[16] = 8; /* depth */
    ihdr[17] = 2; /* RGB */
    uint32_t crc = (uint32_t)crc32(0, ihdr + 4, 17);
    size_t n = 0;
    memcpy(out, sig, 8);
    n += 8;
    memcpy(out + n, ihdr, sizeof ihdr);
    n += sizeof ihdr;
    for (int i = 0; i < 4; i++) out[n++] = (uint8_t)(crc >> (24 - 8 * i));
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    memcpy(out + n, iend, 12);
    return n + 12;
}

TEST(image_bad_input) {
    cs_context *ctx = test_context(1);
    cs_image img;
    /* Missing file: the message names the path. */
    CHECK(cs_image_load(ctx, "/nonexistent/photo.png", &img) == CS_ERR_IO && img.data == NULL);
    CHECK(strstr(cs_context_last_error(ctx), "/nonexistent/photo.png"));
    /* Zero-byte file and a non-image. */
    const char *empty = test_tmp("empty.png");
    CHECK(test_write_file(empty, "", 0));
    CHECK(cs_image_load(ctx, empty, &img) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "empty.png: empty file"));
    const char *text = test_tmp("notes.png");
    CHECK(test_write_file(text, "hello, this is not an image\n", 28));
    CHECK(cs_image_load(ctx, text, &img) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "notes.png: not a PNG or JPEG"));
    /* 100000 x 100000 is refused from the header: allocating it would fail with NOMEM. */
    uint8_t buf[64];
    size_t n = make_png_header(buf, 100000, 100000);
    CHECK(cs__image_decode(ctx, "huge.png", buf, n, &img) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "huge.png: image of 100000x100000 pixels exceeds"));
    /* 16384 x 16384 is within the limit, but 45 bytes cannot hold it: refused before the 3 GiB
     * allocation. */
    n = make_png_header(buf, 16384, 16384);
    CHECK(cs__image_decode(ctx, "big.png", buf, n, &img) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "big.png: PNG: 45 bytes cannot hold"));
    /* A small one with no image data: libpng's error, with our prefix. */
    n = make_png_header(buf, 2, 2);
    CHECK(cs__image_decode(ctx, "noidat.png", buf, n, &img) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "noidat.png: PNG: "));
    test_note("no IDAT: %s", cs_context_last_error(ctx));
    /* A lowered pixel limit (the fuzzers' setting) applies to JPEG too. */
    jpeg_spec s = {64, 48, 3, false, false};
    unsigned long jlen;
    unsigned char *jpg = make_jpeg(&s, &jlen);
    cs__image_set_max_pixels(1000);
    CHECK(cs__image_decode(ctx, "limit.jpg", jpg, jlen, &img) == CS_ERR_UNSUPPORTED);
    cs__image_set_max_pixels(0);
    CHECK_OK(ctx, cs__image_decode(ctx, "limit.jpg", jpg, jlen, &img));
    cs_image_free(&img);
    free(jpg);
    cs_context_destroy(ctx);
}

TEST(image_allocation_failures) {
    cs_context *ctx = test_context(1);
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, 13, 7, 3, &img));
    const char *path = test_tmp("alloc.png");
    CHECK_OK(ctx, cs_image_save_png(ctx, &img, path, 8));
    int failures = 0;
    for (long n = 1; n < 100; n++) {
        cs_image back;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_image_load(ctx, path, &back);
        cs__test_fail_alloc_after(0);
        cs_image_free(&back);
        if (st == CS_OK) break;
        CHECK_MSG(st == CS_ERR_NOMEM, "load: failing allocation %ld gave %s: %s", n,
                  cs_status_string(st), cs_context_last_error(ctx));
        failures++;
    }
    CHECK(failures >= 4);
    int save_failures = 0;
    for (long n = 1; n < 100; n++) {
        cs__test_fail_alloc_after(n);
        cs_status st = cs_image_save_png(ctx, &img, path, 16);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) break;
        CHECK_MSG(st == CS_ERR_NOMEM, "save: failing allocation %ld gave %s: %s", n,
                  cs_status_string(st), cs_context_last_error(ctx));
        save_failures++;
    }
    CHECK(save_failures >= 3);
    test_note("%d load and %d save allocations failed in turn", failures, save_failures);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * Real files.
 */

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Compare a real PNG with libpng's simplified API, an independent decoding path. */
static void check_real_png(const char *rel, int w, int h, int ch) {
    const char *found = test_data(rel);
    if (!found) {
        test_skip("../shared/data/%s is absent", rel);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", found);
    cs_context *ctx = test_context(1);
    cs_image img;
    double t0 = seconds_now();
    CHECK_OK(ctx, cs_image_load(ctx, path, &img));
    double t1 = seconds_now();
    CHECK_MSG(img.width == w && img.height == h && img.channels == ch, "%s: %dx%dx%d", rel,
              img.width, img.height, img.channels);
    png_image ref;
    memset(&ref, 0, sizeof ref);
    ref.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&ref, path));
    ref.format = ch == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    size_t n = (size_t)w * (size_t)h * (size_t)ch;
    uint8_t *px = malloc(n);
    CHECK(png_image_finish_read(&ref, NULL, px, 0, NULL));
    int bad = 0;
    for (size_t i = 0; img.data && i < n; i++) bad += img.data[i] != (float)px[i] / 255.0f;
    CHECK_MSG(bad == 0, "%s: %d samples differ from libpng's simplified API", rel, bad);
    test_note("%s: %dx%dx%d in %.1f ms", rel, img.width, img.height, img.channels, 1e3 * (t1 - t0));
    free(px);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

TEST(image_real_kodim23_png) {
    check_real_png("kodak/kodim23.png", 768, 512, 3);
}

TEST(image_real_lego_rgba_png) {
    check_real_png("nerf_synthetic_lego/train/r_0.png", 800, 800, 4);
}

static void check_real_jpeg(const char *rel, int w, int h, int ch) {
    const char *found = test_data(rel);
    if (!found) {
        test_skip("../shared/data/%s is absent", rel);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", found);
    cs_context *ctx = test_context(1);
    cs_image img;
    double t0 = seconds_now();
    CHECK_OK(ctx, cs_image_load(ctx, path, &img));
    double t1 = seconds_now();
    CHECK_MSG(img.width == w && img.height == h && img.channels == ch, "%s: %dx%dx%d", rel,
              img.width, img.height, img.channels);
    /* A real photo: values span most of [0, 1] and its mean is mid-range. */
    double sum = 0, lo = 1, hi = 0;
    size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
    for (size_t i = 0; img.data && i < n; i++) {
        double v = (double)img.data[i];
        sum += v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    CHECK(lo < 0.1 && hi > 0.9 && sum / (double)n > 0.1 && sum / (double)n < 0.9);
    test_note("%s: %dx%dx%d, mean %.3f, in %.1f ms", rel, img.width, img.height, img.channels,
              sum / (double)n, 1e3 * (t1 - t0));
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

TEST(image_real_albert_progressive_gray_jpeg) {
    check_real_jpeg("albert/albert.jpg", 3250, 4333, 1);
}

TEST(image_real_fox_jpeg) {
    check_real_jpeg("instant_ngp_fox/images/0001.jpg", 1080, 1920, 3);
}
