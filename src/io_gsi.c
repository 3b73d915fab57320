/*
 * io_gsi.c - the .gsi file format of 2D Gaussian images: a versioned header, quantized attribute
 * planes, zstd. The byte-by-byte layout is documented in docs/gsi.md; this comment is a summary.
 *
 *   header   32 bytes: magic "GSI\0", version (1 or 2), rule, channels, width, height, count, bit
 *            depths (position, Cholesky, colour: 1..16, or 32 = float32), flags (bit 0: zstd),
 *            top-K size, payload byte count;
 *   ranges   (5 + C) pairs of float32 lo, hi: x, y, c0, c1, c2, colour channels;
 *   payload  planes in the order y, x, c0, c1, c2, colour 0..C-1, N values each, Gaussians sorted
 *            by quantized (y, x); y is delta-coded against the previous Gaussian. A b-bit value
 *            takes ceil(b/8) bytes stored as byte planes (all low bytes, then the next bytes).
 *            Version 1: the planes back to back, raw or as one zstd frame. Version 2 (what the
 *            writer produces unless asked for no compression, or unless one v1 frame is
 *            smaller, as for a few dozen Gaussians): quantized RGB is stored as the
 *            lossless integer YCoCg-R transform (Y in Bk bits, Co and Cg offset by 2^Bk - 1 in
 *            Bk + 1 bits), and every byte plane is its own zstd frame preceded by its u32 size,
 *            so each gets its own entropy table: one table over all planes (v1) mixed the
 *            near-uniform position bytes with the peaked colour and delta bytes, and cost 23% over
 *            the per-plane result on kodim01 at 4000 Gaussians (55.1 -> 42.6 bits per Gaussian,
 *            of which 10% is YCoCg: chroma of a fitted image is far more predictable than RGB).
 *
 * Quantization: v -> round((v - lo) / step), step = (hi - lo) / (2^b - 1) (image2d.h). Ranges
 * are the min/max of each column, or the fine-tune's fixed ranges when the image went through it
 * with the same depths, so the saved values equal the fine-tuned ones exactly. Both versions
 * store the same quantized integers: a v1 file rewritten as v2 decodes to the same parameters.
 *
 * Reading validates every header field, the payload size against the count and depths, every
 * quantized value against its depth (for YCoCg, the RGB it inverts to), y deltas against overflow
 * and every float for finiteness; zstd output is grown only as real data arrives (no allocation
 * from a claimed size). There is no checksum: any payload that passes these checks decodes to
 * valid parameters.
 */
#include "image2d.h"

#include <stdlib.h>
#include <zstd.h>

#define GSI_VERSION 2 /* written; version 1 is still read */
#define GSI_MAX_PLANES 32 /* 2 + 3 + 3 columns of at most 4 byte planes */
#define GSI_HEADER 32
#define GSI_ZSTD_LEVEL 19
#define GSI_FLAG_ZSTD 1u

static const uint8_t gsi_magic[4] = {'G', 'S', 'I', 0};

/* Presets: position step as a power of two of a pixel (2^-k), Cholesky and colour depths.
 * Measured on 256x256 crops of kodim01/kodim23 fitted with 700 Gaussians and the fine-tune:
 * 1/4 pixel costs ~0.1 dB against 1/8, 1/2 pixel ~0.4 dB; Cholesky 5 bits ~0.8 dB against 6;
 * colour 7 bits gains ~0.3 dB over 6 for 6% more bytes. Whole images fitted longer hold
 * narrower Gaussians, whose Cholesky factors need a finer step: 7 bits instead of 6 gain 0.7 dB
 * for 7% more bytes on kodim23 (10,000 Gaussians, 600 iterations) and 0.5 dB for 8% on kodim13
 * (5000, 1500 and a 150-step fine-tune), where 7% more Gaussians gain ~0.25 dB. */
static const int presets[3][3] = {
    {2, 7, 6}, /* CS_GSI_MEDIUM */
    {1, 5, 5}, /* CS_GSI_LOW */
    {3, 8, 8}  /* CS_GSI_HIGH */
};

static bool valid_bits(int b) {
    return (b >= 1 && b <= 16) || b == 32;
}

/* Bits for positions in [0, side] at a step of 2^-k pixels (at most 16). */
static int position_bits(int side, int k) {
    double levels = (double)side * (double)(1 << k) + 1.0;
    int b = 1;
    while (b < 16 && (double)(1u << b) < levels) b++;
    return b;
}

cs_status cs_gsi_options_bits(cs_context *ctx, const cs_gsi_options *opt, int width, int height,
                              int bits[3]) {
    cs_gsi_options o = opt ? *opt : (cs_gsi_options){0};
    if ((int)o.quality < 0 || (int)o.quality > (int)CS_GSI_LOSSLESS)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gsi: unknown quality preset %d", (int)o.quality);
    int given[3] = {o.bits_position, o.bits_cholesky, o.bits_colour};
    for (int i = 0; i < 3; i++) {
        int preset;
        if (o.quality == CS_GSI_LOSSLESS)
            preset = 32;
        else if (i == 0)
            preset = position_bits(width > height ? width : height, presets[o.quality][0]);
        else
            preset = presets[o.quality][i];
        bits[i] = given[i] ? given[i] : preset;
        if (!valid_bits(bits[i]))
            return cs__error(ctx, CS_ERR_ARGUMENT, "gsi: bit depth %d is not 1..16 or 32", bits[i]);
    }
    return CS_OK;
}

/* The group (0 position, 1 Cholesky, 2 colour) of range column k. */
static int column_group(int k) {
    return k < 2 ? 0 : k < 5 ? 1 : 2;
}

/* Value j of column k (x, y, c0, c1, c2, colours). */
static float *column_ptr(float *xy, float *chol, float *colour, int C, int k, int64_t j) {
    if (k < 2) return xy + 2 * j + k;
    if (k < 5) return chol + 3 * j + (k - 2);
    return colour + j * C + (k - 5);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The range [v[t], v[n-1-t]] of sorted values v whose quantization with b bits costs least:
 * sum of squared clamping errors of the values outside, plus step^2 / 12 for each inside; trims
 * tried: 0 (min/max) to 2% at each end. Only thin tails are cut (a value far out costs its
 * squared distance): kodim13, 5000 Gaussians, 1500 iterations, 6 bits: the Cholesky columns
 * -1.9..8.1, -40.7..36.5, -5.1..8.5 became -1.7..7.5, -36.9..33.4, -3.7..7.8, +0.14 dB. */
static void best_range(const float *v, int64_t n, int bits, float *lo, float *hi) {
    static const double trims[] = {0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2};
    double levels = (double)((1u << bits) - 1u), best = INFINITY;
    *lo = v[0];
    *hi = v[n - 1];
    for (size_t k = 0; k < sizeof trims / sizeof trims[0]; k++) {
        int64_t t = (int64_t)(trims[k] * (double)n);
        if (k > 0 && t == 0) continue;
        double a = (double)v[t], b = (double)v[n - 1 - t], step = (b - a) / levels, cost = 0.0;
        for (int64_t j = 0; j < t; j++) {
            double d0 = a - (double)v[j], d1 = (double)v[n - 1 - j] - b;
            cost += d0 * d0 + d1 * d1;
        }
        cost += (double)(n - 2 * t) * step * step / 12.0;
        if (cost < best) {
            best = cost;
            *lo = v[t];
            *hi = v[n - 1 - t];
        }
    }
}

void cs__gsi_compute_ranges(const cs_gimage_params *p, const int bits[3], cs__gsi_quant *out) {
    memset(out, 0, sizeof *out);
    memcpy(out->bits, bits, sizeof out->bits);
    int cols = cs__gsi_ranges(p->channels);
    float *sorted = p->count > 0 ? cs__malloc((size_t)p->count * sizeof(float)) : NULL;
    for (int k = 0; k < cols; k++) {
        if (bits[column_group(k)] == 32 || p->count == 0) continue;
        float lo = INFINITY, hi = -INFINITY;
        int64_t n = 0;
        for (int64_t j = 0; j < p->count; j++) {
            float v = *column_ptr(p->xy, p->chol, p->colour, p->channels, k, j);
            if (!isfinite(v)) continue;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            if (sorted) sorted[n++] = v;
        }
        if (lo > hi) lo = hi = 0.0f;
        if (sorted && n > 0) { /* without the scratch (out of memory): min/max */
            qsort(sorted, (size_t)n, sizeof(float), cmp_float);
            best_range(sorted, n, bits[column_group(k)], &lo, &hi);
        }
        out->lo[k] = lo;
        out->hi[k] = hi;
    }
    cs__free(sorted);
}

void cs__gsi_snap(const cs__gsi_quant *qt, float *xy, float *chol, float *colour, int64_t count,
                  int channels) {
    for (int k = 0; k < cs__gsi_ranges(channels); k++) {
        int b = qt->bits[column_group(k)];
        if (b == 32) continue;
        float step = cs__gsi_step(qt->lo[k], qt->hi[k], b);
        for (int64_t j = 0; j < count; j++) {
            float *v = column_ptr(xy, chol, colour, channels, k, j);
            *v = cs__gsi_dequantize(cs__gsi_quantize(*v, qt->lo[k], step, b), qt->lo[k], step);
        }
    }
}

static int value_bytes(int bits) {
    return (bits + 7) / 8;
}

/* Does this version store RGB as YCoCg-R? (version 2, 3 quantized colour channels) */
static bool uses_ycocg(int version, int C, const int bits[3]) {
    return version >= 2 && C == 3 && bits[2] != 32;
}

/* Stored bits of each column in plane order (y, x, c0, c1, c2, colours); returns the number of
 * byte planes. */
static int plane_bits(int version, int C, const int bits[3], int sb[8]) {
    int cols = cs__gsi_ranges(C), planes = 0;
    for (int c = 0; c < cols; c++) {
        int k = c == 0 ? 1 : c == 1 ? 0 : c;
        sb[c] = bits[column_group(k)];
        if (uses_ycocg(version, C, bits) && k > 5) sb[c]++; /* Co, Cg */
        planes += value_bytes(sb[c]);
    }
    return planes;
}

/* floor(v / 2) for any sign (>> of a negative int is implementation-defined in C). */
static int32_t floor_half(int32_t v) {
    return v >= 0 ? v / 2 : -((1 - v) / 2);
}

/* YCoCg-R, the lossless integer colour transform (Malvar & Sullivan), on b-bit r, g, b:
 * Co = r - b, t = b + floor(Co/2), Cg = g - t, Y = t + floor(Cg/2); Y in [0, 2^b - 1], Co and Cg
 * in [-(2^b - 1), 2^b - 1], stored offset by 2^b - 1. */
static void to_ycocg(uint32_t r, uint32_t g, uint32_t b, int bits, uint32_t out[3]) {
    int32_t co = (int32_t)r - (int32_t)b, t = (int32_t)b + floor_half(co);
    int32_t cg = (int32_t)g - t, off = (int32_t)((1u << bits) - 1u);
    out[0] = (uint32_t)(t + floor_half(cg));
    out[1] = (uint32_t)(co + off);
    out[2] = (uint32_t)(cg + off);
}

/* The inverse; false when the result leaves [0, 2^b - 1] (a corrupt file). */
static bool from_ycocg(const uint32_t in[3], int bits, uint32_t rgb[3]) {
    int32_t off = (int32_t)((1u << bits) - 1u);
    int32_t co = (int32_t)in[1] - off, cg = (int32_t)in[2] - off;
    int32_t t = (int32_t)in[0] - floor_half(cg), g = cg + t, b = t - floor_half(co), r = b + co;
    if (r < 0 || g < 0 || b < 0 || r > off || g > off || b > off || t < 0) return false;
    rgb[0] = (uint32_t)r;
    rgb[1] = (uint32_t)g;
    rgb[2] = (uint32_t)b;
    return true;
}

static void wr_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---------------------------------------------------------------------------------------------
 * Encode
 */
typedef struct sort_key {
    uint64_t key; /* (qy << 32 | qx) or float order */
    int64_t index;
} sort_key;

static int cmp_key(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Monotone map of a float to uint32 (for sorting float positions). */
static uint32_t float_order(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* The stored integer of column k for Gaussian j. */
static uint32_t stored_value(const cs_gimage *g, const cs__gsi_quant *qt, int k, int64_t j) {
    float v = *column_ptr(g->p.xy, g->p.chol, g->p.colour, g->channels, k, j);
    int b = qt->bits[column_group(k)];
    if (b == 32) {
        uint32_t u;
        memcpy(&u, &v, 4);
        return u;
    }
    return cs__gsi_quantize(v, qt->lo[k], cs__gsi_step(qt->lo[k], qt->hi[k], b), b);
}

/* The byte planes of a version (y, x, c0, c1, c2, colours: column order 1, 0, 2, 3, 4, 5..), the
 * Gaussians in keys order, into raw (N bytes per plane). */
static void fill_planes(const cs_gimage *g, const cs__gsi_quant *qt, const sort_key *keys,
                        int version, uint8_t *raw) {
    int C = g->channels, cols = cs__gsi_ranges(C), sb[8];
    size_t n = (size_t)g->count;
    plane_bits(version, C, qt->bits, sb);
    bool ycocg = uses_ycocg(version, C, qt->bits);
    for (int c = 0; c < cols; c++) {
        int k = c == 0 ? 1 : c == 1 ? 0 : c, nb = value_bytes(sb[c]);
        uint32_t prev = 0;
        for (size_t j = 0; j < n; j++) {
            int64_t i = keys[j].index;
            uint32_t v;
            if (k >= 5 && ycocg) {
                uint32_t yc[3];
                to_ycocg(stored_value(g, qt, 5, i), stored_value(g, qt, 6, i),
                         stored_value(g, qt, 7, i), qt->bits[2], yc);
                v = yc[k - 5];
            } else {
                v = stored_value(g, qt, k, i);
            }
            if (k == 1 && qt->bits[0] != 32) {
                uint32_t d = v - prev; /* sorted by qy: never negative */
                prev = v;
                v = d;
            }
            for (int byte = 0; byte < nb; byte++) raw[(size_t)byte * n + j] = (uint8_t)(v >> (8 * byte));
        }
        raw += (size_t)nb * n;
    }
}

cs_status cs_gimage_encode(cs_context *ctx, const cs_gimage *g, const cs_gsi_options *opt,
                           uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int bits[3];
    cs_status st = cs_gsi_options_bits(ctx, opt, g->width, g->height, bits);
    if (st != CS_OK) return st;
    int C = g->channels, cols = cs__gsi_ranges(C);
    int64_t n = g->count;
    for (int64_t j = 0; j < n; j++)
        for (int k = 0; k < cols; k++)
            if (!isfinite(*column_ptr(g->p.xy, g->p.chol, g->p.colour, C, k, j)))
                return cs__error(ctx, CS_ERR_ARGUMENT,
                                 "gsi: Gaussian %lld has a non-finite "
                                 "parameter",
                                 (long long)j);
    cs__gsi_quant qt;
    if (g->has_quant && memcmp(g->quant.bits, bits, sizeof bits) == 0)
        qt = g->quant;
    else
        cs__gsi_compute_ranges(&g->p, bits, &qt);
    bool zstd = !(opt && opt->no_zstd);
    int sb[8], planes[3] = {0, plane_bits(1, C, bits, sb), plane_bits(2, C, bits, sb)};
    size_t raw_len[3] = {0}, head = GSI_HEADER + 8 * (size_t)cols;
    if (!cs__mul_size((size_t)n, (size_t)planes[1], &raw_len[1]) ||
        !cs__mul_size((size_t)n, (size_t)planes[2], &raw_len[2]))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gsi: %lld Gaussians overflow", (long long)n);
    /* Compressed: version 2 (one frame per plane), or version 1 with one frame when that is
     * smaller (a few dozen Gaussians, where 8+ frame headers outweigh the gain). */
    size_t bound[3] = {0, raw_len[1], 0}, total;
    if (zstd) {
        bound[1] = ZSTD_compressBound(raw_len[1]);
        for (int pl = 0; n > 0 && pl < planes[2]; pl++)
            bound[2] += 4 + ZSTD_compressBound((size_t)n);
    }
    size_t most = bound[1] > bound[2] ? bound[1] : bound[2];
    if (!cs__add_size(head, most, &total) || most > UINT32_MAX)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "gsi: payload of %zu bytes exceeds 4 GiB", most);
    sort_key *keys = cs__malloc((size_t)(n ? n : 1) * sizeof *keys);
    uint8_t *raw = cs__malloc(raw_len[1] + raw_len[2] + 1), *file = cs__malloc(total),
            *alt = zstd ? cs__malloc(total) : NULL;
    if (!keys || !raw || !file || (zstd && !alt)) {
        cs__free(keys);
        cs__free(raw);
        cs__free(file);
        cs__free(alt);
        return cs__alloc_error(ctx, "gsi encode", raw_len[2] + 2 * total);
    }
    for (int64_t j = 0; j < n; j++) {
        uint32_t qx = stored_value(g, &qt, 0, j), qy = stored_value(g, &qt, 1, j);
        if (bits[0] == 32) {
            qx = float_order(g->p.xy[2 * j]);
            qy = float_order(g->p.xy[2 * j + 1]);
        }
        keys[j] = (sort_key){(uint64_t)qy << 32 | qx, j};
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);
    fill_planes(g, &qt, keys, 1, raw);
    if (zstd) fill_planes(g, &qt, keys, 2, raw + raw_len[1]);
    cs__free(keys);
    int version = 1;
    size_t payload = raw_len[1];
    if (!zstd) {
        memcpy(file + head, raw, raw_len[1]);
    } else {
        size_t z1 = ZSTD_compress(alt + head, total - head, raw, raw_len[1], GSI_ZSTD_LEVEL),
               z2 = 0;
        const uint8_t *src = raw + raw_len[1];
        for (int pl = 0; n > 0 && pl < planes[2] && !ZSTD_isError(z1); pl++) {
            size_t at = head + z2 + 4;
            size_t z = ZSTD_compress(file + at, total - at, src + (size_t)pl * (size_t)n,
                                     (size_t)n, GSI_ZSTD_LEVEL);
            if (ZSTD_isError(z)) {
                z1 = z;
                break;
            }
            wr_u32(file + head + z2, (uint32_t)z);
            z2 += 4 + z;
        }
        if (ZSTD_isError(z1)) {
            cs__free(raw);
            cs__free(file);
            cs__free(alt);
            return cs__error(ctx, CS_ERR_NOMEM, "gsi: zstd: %s", ZSTD_getErrorName(z1));
        }
        version = 2;
        payload = z2;
        if (z1 < z2) {
            uint8_t *t = file;
            file = alt;
            alt = t;
            version = 1;
            payload = z1;
        }
    }
    cs__free(raw);
    cs__free(alt);
    memcpy(file, gsi_magic, 4);
    wr_u16(file + 4, (uint32_t)version);
    file[6] = (uint8_t)g->rule;
    file[7] = (uint8_t)C;
    wr_u32(file + 8, (uint32_t)g->width);
    wr_u32(file + 12, (uint32_t)g->height);
    wr_u32(file + 16, (uint32_t)n);
    for (int i = 0; i < 3; i++) file[20 + i] = (uint8_t)bits[i];
    file[23] = zstd ? GSI_FLAG_ZSTD : 0; /* (version 2 always) */
    file[24] = g->rule == CS_GIMAGE_TOPK ? CS_G2D_K : 0;
    file[25] = file[26] = file[27] = 0;
    wr_u32(file + 28, (uint32_t)payload);
    for (int k = 0; k < cols; k++) {
        cs__wr_f32le(file + GSI_HEADER + 8 * k, qt.lo[k]);
        cs__wr_f32le(file + GSI_HEADER + 8 * k + 4, qt.hi[k]);
    }
    *data = file;
    *len = head + payload;
    return CS_OK;
}

void cs_gimage_buffer_free(uint8_t *data) {
    cs__free(data);
}

cs_status cs_gimage_save(cs_context *ctx, const cs_gimage *g, const char *path,
                         const cs_gsi_options *opt) {
    uint8_t *data;
    size_t len;
    cs_status st = cs_gimage_encode(ctx, g, opt, &data, &len);
    if (st != CS_OK) {
        char msg[sizeof ctx->error];
        memcpy(msg, ctx->error, sizeof msg);
        return cs__error(ctx, st, "%s: %s", path, msg);
    }
    cs_outfile of;
    st = cs__outfile_open(ctx, path, &of);
    if (st == CS_OK) st = cs__outfile_write(ctx, &of, data, len);
    if (st == CS_OK)
        st = cs__outfile_commit(ctx, &of);
    else
        cs__outfile_abort(&of);
    cs__free(data);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Decode
 */

/* Decompress a zstd frame of exactly `expect` bytes, growing the output only as data arrives. */
static cs_status unzstd(cs_context *ctx, const char *name, const uint8_t *src, size_t len,
                        size_t expect, uint8_t **out) {
    *out = NULL;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) return cs__error(ctx, CS_ERR_NOMEM, "%s: cannot create a zstd stream", name);
    size_t cap = expect < ((size_t)1 << 20) ? expect : ((size_t)1 << 20);
    uint8_t *buf = cs__malloc(cap ? cap : 1);
    cs_status st = buf ? CS_OK : cs__alloc_error(ctx, name, cap);
    ZSTD_inBuffer in = {src, len, 0};
    ZSTD_outBuffer ob = {buf, cap, 0};
    size_t ret = 1;
    while (st == CS_OK) {
        if (ob.pos == ob.size && ob.size < expect) {
            size_t ncap = ob.size * 2 < expect ? ob.size * 2 : expect;
            uint8_t *nb = cs__realloc(buf, ncap);
            if (!nb) {
                st = cs__alloc_error(ctx, name, ncap);
                break;
            }
            buf = nb;
            ob.dst = buf;
            ob.size = ncap;
        }
        size_t before_in = in.pos, before_out = ob.pos;
        ret = ZSTD_decompressStream(ds, &ob, &in);
        if (ZSTD_isError(ret)) {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: corrupt zstd payload: %s", name,
                           ZSTD_getErrorName(ret));
            break;
        }
        if (ret == 0) break; /* frame complete */
        if (ob.pos == ob.size && ob.size == expect) {
            /* Full, yet the frame wants to go on: check whether more output would come. */
            uint8_t probe;
            ZSTD_outBuffer pb = {&probe, 1, 0};
            ret = ZSTD_decompressStream(ds, &pb, &in);
            if (ZSTD_isError(ret) || pb.pos > 0 || ret != 0)
                st = cs__error(ctx, CS_ERR_FORMAT,
                               "%s: zstd payload is larger than the header "
                               "says (%zu bytes)",
                               name, expect);
            break;
        }
        if (in.pos == before_in && ob.pos == before_out && in.pos == in.size) {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: truncated zstd payload", name);
            break;
        }
    }
    ZSTD_freeDStream(ds);
    if (st == CS_OK && (ob.pos != expect || in.pos != in.size))
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: zstd payload holds %zu bytes, expected %zu%s", name,
                       ob.pos, expect, in.pos != in.size ? " (trailing data)" : "");
    if (st != CS_OK) {
        cs__free(buf);
        return st;
    }
    *out = buf;
    return CS_OK;
}

cs_status cs__gsi_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_gimage **out) {
    *out = NULL;
    if (len < GSI_HEADER || memcmp(data, gsi_magic, 4) != 0)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: not a .gsi file (bad magic or too short)", name);
    uint32_t version = (uint32_t)data[4] | (uint32_t)data[5] << 8;
    if (version < 1 || version > GSI_VERSION)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: .gsi version %u (this reader knows 1..%d)",
                         name, version, GSI_VERSION);
    int rule = data[6], C = data[7];
    uint32_t W = cs__rd_u32le(data + 8), H = cs__rd_u32le(data + 12);
    uint32_t n = cs__rd_u32le(data + 16), payload = cs__rd_u32le(data + 28);
    int bits[3] = {data[20], data[21], data[22]};
    int flags = data[23], K = data[24];
    if (rule != CS_GIMAGE_TOPK && rule != CS_GIMAGE_SUM)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: unknown rule %d", name, rule);
    if (C != 1 && C != 3)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: %d channels (1 or 3 allowed)", name, C);
    if (W < 1 || H < 1 || W > (1u << 20) || H > (1u << 20))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: image size %ux%u is not in 1..2^20", name, W, H);
    if (n > (uint32_t)CS_G2D_MAX_COUNT)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: %u Gaussians exceed the limit", name, n);
    for (int i = 0; i < 3; i++)
        if (!valid_bits(bits[i]))
            return cs__error(ctx, CS_ERR_FORMAT, "%s: bit depth %d is not 1..16 or 32", name,
                             bits[i]);
    if ((flags & ~(int)GSI_FLAG_ZSTD) || (version == 2 && !(flags & GSI_FLAG_ZSTD)))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: flags 0x%02x are not valid for version %u", name,
                         flags, version);
    if (K != (rule == CS_GIMAGE_TOPK ? CS_G2D_K : 0))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: top-K size %d does not match the rule", name, K);
    if (data[25] || data[26] || data[27])
        return cs__error(ctx, CS_ERR_FORMAT, "%s: reserved header bytes are not zero", name);
    int cols = cs__gsi_ranges(C);
    size_t head = GSI_HEADER + 8 * (size_t)cols, raw_len;
    if (len < head || len - head != payload)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: payload of %u bytes does not match the file "
                         "size %zu",
                         name, payload, len);
    cs__gsi_quant qt = {{bits[0], bits[1], bits[2]}, {0}, {0}};
    for (int k = 0; k < cols; k++) {
        qt.lo[k] = cs__rd_f32le(data + GSI_HEADER + 8 * k);
        qt.hi[k] = cs__rd_f32le(data + GSI_HEADER + 8 * k + 4);
        if (!isfinite(qt.lo[k]) || !isfinite(qt.hi[k]) || qt.lo[k] > qt.hi[k])
            return cs__error(ctx, CS_ERR_FORMAT, "%s: quantization range %d is invalid", name, k);
    }
    int sb[8], planes = plane_bits((int)version, C, bits, sb);
    raw_len = (size_t)n * (size_t)planes; /* n < 2^28, at most 32 planes: cannot overflow */
    const uint8_t *plane[GSI_MAX_PLANES];
    uint8_t *owned[GSI_MAX_PLANES] = {0}; /* version 2: one decompressed buffer per plane */
    cs_status st = CS_OK;
    if (version == 2) {
        /* [u32 size][zstd frame of n bytes] per plane, nothing after the last */
        size_t at = head;
        for (int pl = 0; pl < (n ? planes : 0) && st == CS_OK; pl++) {
            uint32_t z = len - at >= 4 ? cs__rd_u32le(data + at) : 0;
            if (len - at < 4 || z > len - at - 4) {
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: plane %d of %d is truncated", name, pl,
                               planes);
                break;
            }
            st = unzstd(ctx, name, data + at + 4, z, n, &owned[pl]);
            plane[pl] = owned[pl];
            at += 4 + (size_t)z;
        }
        if (st == CS_OK && at != len)
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: %zu bytes after the last plane", name,
                           len - at);
    } else {
        const uint8_t *raw = data + head;
        if (flags & GSI_FLAG_ZSTD) {
            st = unzstd(ctx, name, data + head, payload, raw_len, &owned[0]);
            raw = owned[0];
        } else if (payload != raw_len) {
            st = cs__error(ctx, CS_ERR_FORMAT,
                           "%s: payload of %u bytes, %zu expected for %u "
                           "Gaussians",
                           name, payload, raw_len, n);
        }
        for (int pl = 0; st == CS_OK && pl < planes; pl++) plane[pl] = raw + (size_t)pl * n;
    }
    cs_gimage *g = NULL;
    if (st == CS_OK) st = cs__gimage_alloc(ctx, (int)W, (int)H, C, (cs_gimage_rule)rule, n, &g);
    bool ycocg = uses_ycocg((int)version, C, bits);
    const uint8_t **pp = plane;
    for (int c = 0; c < cols && st == CS_OK; c++) {
        int k = c == 0 ? 1 : c == 1 ? 0 : c;
        int b = bits[column_group(k)], nb = value_bytes(sb[c]);
        uint32_t top = sb[c] == 32 ? UINT32_MAX : (1u << sb[c]) - 1u, acc = 0;
        float step = b == 32 ? 0.0f : cs__gsi_step(qt.lo[k], qt.hi[k], b);
        for (uint32_t j = 0; j < n; j++) {
            uint32_t v = 0;
            for (int byte = 0; byte < nb; byte++) v |= (uint32_t)pp[byte][j] << (8 * byte);
            float *dst = column_ptr(g->p.xy, g->p.chol, g->p.colour, C, k, j);
            if (b == 32) {
                memcpy(dst, &v, 4);
                if (!isfinite(*dst)) {
                    st =
                        cs__error(ctx, CS_ERR_FORMAT, "%s: non-finite value in column %d", name, k);
                    break;
                }
                continue;
            }
            if (k == 1) { /* y: delta-coded */
                if (v > top - acc) {
                    st = cs__error(ctx, CS_ERR_FORMAT,
                                   "%s: y position of Gaussian %u overflows "
                                   "%d bits",
                                   name, j, b);
                    break;
                }
                acc += v;
                v = acc;
            } else if (v > top) {
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: value %u of column %d exceeds %d bits",
                               name, v, k, sb[c]);
                break;
            }
            if (ycocg && k >= 5) { /* Y, Co, Cg: integers for now, RGB after the last */
                memcpy(dst, &v, 4);
                continue;
            }
            *dst = cs__gsi_dequantize(v, qt.lo[k], step);
        }
        pp += nb;
    }
    for (uint32_t j = 0; st == CS_OK && ycocg && j < n; j++) {
        float *col = g->p.colour + (size_t)j * 3;
        uint32_t yc[3], rgb[3];
        memcpy(yc, col, sizeof yc);
        if (!from_ycocg(yc, bits[2], rgb)) {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: colour of Gaussian %u exceeds %d bits", name,
                           j, bits[2]);
            break;
        }
        for (int ch = 0; ch < 3; ch++)
            col[ch] = cs__gsi_dequantize(rgb[ch], qt.lo[5 + ch],
                                         cs__gsi_step(qt.lo[5 + ch], qt.hi[5 + ch], bits[2]));
    }
    for (int pl = 0; pl < GSI_MAX_PLANES; pl++) cs__free(owned[pl]);
    if (st != CS_OK) {
        cs_gimage_destroy(g);
        return st;
    }
    g->has_quant = true;
    g->quant = qt;
    g->zstd = (flags & GSI_FLAG_ZSTD) != 0;
    g->file_bytes = (int64_t)len;
    *out = g;
    return CS_OK;
}

cs_status cs_gimage_decode(cs_context *ctx, const uint8_t *data, size_t len, cs_gimage **out) {
    return cs__gsi_parse(ctx, "gsi", data, len, out);
}

cs_status cs_gimage_load(cs_context *ctx, const char *path, cs_gimage **out) {
    *out = NULL;
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_MAX_SCENE_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    st = cs__gsi_parse(ctx, path, data, len, out);
    cs__free(data);
    return st;
}
