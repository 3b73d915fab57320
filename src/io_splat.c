/*
 * io_splat.c - antimatter15's .splat format: a headerless array of 32-byte little-endian records,
 * one per Gaussian, as written by the reference web viewer (antimatter15/splat main.js, "save")
 * and its convert.py:
 *
 *   offset  type        content
 *    0      float32 x3  position x, y, z
 *   12      float32 x3  scale: linear standard deviations, exp(log_scale)
 *   24      uint8 x4    colour r, g, b = (0.5 + SH_C0 * f_dc_c) * 255, alpha = sigmoid(opacity) *
 * 255 28      uint8 x4    rotation w, x, y, z = q / |q| * 128 + 128
 *
 * Writing: bytes are clamped to 0..255 and rounded to nearest with ties to even, NaN -> 0: the
 * Uint8ClampedArray conversion of main.js, which makes most .splat files (convert.py truncates
 * instead, at most one step lower). Colour, alpha and rotation are computed in double as main.js
 * does. A zero or non-finite quaternion norm is written as the identity (255, 128, 128, 128)
 * rather than main.js's NaN -> (0, 0, 0, 0). Records are sorted by importance
 * exp(s0 + s1 + s2) * sigmoid(opacity), descending, as both reference converters do (viewers
 * draw large opaque splats first while a file streams in); ties and NaN keys (last) keep scene
 * order, so the output is deterministic. Only SH degree 0 fits: a higher-degree scene loses its
 * f_rest coefficients with a warning through the log callback.
 *
 * Reading inverts each mapping: log_scale = log(s) (0 -> -inf, negative -> NaN, kept as such),
 * f_dc = (c / 255 - 0.5) / SH_C0, q = (b - 128) / 128 (not normalised), and
 * opacity = logit(a / 255) with a / 255 clamped to [0.25/255, 1 - 0.25/255]: alpha bytes 0 and
 * 255 would give infinite logits, and these bounds keep them finite (about -6.9 and 6.9) while
 * staying inside their quantization steps, so they re-encode to the same byte.
 *
 * The file has no magic number, so it is recognised by its .splat extension only. A length that
 * is not a multiple of 32 is an error; an empty file is a scene of 0 Gaussians.
 */
#include "formats.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPLAT_RECORD 32
/* Alpha clamp of the reader, in byte units (see above). */
#define SPLAT_ALPHA_MIN 0.25f
#define SPLAT_ALPHA_MAX 254.75f

static cs_status splat_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                             cs_scene **out) {
    *out = NULL;
    if (len % SPLAT_RECORD != 0)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: length %zu is not a multiple of the 32-byte .splat record", name,
                         len);
    size_t n = len / SPLAT_RECORD;
    cs_scene *scene;
    cs_status st = cs_scene_create(ctx, (int64_t)n, 0, &scene);
    if (st != CS_OK)
        return st == CS_ERR_NOMEM
                   ? cs__error(ctx, st, "%s: out of memory for %zu Gaussians", name, n)
                   : st;
    cs_scene_params *p = &scene->p;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = data + SPLAT_RECORD * i;
        for (int a = 0; a < 3; a++) {
            p->means[3 * i + a] = cs__rd_f32le(r + 4 * a);
            p->log_scales[3 * i + a] = logf(cs__rd_f32le(r + 12 + 4 * a));
            p->sh[3 * i + a] = ((float)r[24 + a] / 255.0f - 0.5f) / CS_SH_C0;
        }
        /* logit(c / 255) = log(c / (255 - c)): exact subtraction, unlike 1 - c / 255. */
        float c = (float)r[27];
        c = c < SPLAT_ALPHA_MIN ? SPLAT_ALPHA_MIN : c > SPLAT_ALPHA_MAX ? SPLAT_ALPHA_MAX : c;
        p->opacities[i] = logf(c / (255.0f - c));
        for (int a = 0; a < 4; a++) p->quats[4 * i + a] = ((float)r[28 + a] - 128.0f) / 128.0f;
    }
    *out = scene;
    return CS_OK;
}

/* Uint8ClampedArray's conversion: NaN -> 0, clamp, round half to even (rint in the default
 * rounding mode). */
static uint8_t clamp_u8(double v) {
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)rint(v);
}

typedef struct splat_key {
    double importance; /* NaN sorts last */
    size_t index;
} splat_key;

static int cmp_key(const void *a, const void *b) {
    const splat_key *x = a, *y = b;
    bool xn = isnan(x->importance), yn = isnan(y->importance);
    if (xn != yn) return xn ? 1 : -1;
    if (!xn && x->importance != y->importance) return x->importance > y->importance ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static void encode_record(const cs_scene_params *p, size_t i, uint8_t *r) {
    size_t k3 = 3 * (size_t)p->sh_coeffs;
    for (int a = 0; a < 3; a++) {
        cs__wr_f32le(r + 4 * a, p->means[3 * i + a]);
        cs__wr_f32le(r + 12 + 4 * a, (float)exp((double)p->log_scales[3 * i + a]));
        r[24 + a] = clamp_u8((0.5 + (double)CS_SH_C0 * (double)p->sh[k3 * i + a]) * 255.0);
    }
    r[27] = clamp_u8(255.0 / (1.0 + exp(-(double)p->opacities[i])));
    const float *q = p->quats + 4 * i;
    double qd[4] = {q[0], q[1], q[2], q[3]};
    double norm = sqrt(qd[0] * qd[0] + qd[1] * qd[1] + qd[2] * qd[2] + qd[3] * qd[3]);
    if (norm > 0 && isfinite(norm)) {
        for (int a = 0; a < 4; a++) r[28 + a] = clamp_u8(qd[a] / norm * 128.0 + 128.0);
    } else {
        r[28] = 255;
        r[29] = r[30] = r[31] = 128;
    }
}

/* Records per write chunk (128 KB). */
#define SPLAT_WRITE_CHUNK 4096

static cs_status splat_write(cs_context *ctx, const cs_scene *scene, cs_outfile *of) {
    const cs_scene_params *p = &scene->p;
    size_t n = (size_t)p->count;
    if (p->sh_degree > 0)
        cs__log(ctx, CS_LOG_WARN,
                "%s: .splat holds SH degree 0 only; dropping the degree 1..%d coefficients",
                of->path, p->sh_degree);
    size_t key_bytes;
    if (!cs__mul_size(n, sizeof(splat_key), &key_bytes))
        return cs__alloc_error(ctx, of->path, SIZE_MAX);
    splat_key *keys = cs__malloc(key_bytes);
    uint8_t *buf = cs__malloc(SPLAT_WRITE_CHUNK * SPLAT_RECORD);
    if (!keys || !buf) {
        cs__free(keys);
        cs__free(buf);
        return cs__alloc_error(ctx, of->path, key_bytes + SPLAT_WRITE_CHUNK * SPLAT_RECORD);
    }
    for (size_t i = 0; i < n; i++) {
        const float *s = p->log_scales + 3 * i;
        keys[i].importance =
            exp((double)s[0] + (double)s[1] + (double)s[2]) / (1.0 + exp(-(double)p->opacities[i]));
        keys[i].index = i;
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    cs_status st = CS_OK;
    for (size_t i0 = 0; i0 < n && st == CS_OK; i0 += SPLAT_WRITE_CHUNK) {
        size_t i1 = i0 + SPLAT_WRITE_CHUNK < n ? i0 + SPLAT_WRITE_CHUNK : n;
        for (size_t i = i0; i < i1; i++)
            encode_record(p, keys[i].index, buf + SPLAT_RECORD * (i - i0));
        st = cs__outfile_write(ctx, of, buf, SPLAT_RECORD * (i1 - i0));
    }
    cs__free(keys);
    cs__free(buf);
    return st;
}

const cs_scene_codec cs__codec_splat = {
    .format = CS_FORMAT_SPLAT,
    .parse = splat_parse,
    .write = splat_write,
};
