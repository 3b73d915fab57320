/*
 * project_avx2.c - the AVX2+FMA twin of the projection kernel in project.c: the same steps
 * (gmath.h) on 8 Gaussians at a time, lanes = Gaussians.
 *
 * Inputs are gathered from the SoA parameter arrays ([N, 3] means and log-scales, [N, 4]
 * quaternions); the 8 finished splats are transposed from 16 field vectors into 8 records of 64
 * bytes and stored whole (rgb is filled later by the sh stage), then each visible one gets its
 * support box from the scalar cs__splat_support (double precision, a few per-lane operations). A
 * culled lane gets radius 0, its other fields are unspecified, as in the scalar kernel.
 *
 * Differences from the scalar kernel are rounding only: FMA contraction and the polynomial
 * exp/log of simd_avx2.h (within 2 ulp). A Gaussian within that of a cut-off (an integer radius,
 * the near plane, a tile border of its rectangle) may come out on the other side.
 */
#include "../render.h"

#include <stddef.h>

_Static_assert(sizeof(cs_splat) == 64 && offsetof(cs_splat, radius) == 48 &&
                   offsetof(cs_splat, rect) == 52 && offsetof(cs_splat, support) == 60,
               "the AVX2 projection writes splat records as two rows of 8 words");

#if defined(__AVX2__) && defined(__FMA__)
#include "simd_avx2.h"

/* Rect word: low 16 bits = first index, high = second (little-endian uint16_t[2]). */
static inline __m256 rect_pair(__m256 lo, __m256 hi) {
    __m256i l = _mm256_cvttps_epi32(lo), h = _mm256_cvttps_epi32(hi);
    return _mm256_castsi256_ps(_mm256_or_si256(l, _mm256_slli_epi32(h, 16)));
}

/* min(grid, max(0, v)), truncated later: cs_tile_index. */
static inline __m256 tile_clamp(__m256 v, __m256 grid) {
    return _mm256_min_ps(grid, _mm256_max_ps(_mm256_setzero_ps(), v));
}

/* All-ones where x is finite. */
static inline __m256 finite(__m256 x) {
    return _mm256_cmp_ps(_mm256_sub_ps(x, x), _mm256_setzero_ps(), _CMP_EQ_OQ);
}

static void project8(const cs_project_args *a, int64_t i) {
    const cs_view *v = a->view;
    const __m256i idx3 = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    const __m256i idx4 = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const float *mp = a->means + 3 * i, *lp = a->log_scales + 3 * i, *qp = a->quats + 4 * i;
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 m[3], q[4], sc[3];
    for (int k = 0; k < 3; k++) m[k] = _mm256_i32gather_ps(mp + k, idx3, 4);
    for (int k = 0; k < 4; k++) q[k] = _mm256_i32gather_ps(qp + k, idx4, 4);
    __m256 mod = _mm256_set1_ps(a->scale_modifier);
    for (int k = 0; k < 3; k++)
        sc[k] = _mm256_mul_ps(cs_exp_ps(_mm256_i32gather_ps(lp + k, idx3, 4)), mod);

    /* view point, without FMA and in the scalar kernel's order: the depth is the sort key, and
     * bit-identical depths keep Gaussians at (nearly) equal depth in the same order as there. */
    __m256 pv[3];
    for (int r = 0; r < 3; r++) {
        __m256 acc = _mm256_mul_ps(_mm256_set1_ps(v->R[3 * r]), m[0]);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(v->R[3 * r + 1]), m[1]));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(v->R[3 * r + 2]), m[2]));
        pv[r] = _mm256_add_ps(acc, _mm256_set1_ps(v->t[r]));
    }
    __m256 keep = _mm256_cmp_ps(pv[2], _mm256_set1_ps(CS_NEAR_Z), _CMP_GT_OQ);
    if (_mm256_testz_ps(keep, keep)) {
        for (int l = 0; l < 8; l++) a->splats[i + l].radius = 0;
        return;
    }

    /* rotation of the normalised quaternion (cs_quat_to_rot) */
    __m256 n2 = _mm256_mul_ps(q[0], q[0]);
    for (int k = 1; k < 4; k++) n2 = _mm256_fmadd_ps(q[k], q[k], n2);
    __m256 inv = _mm256_and_ps(_mm256_div_ps(one, _mm256_sqrt_ps(n2)),
                               _mm256_cmp_ps(n2, zero, _CMP_GT_OQ));
    __m256 w = _mm256_mul_ps(q[0], inv), x = _mm256_mul_ps(q[1], inv);
    __m256 y = _mm256_mul_ps(q[2], inv), z = _mm256_mul_ps(q[3], inv);
    __m256 two = _mm256_set1_ps(2.0f);
    __m256 xx = _mm256_mul_ps(x, x), yy = _mm256_mul_ps(y, y), zz = _mm256_mul_ps(z, z);
    __m256 xy = _mm256_mul_ps(x, y), xz = _mm256_mul_ps(x, z), yz = _mm256_mul_ps(y, z);
    __m256 wx = _mm256_mul_ps(w, x), wy = _mm256_mul_ps(w, y), wz = _mm256_mul_ps(w, z);
    __m256 R[9] = {
        _mm256_fnmadd_ps(two, _mm256_add_ps(yy, zz), one), _mm256_mul_ps(two, _mm256_sub_ps(xy, wz)),
        _mm256_mul_ps(two, _mm256_add_ps(xz, wy)),         _mm256_mul_ps(two, _mm256_add_ps(xy, wz)),
        _mm256_fnmadd_ps(two, _mm256_add_ps(xx, zz), one), _mm256_mul_ps(two, _mm256_sub_ps(yz, wx)),
        _mm256_mul_ps(two, _mm256_sub_ps(xz, wy)),         _mm256_mul_ps(two, _mm256_add_ps(yz, wx)),
        _mm256_fnmadd_ps(two, _mm256_add_ps(xx, yy), one),
    };
    /* Sigma = M M^T, M = R S (cs_cov3d) */
    __m256 M[9];
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) M[3 * r + k] = _mm256_mul_ps(R[3 * r + k], sc[k]);
    __m256 S[6];
    static const int pairs[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};
    for (int e = 0; e < 6; e++) {
        const __m256 *p = M + 3 * pairs[e][0], *o = M + 3 * pairs[e][1];
        S[e] = _mm256_fmadd_ps(p[2], o[2], _mm256_fmadd_ps(p[1], o[1], _mm256_mul_ps(p[0], o[0])));
    }

    /* EWA: T = J W with the clamped Jacobian, cov2d = T Sigma T^T (cs_ewa_cov2d) */
    __m256 inv_z = _mm256_div_ps(one, pv[2]);
    __m256 limx = _mm256_set1_ps(v->limx), limy = _mm256_set1_ps(v->limy);
    __m256 tx = _mm256_mul_ps(
        _mm256_min_ps(limx, _mm256_max_ps(_mm256_sub_ps(zero, limx), _mm256_div_ps(pv[0], pv[2]))),
        pv[2]);
    __m256 ty = _mm256_mul_ps(
        _mm256_min_ps(limy, _mm256_max_ps(_mm256_sub_ps(zero, limy), _mm256_div_ps(pv[1], pv[2]))),
        pv[2]);
    __m256 fx = _mm256_set1_ps(v->fx), fy = _mm256_set1_ps(v->fy);
    __m256 inv_z2 = _mm256_mul_ps(inv_z, inv_z);
    __m256 j00 = _mm256_mul_ps(fx, inv_z), j11 = _mm256_mul_ps(fy, inv_z);
    __m256 j02 = _mm256_mul_ps(_mm256_sub_ps(zero, _mm256_mul_ps(fx, tx)), inv_z2);
    __m256 j12 = _mm256_mul_ps(_mm256_sub_ps(zero, _mm256_mul_ps(fy, ty)), inv_z2);
    __m256 T[6];
    for (int k = 0; k < 3; k++) {
        T[k] = _mm256_fmadd_ps(j02, _mm256_set1_ps(v->R[6 + k]),
                               _mm256_mul_ps(j00, _mm256_set1_ps(v->R[k])));
        T[3 + k] = _mm256_fmadd_ps(j12, _mm256_set1_ps(v->R[6 + k]),
                                   _mm256_mul_ps(j11, _mm256_set1_ps(v->R[3 + k])));
    }
    __m256 U[6];
    for (int r = 0; r < 2; r++) {
        const __m256 *t = T + 3 * r;
        U[3 * r + 0] = _mm256_fmadd_ps(t[2], S[2], _mm256_fmadd_ps(t[1], S[1], _mm256_mul_ps(t[0], S[0])));
        U[3 * r + 1] = _mm256_fmadd_ps(t[2], S[4], _mm256_fmadd_ps(t[1], S[3], _mm256_mul_ps(t[0], S[1])));
        U[3 * r + 2] = _mm256_fmadd_ps(t[2], S[5], _mm256_fmadd_ps(t[1], S[4], _mm256_mul_ps(t[0], S[2])));
    }
    __m256 dil = _mm256_set1_ps(CS_COV2D_DILATION);
    __m256 ca = _mm256_add_ps(
        _mm256_fmadd_ps(U[2], T[2], _mm256_fmadd_ps(U[1], T[1], _mm256_mul_ps(U[0], T[0]))), dil);
    __m256 cb = _mm256_fmadd_ps(U[2], T[5], _mm256_fmadd_ps(U[1], T[4], _mm256_mul_ps(U[0], T[3])));
    __m256 cc = _mm256_add_ps(
        _mm256_fmadd_ps(U[5], T[5], _mm256_fmadd_ps(U[4], T[4], _mm256_mul_ps(U[3], T[3]))), dil);

    /* conic and radius (cs_conic_radius); det == 0 culls */
    __m256 det = _mm256_fmsub_ps(ca, cc, _mm256_mul_ps(cb, cb));
    keep = _mm256_and_ps(keep, _mm256_cmp_ps(det, zero, _CMP_NEQ_UQ));
    __m256 idet = _mm256_div_ps(one, det);
    __m256 con0 = _mm256_mul_ps(cc, idet), con2 = _mm256_mul_ps(ca, idet);
    __m256 con1 = _mm256_mul_ps(_mm256_sub_ps(zero, cb), idet);
    __m256 mid = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(ca, cc));
    __m256 lambda = _mm256_add_ps(
        mid, _mm256_sqrt_ps(_mm256_max_ps(_mm256_set1_ps(0.1f), _mm256_fmsub_ps(mid, mid, det))));
    __m256 radius = _mm256_ceil_ps(_mm256_mul_ps(_mm256_set1_ps(3.0f), _mm256_sqrt_ps(lambda)));

    /* mean2D, finiteness, the reference tile rectangle (cs_tile_rect) */
    __m256 u = _mm256_fmadd_ps(_mm256_mul_ps(fx, pv[0]), inv_z, _mm256_set1_ps(v->cx));
    __m256 vv = _mm256_fmadd_ps(_mm256_mul_ps(fy, pv[1]), inv_z, _mm256_set1_ps(v->cy));
    __m256 fin = _mm256_and_ps(_mm256_and_ps(finite(u), finite(vv)), finite(radius));
    fin = _mm256_and_ps(fin, _mm256_and_ps(finite(con0), _mm256_and_ps(finite(con1), finite(con2))));
    keep = _mm256_and_ps(keep, fin);
    __m256 half = _mm256_set1_ps(0.5f), inv_ts = _mm256_set1_ps(1.0f / (float)CS_TILE);
    __m256 ts1 = _mm256_set1_ps((float)CS_TILE - 1.0f);
    __m256 gx = _mm256_set1_ps((float)v->tiles_x), gy = _mm256_set1_ps((float)v->tiles_y);
    __m256 px = _mm256_sub_ps(u, half), py = _mm256_sub_ps(vv, half);
    /* division by 16 is exact as a multiplication by 1/16 */
    __m256 x0 = tile_clamp(_mm256_mul_ps(_mm256_sub_ps(px, radius), inv_ts), gx);
    __m256 x1 = tile_clamp(_mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(px, radius), ts1), inv_ts), gx);
    __m256 y0 = tile_clamp(_mm256_mul_ps(_mm256_sub_ps(py, radius), inv_ts), gy);
    __m256 y1 = tile_clamp(_mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(py, radius), ts1), inv_ts), gy);
    x0 = _mm256_round_ps(x0, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    x1 = _mm256_round_ps(x1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    y0 = _mm256_round_ps(y0, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    y1 = _mm256_round_ps(y1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    keep = _mm256_and_ps(keep, _mm256_cmp_ps(x1, x0, _CMP_GT_OQ));
    keep = _mm256_and_ps(keep, _mm256_cmp_ps(y1, y0, _CMP_GT_OQ));

    /* opacity and support (cs_sigmoid, cs_alpha_support) */
    const float *op = a->opacities + i;
    __m256 opacity = _mm256_div_ps(one, _mm256_add_ps(one, cs_exp_ps(_mm256_sub_ps(zero, _mm256_loadu_ps(op)))));
    __m256 support = _mm256_fmadd_ps(two, cs_log_ps(_mm256_mul_ps(_mm256_set1_ps(255.0f), opacity)),
                                     _mm256_set1_ps(1e-3f));
    __m256i rad = _mm256_and_si256(
        _mm256_cvttps_epi32(_mm256_min_ps(radius, _mm256_set1_ps((float)(1 << 30)))),
        _mm256_castps_si256(keep));

    /* two rows of 8 words per record, transposed from field vectors */
    __m256 lo[8] = {u, vv, con0, con1, con2, opacity, zero, zero};
    __m256 hi[8] = {zero, pv[2], zero, zero, _mm256_castsi256_ps(rad), rect_pair(x0, x1),
                    rect_pair(y0, y1), support};
    cs_transpose8_ps(lo);
    cs_transpose8_ps(hi);
    for (int l = 0; l < 8; l++) {
        cs_splat *s = &a->splats[i + l];
        _mm256_storeu_ps((float *)s, lo[l]);
        _mm256_storeu_ps((float *)s + 8, hi[l]);
        if (!s->radius) continue;
        /* the support box, in double from the float conic (as the scalar kernel does) */
        int rect[4] = {s->rect[0], s->rect[1], s->rect[2], s->rect[3]};
        cs__splat_support(v, s, rect);
    }
}

void cs__project_range_avx2(const cs_project_args *a, int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) project8(a, i);
    cs__project_range(a, i, end);
}

#else

void cs__project_range_avx2(const cs_project_args *a, int64_t begin, int64_t end) {
    cs__project_range(a, begin, end);
}

#endif
