/*
 * io_image.c - images: PNG read/write through libpng, JPEG read through libjpeg(-turbo).
 *
 * Files are read whole and decoded from memory (cs__image_decode, also the fuzzers' entry point);
 * the format is chosen by the signature (PNG "\x89PNG\r\n\x1a\n", JPEG FF D8 FF), never by the
 * extension. Output is cs_image: [height, width, channels] floats, v/255 for 8-bit samples and
 * v/65535 for 16-bit ones, with no gamma or colour-space conversion (DESIGN.md: 8-bit files are
 * read and written as they are).
 *
 * PNG: every bit depth and colour type. Channels are kept as stored (gray 1, gray+alpha 2, RGB 3,
 * RGBA 4); palettes expand to RGB, gray below 8 bits expands to 8, and a tRNS chunk becomes an
 * alpha channel (palette -> 4, gray -> 2, RGB -> 4) so transparency is not lost; Adam7 interlacing
 * is undone by libpng. JPEG: baseline, progressive and arithmetic-coded, 1 component -> 1 channel,
 * 3 components -> RGB; CMYK/YCCK are refused. A JPEG whose data ends early is an error (libjpeg
 * only warns and pads with gray); other libjpeg warnings go to the log callback.
 *
 * Both libraries report errors by calling a handler that must not return: ours record the message
 * and longjmp back to the decoder, which then releases everything it holds. State modified after
 * setjmp lives in a struct owned by the caller of the function that calls setjmp, so it is never
 * an indeterminate local after the jump (C11 7.13.2.1). Nothing is printed: libpng warnings are
 * dropped, libjpeg messages are formatted into the context's error or the log.
 *
 * Sizes: width * height is checked against CS_IMAGE_MAX_PIXELS (image.h) before any pixel memory
 * is allocated, and a PNG whose compressed size is below what deflate's maximum ratio (1032:1)
 * allows for its dimensions is refused as truncated up front.
 *
 * Writing: PNG only, 8 or 16 bits, 1..4 channels, values clamped to [0, 1] (NaN -> 0) and rounded
 * to nearest. Compression is zlib level 3 with the "up" filter on every row: on 1920x1080 8-bit
 * images (a photo and a Blender render, tiled) it saved in ~180 / ~50-100 ms at 1.13 MB / 517 KB,
 * against ~760 / ~290 ms at 1.05 MB / 399 KB for libpng's default (adaptive filters, level 6),
 * and was the fastest of sub/up/paeth at levels 1-4 for its size. Renders are saved often; a
 * smaller file can be had with any PNG optimiser afterwards.
 *
 * Not done: other formats (WebP, EXR), colour management (iCCP/gAMA/sRGB are ignored), EXIF
 * orientation, JPEG writing.
 */
#include "image.h"

#include <math.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* Deflate's best case is ~1032:1; a PNG smaller than raw/1032 cannot hold its pixels. */
#define DEFLATE_MAX_RATIO 1032
/* Progressive JPEGs may hold any number of scans; real ones have about ten. Bounding them stops a
 * tiny file from costing minutes of decoding (libjpeg-turbo's fuzzers use the same limit). */
#define JPEG_MAX_SCANS 500
/* zlib level for PNG writing; see the header comment. */
#define PNG_SAVE_LEVEL 3

static _Atomic int64_t max_pixels = CS_IMAGE_MAX_PIXELS;

void cs__image_set_max_pixels(int64_t n) {
    atomic_store(&max_pixels, n > 0 ? n : CS_IMAGE_MAX_PIXELS);
}

static cs_status check_size(cs_context *ctx, const char *name, int64_t w, int64_t h, int c) {
    int64_t limit = atomic_load(&max_pixels);
    if (w <= 0 || h <= 0 || c < 1 || c > 4)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: invalid image size %lldx%lld with %d channels",
                         name, (long long)w, (long long)h, c);
    /* w and h come from 32-bit header fields, so w * h cannot overflow int64. */
    if (w > INT32_MAX || h > INT32_MAX || w * h > limit)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: image of %lldx%lld pixels exceeds the limit of %lld pixels", name,
                         (long long)w, (long long)h, (long long)limit);
    return CS_OK;
}

cs_status cs_image_alloc(cs_context *ctx, int width, int height, int channels, cs_image *out) {
    memset(out, 0, sizeof *out);
    cs_status st = check_size(ctx, "image", width, height, channels);
    if (st != CS_OK) return st == CS_ERR_FORMAT ? CS_ERR_ARGUMENT : st;
    size_t n = (size_t)width * (size_t)height * (size_t)channels; /* < 2^30 by the limit */
    float *data = cs__calloc(n, sizeof(float));
    if (!data) return cs__alloc_error(ctx, "image", n * sizeof(float));
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->data = data;
    return CS_OK;
}

void cs_image_free(cs_image *image) {
    if (!image) return;
    cs__free(image->data);
    memset(image, 0, sizeof *image);
}

/* ---------------------------------------------------------------------------------------------
 * PNG reading.
 */

typedef struct png_rd {
    const uint8_t *data;
    size_t len, pos;
    char msg[256];
    bool nomem; /* an allocation failed: report CS_ERR_NOMEM, not a format error */
    /* Owned resources, released by the caller of png_decode_run. */
    png_structp png;
    png_infop info;
    uint8_t *raw;    /* one row, or the whole image when interlaced */
    png_bytep *rows; /* row pointers into raw (interlaced only) */
    float *pixels;
} png_rd;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_rd *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* mem_ptr is a bool set when an allocation fails, so the failure is reported as one. */
static png_voidp png_on_malloc(png_structp png, png_alloc_size_t size) {
    void *p = cs__malloc(size);
    if (!p) *(bool *)png_get_mem_ptr(png) = true;
    return p;
}

static void png_on_free(png_structp png, png_voidp p) {
    (void)png;
    cs__free(p);
}

static void png_read_mem(png_structp png, png_bytep dst, size_t n) {
    png_rd *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "file is truncated");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

/* Convert one row of 8- or 16-bit big-endian samples to floats. */
static void row_to_float(const uint8_t *src, size_t samples, int depth, const float *lut8,
                         float *dst) {
    if (depth == 8) {
        for (size_t i = 0; i < samples; i++) dst[i] = lut8[src[i]];
    } else {
        for (size_t i = 0; i < samples; i++)
            dst[i] = (float)(src[2 * i] << 8 | src[2 * i + 1]) / 65535.0f;
    }
}

/* All libpng work. After a longjmp it returns the error; the caller releases what s holds. */
static cs_status png_decode_run(cs_context *ctx, const char *name, png_rd *s, cs_image *out) {
    s->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning,
                                      &s->nomem, png_on_malloc, png_on_free);
    if (!s->png) return cs__alloc_error(ctx, name, sizeof(png_struct *));
    s->info = png_create_info_struct(s->png);
    if (!s->info) return cs__alloc_error(ctx, name, sizeof(png_info *));
    if (setjmp(png_jmpbuf(s->png))) {
        if (s->nomem) return cs__error(ctx, CS_ERR_NOMEM, "%s: PNG: out of memory", name);
        return cs__error(ctx, CS_ERR_FORMAT, "%s: PNG: %s", name, s->msg);
    }
    png_set_read_fn(s->png, s, png_read_mem);
    /* Our own limit (checked below with a clear message) replaces libpng's 10^6 x 10^6. */
    png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);
    png_read_info(s->png, s->info);

    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(s->png, s->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
    if (png_get_valid(s->png, s->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(s->png);
    int passes = png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    int channels = png_get_channels(s->png, s->info);
    int out_depth = png_get_bit_depth(s->png, s->info);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    CS_ASSERT(channels >= 1 && channels <= 4 && (out_depth == 8 || out_depth == 16));
    size_t samples = (size_t)w * (size_t)channels;
    CS_ASSERT(rowbytes == samples * (size_t)(out_depth / 8));

    size_t bytes = samples * (size_t)h * sizeof(float); /* < 2^34 by the pixel limit */
    s->pixels = cs__malloc(bytes);
    if (!s->pixels) return cs__alloc_error(ctx, name, bytes);
    float lut8[256];
    for (int i = 0; i < 256; i++) lut8[i] = (float)i / 255.0f;

    if (passes == 1) {
        /* Row by row: only one row of raw samples is ever held. */
        s->raw = cs__malloc(rowbytes);
        if (!s->raw) return cs__alloc_error(ctx, name, rowbytes);
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(s->png, s->raw, NULL);
            row_to_float(s->raw, samples, out_depth, lut8, s->pixels + (size_t)y * samples);
        }
    } else {
        /* Adam7 fills rows over seven passes, so the whole raw image is needed. */
        size_t raw_bytes = rowbytes * (size_t)h;
        s->raw = cs__malloc(raw_bytes);
        s->rows = cs__malloc((size_t)h * sizeof *s->rows);
        if (!s->raw || !s->rows) return cs__alloc_error(ctx, name, raw_bytes);
        for (png_uint_32 y = 0; y < h; y++) s->rows[y] = s->raw + (size_t)y * rowbytes;
        png_read_image(s->png, s->rows);
        for (png_uint_32 y = 0; y < h; y++)
            row_to_float(s->rows[y], samples, out_depth, lut8, s->pixels + (size_t)y * samples);
    }
    /* The chunks after the image data (text, time) are not needed, so png_read_end is skipped. */
    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    out->data = s->pixels;
    s->pixels = NULL;
    return CS_OK;
}

static uint32_t rd_u32be(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size checks, on the IHDR chunk that must follow the signature, before libpng reads on
 * (it would otherwise report a later problem first) and before anything is allocated. A file
 * whose IHDR is not first is left to libpng to reject. */
static cs_status png_check_header(cs_context *ctx, const char *name, const uint8_t *d, size_t len) {
    if (len < 33 || memcmp(d + 12, "IHDR", 4) != 0) return CS_OK;
    uint32_t w = rd_u32be(d + 16), h = rd_u32be(d + 20);
    int depth = d[24], color = d[25];
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4}; /* by colour type; 0: invalid */
    cs_status st = check_size(ctx, name, w, h, 1);
    if (st != CS_OK || color > 6 || !channels[color] || depth > 16) return st;
    double rowbytes = ceil((double)w * depth * channels[color] / 8.0) + 1.0; /* + filter byte */
    if (rowbytes * h / DEFLATE_MAX_RATIO > (double)len)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: PNG: %zu bytes cannot hold a %ux%u image (truncated?)", name, len,
                         (unsigned)w, (unsigned)h);
    return CS_OK;
}

static cs_status png_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                            cs_image *out) {
    cs_status st = png_check_header(ctx, name, data, len);
    if (st != CS_OK) return st;
    png_rd s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.len = len;
    st = png_decode_run(ctx, name, &s, out);
    png_destroy_read_struct(s.png ? &s.png : NULL, s.info ? &s.info : NULL, NULL);
    cs__free(s.raw);
    cs__free(s.rows);
    cs__free(s.pixels);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * JPEG reading.
 */

typedef struct jpeg_rd {
    struct jpeg_error_mgr err; /* first, so the error manager pointer is the state pointer */
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    cs_context *ctx;
    const char *name;
    bool warned;
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    bool created;
    uint8_t *row;
    float *pixels;
} jpeg_rd;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_rd *s = (jpeg_rd *)cinfo->err;
    cinfo->err->format_message(cinfo, s->msg);
    longjmp(s->jmp, 1);
}

static void jpeg_on_output(j_common_ptr cinfo) {
    (void)cinfo; /* never print; messages are formatted where they are used */
}

/* Warnings (level -1): premature end of data is fatal (libjpeg would pad the image with gray);
 * the others, often harmless in real photos, go to the log once. Trace levels are ignored. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    jpeg_rd *s = (jpeg_rd *)cinfo->err;
    if (level != -1) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(s->msg, sizeof s->msg, "file is truncated");
        longjmp(s->jmp, 1);
    }
    if (!s->warned) {
        char m[JMSG_LENGTH_MAX];
        cinfo->err->format_message(cinfo, m);
        cs__log(s->ctx, CS_LOG_WARN, "%s: JPEG: %s", s->name, m);
        s->warned = true;
    }
}

static void jpeg_on_progress(j_common_ptr cinfo) {
    jpeg_rd *s = (jpeg_rd *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
        snprintf(s->msg, sizeof s->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
        longjmp(s->jmp, 1);
    }
}

static cs_status jpeg_decode_run(cs_context *ctx, const char *name, jpeg_rd *s, const uint8_t *data,
                                 size_t len, cs_image *out) {
    struct jpeg_decompress_struct *ci = &s->cinfo;
    ci->err = jpeg_std_error(&s->err);
    s->err.error_exit = jpeg_on_error;
    s->err.output_message = jpeg_on_output;
    s->err.emit_message = jpeg_on_message;
    if (setjmp(s->jmp)) {
        int code = s->err.msg_code;
        cs_status st = code == JERR_OUT_OF_MEMORY   ? CS_ERR_NOMEM
                       : code == JERR_BAD_PRECISION ? CS_ERR_UNSUPPORTED
                                                    : CS_ERR_FORMAT;
        return cs__error(ctx, st, "%s: JPEG: %s", name, s->msg);
    }
    jpeg_create_decompress(ci);
    s->created = true;
    s->progress.progress_monitor = jpeg_on_progress;
    ci->progress = &s->progress;
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);

    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: JPEG: CMYK images are not supported", name);
    if (ci->num_components == 1)
        ci->out_color_space = JCS_GRAYSCALE;
    else if (ci->num_components == 3)
        ci->out_color_space = JCS_RGB;
    else
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: JPEG: %d colour components are not supported", name,
                         ci->num_components);
    cs_status st = check_size(ctx, name, ci->image_width, ci->image_height, 1);
    if (st != CS_OK) return st;

    jpeg_start_decompress(ci);
    int channels = ci->output_components;
    CS_ASSERT(channels == 1 || channels == 3);
    size_t samples = (size_t)ci->output_width * (size_t)channels;
    size_t bytes = samples * ci->output_height * sizeof(float);
    s->row = cs__malloc(samples);
    s->pixels = cs__malloc(bytes);
    if (!s->row || !s->pixels) return cs__alloc_error(ctx, name, bytes);
    float lut8[256];
    for (int i = 0; i < 256; i++) lut8[i] = (float)i / 255.0f;
    while (ci->output_scanline < ci->output_height) {
        float *dst = s->pixels + (size_t)ci->output_scanline * samples;
        JSAMPROW rows[1] = {s->row};
        if (jpeg_read_scanlines(ci, rows, 1) != 1)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: JPEG: decoding stopped early", name);
        for (size_t i = 0; i < samples; i++) dst[i] = lut8[s->row[i]];
    }
    /* Everything after the last scanline (EOI, trailing markers) is not needed, so
     * jpeg_finish_decompress is skipped; jpeg_destroy_decompress releases the state. */
    out->width = (int)ci->output_width;
    out->height = (int)ci->output_height;
    out->channels = channels;
    out->data = s->pixels;
    s->pixels = NULL;
    return CS_OK;
}

static cs_status jpeg_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                             cs_image *out) {
    jpeg_rd *s = cs__calloc(1, sizeof *s); /* ~1 KiB of state plus a jmp_buf: keep off stack */
    if (!s) return cs__alloc_error(ctx, name, sizeof *s);
    s->ctx = ctx;
    s->name = name;
    cs_status st = jpeg_decode_run(ctx, name, s, data, len, out);
    if (s->created) jpeg_destroy_decompress(&s->cinfo);
    cs__free(s->row);
    cs__free(s->pixels);
    cs__free(s);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Entry points.
 */

cs_status cs__image_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                           cs_image *out) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(out, 0, sizeof *out);
    cs_status st;
    if (len >= 8 && memcmp(data, png_sig, 8) == 0)
        st = png_decode(ctx, name, data, len, out);
    else if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        st = jpeg_decode(ctx, name, data, len, out);
    else if (len == 0)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: empty file", name);
    else
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: not a PNG or JPEG image", name);
    if (st != CS_OK) memset(out, 0, sizeof *out);
    return st;
}

cs_status cs_image_load(cs_context *ctx, const char *path, cs_image *out) {
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_IMAGE_MAX_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    st = cs__image_decode(ctx, path, data, len, out);
    cs__free(data);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * PNG writing.
 */

typedef struct png_wr {
    char msg[256];
    bool nomem;
    png_structp png;
    png_infop info;
    uint8_t *row;
} png_wr;

static void png_write_on_error(png_structp png, png_const_charp msg) {
    png_wr *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* [0, 1] -> [0, max], rounding to nearest; NaN and negatives -> 0 (the comparison is false). */
static unsigned quantize(float v, float max) {
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return (unsigned)max;
    return (unsigned)(v * max + 0.5f);
}

static cs_status png_encode_run(cs_context *ctx, const cs_image *img, int depth, FILE *file,
                                const char *path, png_wr *s) {
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    s->png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, s, png_write_on_error, png_on_warning,
                                       &s->nomem, png_on_malloc, png_on_free);
    if (!s->png) return cs__alloc_error(ctx, path, sizeof(png_struct *));
    s->info = png_create_info_struct(s->png);
    if (!s->info) return cs__alloc_error(ctx, path, sizeof(png_info *));
    size_t samples = (size_t)img->width * (size_t)img->channels;
    size_t rowbytes = samples * (size_t)(depth / 8);
    s->row = cs__malloc(rowbytes);
    if (!s->row) return cs__alloc_error(ctx, path, rowbytes);
    if (setjmp(png_jmpbuf(s->png))) {
        if (s->nomem) return cs__error(ctx, CS_ERR_NOMEM, "%s: PNG write: out of memory", path);
        return cs__error(ctx, CS_ERR_IO, "%s: PNG write: %s", path, s->msg);
    }
    png_init_io(s->png, file);
    png_set_IHDR(s->png, s->info, (png_uint_32)img->width, (png_uint_32)img->height, depth,
                 color_types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(s->png, PNG_SAVE_LEVEL);
    png_set_filter(s->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
    png_write_info(s->png, s->info);
    for (int y = 0; y < img->height; y++) {
        const float *src = img->data + (size_t)y * samples;
        if (depth == 8) {
            for (size_t i = 0; i < samples; i++) s->row[i] = (uint8_t)quantize(src[i], 255.0f);
        } else {
            for (size_t i = 0; i < samples; i++) {
                unsigned v = quantize(src[i], 65535.0f);
                s->row[2 * i] = (uint8_t)(v >> 8);
                s->row[2 * i + 1] = (uint8_t)v;
            }
        }
        png_write_row(s->png, s->row);
    }
    png_write_end(s->png, NULL);
    return CS_OK;
}

cs_status cs_image_save_png(cs_context *ctx, const cs_image *image, const char *path,
                            int bit_depth) {
    if (!image || !image->data || image->width <= 0 || image->height <= 0 || image->channels < 1 ||
        image->channels > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "%s: cannot save an empty image or one with %d channels", path,
                         image ? image->channels : 0);
    if (bit_depth != 8 && bit_depth != 16)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: PNG bit depth must be 8 or 16, not %d", path,
                         bit_depth);
    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st != CS_OK) return st;
    png_wr s;
    memset(&s, 0, sizeof s);
    st = png_encode_run(ctx, image, bit_depth, of.file, path, &s);
    png_destroy_write_struct(s.png ? &s.png : NULL, s.info ? &s.info : NULL);
    cs__free(s.row);
    if (st == CS_OK) return cs__outfile_commit(ctx, &of);
    cs__outfile_abort(&of);
    return st;
}
