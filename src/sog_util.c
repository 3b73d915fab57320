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
#include "gmath.h"
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

/* The 24 rotations of the cube as unit quaternions (w, x, y, z): the identity; 90, 180 and 270
 * degrees about each axis; 180 degrees about the 6 face diagonals; 120 and 240 degrees about the
 * 4 body diagonals. Each maps the axes onto the axes up to sign. */
#define H 0.70710678118654752
static const double cube_rotations[24][4] = {
    {1, 0, 0, 0},      {H, H, 0, 0},       {H, -H, 0, 0},      {H, 0, H, 0},
    {H, 0, -H, 0},     {H, 0, 0, H},       {H, 0, 0, -H},      {0, 1, 0, 0},
    {0, 0, 1, 0},      {0, 0, 0, 1},       {0, H, H, 0},       {0, H, -H, 0},
    {0, H, 0, H},      {0, H, 0, -H},      {0, 0, H, H},       {0, 0, H, -H},
    {.5, .5, .5, .5},  {.5, .5, .5, -.5},  {.5, .5, -.5, .5},  {.5, .5, -.5, -.5},
    {.5, -.5, .5, .5}, {.5, -.5, .5, -.5}, {.5, -.5, -.5, .5}, {.5, -.5, -.5, -.5}};
#undef H

void cs__cube_canonical(const float q[4], const float scales[3], float q_out[4],
                        float scales_out[3]) {
    double a[4], best = -1.0;
    int g = 0;
    for (int i = 0; i < 4; i++) a[i] = q[i];
    for (int k = 0; k < 24; k++) {
        const double *b = cube_rotations[k];
        double w = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
        if (fabs(w) > best + 1e-12) { /* ties keep the earlier rotation (the identity first) */
            best = fabs(w);
            g = k;
        }
    }
    const double *b = cube_rotations[g];
    double r[4] = {a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
                   a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
                   a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
                   a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0]};
    double sgn = r[0] < 0 ? -1.0 : 1.0;
    for (int i = 0; i < 4; i++) q_out[i] = (float)(sgn * r[i]);
    /* R(q') = R(q) G: local axis i of the new frame is axis pi(i) of the old, where column i of
     * G = R(g) is +-e_pi(i); so its scale is the old scale pi(i). */
    const float gq[4] = {(float)b[0], (float)b[1], (float)b[2], (float)b[3]};
    float G[9];
    cs_quat_to_rot(gq, G);
    for (int i = 0; i < 3; i++) {
        int from = 0;
        for (int k = 1; k < 3; k++)
            if (fabsf(G[3 * k + i]) > fabsf(G[3 * from + i])) from = k;
        scales_out[i] = scales[from];
    }
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
