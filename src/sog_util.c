/*
 * sog_util.c - small helpers shared by the interchange formats: quaternion normalisation and the
 * Morton (Z-order) permutation the SOG and compressed-PLY writers store Gaussians in.
 *
 * Morton order: each mean is scaled into its axis' [min, max] range and quantised to 21 bits;
 * interleaving the bits of x, y, z gives a 63-bit code whose sort order walks space along a
 * Z-curve, so neighbours in the file are neighbours in space (what makes per-chunk min/max
 * tight in compressed PLY and WebP predictors effective in SOG). 21 bits per axis resolve a
 * scene into 2M cells per axis, so ties only occur between (near-)coincident means; they keep
 * the input order. Non-finite means get the largest code and so sort last.
 */
#include "sog.h"

#include <stdlib.h>

bool cs__quat_normalize(const float q[4], float out[4]) {
    double n2 = 0;
    for (int i = 0; i < 4; i++) n2 += (double)q[i] * (double)q[i];
    if (!(n2 > 1e-30) || !isfinite(n2)) {
        out[0] = 1.0f;
        out[1] = out[2] = out[3] = 0.0f;
        return false;
    }
    double inv = 1.0 / sqrt(n2);
    for (int i = 0; i < 4; i++) out[i] = (float)((double)q[i] * inv);
    return true;
}

/* Spread the low 21 bits of v so bit i lands at bit 3i. */
static uint64_t spread21(uint64_t v) {
    v &= 0x1fffff;
    v = (v | v << 32) & 0x1f00000000ffffULL;
    v = (v | v << 16) & 0x1f0000ff0000ffULL;
    v = (v | v << 8) & 0x100f00f00f00f00fULL;
    v = (v | v << 4) & 0x10c30c30c30c30c3ULL;
    v = (v | v << 2) & 0x1249249249249249ULL;
    return v;
}

typedef struct morton_key {
    uint64_t code;
    uint32_t index;
} morton_key;

static int cmp_morton(const void *a, const void *b) {
    const morton_key *x = a, *y = b;
    if (x->code != y->code) return x->code < y->code ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

cs_status cs__morton_order(cs_context *ctx, const float *means, int64_t n, uint32_t *order) {
    if (n <= 0) return CS_OK;
    if ((uint64_t)n > UINT32_MAX)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "Morton order: %lld Gaussians exceed 2^32",
                         (long long)n);
    size_t count = (size_t)n, bytes;
    if (!cs__mul_size(count, sizeof(morton_key), &bytes))
        return cs__error(ctx, CS_ERR_ARGUMENT, "Morton order: size overflow");
    morton_key *keys = cs__malloc(bytes);
    if (!keys) return cs__alloc_error(ctx, "Morton order", bytes);
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < count; i++)
        for (int a = 0; a < 3; a++) {
            double v = means[3 * i + a];
            if (!isfinite(v)) continue;
            if (v < lo[a]) lo[a] = v;
            if (v > hi[a]) hi[a] = v;
        }
    double scale[3];
    for (int a = 0; a < 3; a++) {
        if (!(hi[a] > lo[a])) lo[a] = hi[a] = 0; /* no finite values, or a flat axis */
        scale[a] = hi[a] > lo[a] ? 2097151.0 / (hi[a] - lo[a]) : 0.0;
    }
    for (size_t i = 0; i < count; i++) {
        const float *m = means + 3 * i;
        uint64_t code = 0;
        if (isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2])) {
            for (int a = 0; a < 3; a++) {
                double q = ((double)m[a] - lo[a]) * scale[a];
                uint64_t c = q <= 0 ? 0 : (q >= 2097151.0 ? 2097151 : (uint64_t)q);
                code |= spread21(c) << a;
            }
        } else {
            code = UINT64_MAX;
        }
        keys[i].code = code;
        keys[i].index = (uint32_t)i;
    }
    qsort(keys, count, sizeof *keys, cmp_morton);
    for (size_t i = 0; i < count; i++) order[i] = keys[i].index;
    cs__free(keys);
    return CS_OK;
}
