/*
 * project_avx2.c - the AVX2+FMA twin of the projection kernel in project.c: the same steps
 * (gmath.h) on 8 Gaussians at a time, lanes = Gaussians.
 *
 * Inputs are gathered from the SoA parameter arrays ([N, 3] means and log-scales, [N, 4]
 * quaternions); the 8 finished splats are transposed from 16 field vectors into 8 records of 64
 * bytes and stored whole (rgb is filled later by the sh stage). The support box is computed in
 * double, 4 lanes at a time, with cs_support_box's operations. A culled lane gets radius 0, its
 * other fields are unspecified, as in the scalar kernel.
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

/* A uint16_t[2] field as one 32-bit word: low 16 bits = first, high = second (little-endian). */
static inline __m256 word_pair(__m256i lo, __m256i hi) {
    return _mm256_castsi256_ps(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 16)));
}

/* min(grid, max(0, v)), truncated later: cs_tile_index. */
static inline __m256 tile_clamp(__m256 v, __m256 grid) {
    return _mm256_min_ps(grid, _mm256_max_ps(_mm256_setzero_ps(), v));
}

/* The support box of 4 lanes in double (cs_support_box's arithmetic, operation for operation):
 * pixel ranges [i0, i1] x [j0, j1] clamped to the image, and the mask of positive-definite
 * lanes whose ranges are not empty. */
typedef struct box4 {
    __m128i i0, i1, j0, j1, pd, ok;
} box4;

static inline __m128i mask_pd(__m256d m) { /* 4 x 64-bit mask -> 4 x 32-bit */
    return _mm256_cvtpd_epi32(_mm256_and_pd(m, _mm256_set1_pd(-1.0)));
}

static inline box4 support4(__m128 u, __m128 v, __m128 ca, __m128 cb, __m128 cc, __m128 k,
                            int width, int height) {
    box4 o;
    __m256d a = _mm256_cvtps_pd(ca), b = _mm256_cvtps_pd(cb), c = _mm256_cvtps_pd(cc);
    __m256d kd = _mm256_cvtps_pd(k), zero = _mm256_setzero_pd();
    __m256d det = _mm256_sub_pd(_mm256_mul_pd(a, c), _mm256_mul_pd(b, b));
    __m256d pd =
        _mm256_and_pd(_mm256_cmp_pd(a, zero, _CMP_GT_OQ), _mm256_cmp_pd(c, zero, _CMP_GT_OQ));
    pd = _mm256_and_pd(pd, _mm256_cmp_pd(det, zero, _CMP_GT_OQ));
    __m256d r = _mm256_div_pd(kd, det);
    __m256d ex = _mm256_sqrt_pd(_mm256_mul_pd(c, r)), ey = _mm256_sqrt_pd(_mm256_mul_pd(a, r));
    __m256d lo_off = _mm256_set1_pd(0.5 + CS_SUPPORT_SLACK),
            hi_off = _mm256_set1_pd(0.5 - CS_SUPPORT_SLACK);
    __m256d ud = _mm256_cvtps_pd(u), vd = _mm256_cvtps_pd(v);
    __m256d lx = _mm256_sub_pd(_mm256_sub_pd(ud, ex), lo_off),
            hx = _mm256_sub_pd(_mm256_add_pd(ud, ex), hi_off);
    __m256d ly = _mm256_sub_pd(_mm256_sub_pd(vd, ey), lo_off),
            hy = _mm256_sub_pd(_mm256_add_pd(vd, ey), hi_off);
    __m256d wmax = _mm256_set1_pd(width - 1), hmax = _mm256_set1_pd(height - 1);
    __m256d ok =
        _mm256_and_pd(_mm256_cmp_pd(hx, zero, _CMP_GE_OQ), _mm256_cmp_pd(lx, wmax, _CMP_LE_OQ));
    ok = _mm256_and_pd(ok, _mm256_and_pd(_mm256_cmp_pd(hy, zero, _CMP_GE_OQ),
                                         _mm256_cmp_pd(ly, hmax, _CMP_LE_OQ)));
    /* ceil/floor, then clamp: as cs_pixel_range's a, b (its truncation of positive values) */
    o.i0 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_ceil_pd(lx), zero), wmax));
    o.i1 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_floor_pd(hx), zero), wmax));
    o.j0 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_ceil_pd(ly), zero), hmax));
    o.j1 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_floor_pd(hy), zero), hmax));
    o.pd = mask_pd(pd);
    o.ok = mask_pd(ok);
    return o;
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
    __m256 inv =
        _mm256_and_ps(_mm256_div_ps(one, _mm256_sqrt_ps(n2)), _mm256_cmp_ps(n2, zero, _CMP_GT_OQ));
    __m256 w = _mm256_mul_ps(q[0], inv), x = _mm256_mul_ps(q[1], inv);
    __m256 y = _mm256_mul_ps(q[2], inv), z = _mm256_mul_ps(q[3], inv);
    __m256 two = _mm256_set1_ps(2.0f);
    __m256 xx = _mm256_mul_ps(x, x), yy = _mm256_mul_ps(y, y), zz = _mm256_mul_ps(z, z);
    __m256 xy = _mm256_mul_ps(x, y), xz = _mm256_mul_ps(x, z), yz = _mm256_mul_ps(y, z);
    __m256 wx = _mm256_mul_ps(w, x), wy = _mm256_mul_ps(w, y), wz = _mm256_mul_ps(w, z);
    __m256 R[9] = {
        _mm256_fnmadd_ps(two, _mm256_add_ps(yy, zz), one),
        _mm256_mul_ps(two, _mm256_sub_ps(xy, wz)),
        _mm256_mul_ps(two, _mm256_add_ps(xz, wy)),
        _mm256_mul_ps(two, _mm256_add_ps(xy, wz)),
        _mm256_fnmadd_ps(two, _mm256_add_ps(xx, zz), one),
        _mm256_mul_ps(two, _mm256_sub_ps(yz, wx)),
        _mm256_mul_ps(two, _mm256_sub_ps(xz, wy)),
        _mm256_mul_ps(two, _mm256_add_ps(yz, wx)),
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
        U[3 * r + 0] =
            _mm256_fmadd_ps(t[2], S[2], _mm256_fmadd_ps(t[1], S[1], _mm256_mul_ps(t[0], S[0])));
        U[3 * r + 1] =
            _mm256_fmadd_ps(t[2], S[4], _mm256_fmadd_ps(t[1], S[3], _mm256_mul_ps(t[0], S[1])));
        U[3 * r + 2] =
            _mm256_fmadd_ps(t[2], S[5], _mm256_fmadd_ps(t[1], S[4], _mm256_mul_ps(t[0], S[2])));
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
    fin =
        _mm256_and_ps(fin, _mm256_and_ps(finite(con0), _mm256_and_ps(finite(con1), finite(con2))));
    keep = _mm256_and_ps(keep, fin);
    __m256 half = _mm256_set1_ps(0.5f), inv_ts = _mm256_set1_ps(1.0f / (float)CS_TILE);
    __m256 ts1 = _mm256_set1_ps((float)CS_TILE - 1.0f);
    __m256 gx = _mm256_set1_ps((float)v->tiles_x), gy = _mm256_set1_ps((float)v->tiles_y);
    __m256 px = _mm256_sub_ps(u, half), py = _mm256_sub_ps(vv, half);
    /* division by 16 is exact as a multiplication by 1/16 */
    __m256 x0 = tile_clamp(_mm256_mul_ps(_mm256_sub_ps(px, radius), inv_ts), gx);
    __m256 x1 =
        tile_clamp(_mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(px, radius), ts1), inv_ts), gx);
    __m256 y0 = tile_clamp(_mm256_mul_ps(_mm256_sub_ps(py, radius), inv_ts), gy);
    __m256 y1 =
        tile_clamp(_mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(py, radius), ts1), inv_ts), gy);
    x0 = _mm256_round_ps(x0, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    x1 = _mm256_round_ps(x1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    y0 = _mm256_round_ps(y0, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    y1 = _mm256_round_ps(y1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    keep = _mm256_and_ps(keep, _mm256_cmp_ps(x1, x0, _CMP_GT_OQ));
    keep = _mm256_and_ps(keep, _mm256_cmp_ps(y1, y0, _CMP_GT_OQ));

    /* opacity and support (cs_sigmoid, cs_alpha_support) */
    const float *op = a->opacities + i;
    __m256 opacity =
        _mm256_div_ps(one, _mm256_add_ps(one, cs_exp_ps(_mm256_sub_ps(zero, _mm256_loadu_ps(op)))));
    __m256 support = _mm256_fmadd_ps(two, cs_log_ps(_mm256_mul_ps(_mm256_set1_ps(255.0f), opacity)),
                                     _mm256_set1_ps(1e-3f));
    __m256i rad = _mm256_and_si256(
        _mm256_cvttps_epi32(_mm256_min_ps(radius, _mm256_set1_ps((float)(1 << 30)))),
        _mm256_castps_si256(keep));

    /* The support box and the narrowed rectangle (cs__splat_support, cs_support_box). */
    box4 h0 = support4(_mm256_castps256_ps128(u), _mm256_castps256_ps128(vv),
                       _mm256_castps256_ps128(con0), _mm256_castps256_ps128(con1),
                       _mm256_castps256_ps128(con2), _mm256_castps256_ps128(support), v->width,
                       v->height);
    box4 h1 = support4(_mm256_extractf128_ps(u, 1), _mm256_extractf128_ps(vv, 1),
                       _mm256_extractf128_ps(con0, 1), _mm256_extractf128_ps(con1, 1),
                       _mm256_extractf128_ps(con2, 1), _mm256_extractf128_ps(support, 1), v->width,
                       v->height);
    __m256i rx0 = _mm256_cvttps_epi32(x0), rx1 = _mm256_cvttps_epi32(x1);
    __m256i ry0 = _mm256_cvttps_epi32(y0), ry1 = _mm256_cvttps_epi32(y1);
    __m256i bi0 = _mm256_set_m128i(h1.i0, h0.i0), bi1 = _mm256_set_m128i(h1.i1, h0.i1);
    __m256i bj0 = _mm256_set_m128i(h1.j0, h0.j0), bj1 = _mm256_set_m128i(h1.j1, h0.j1);
    __m256i pd = _mm256_set_m128i(h1.pd, h0.pd), ok = _mm256_set_m128i(h1.ok, h0.ok);
    /* not positive definite: the rectangle's pixels, clamped to the image */
    const __m256i one_i = _mm256_set1_epi32(1);
    __m256i wm = _mm256_set1_epi32(v->width - 1), hm = _mm256_set1_epi32(v->height - 1);
    bi0 = _mm256_blendv_epi8(_mm256_slli_epi32(rx0, 4), bi0, pd);
    bi1 = _mm256_blendv_epi8(
        _mm256_min_epi32(_mm256_sub_epi32(_mm256_slli_epi32(rx1, 4), one_i), wm), bi1, pd);
    bj0 = _mm256_blendv_epi8(_mm256_slli_epi32(ry0, 4), bj0, pd);
    bj1 = _mm256_blendv_epi8(
        _mm256_min_epi32(_mm256_sub_epi32(_mm256_slli_epi32(ry1, 4), one_i), hm), bj1, pd);
    ok = _mm256_or_si256(_mm256_andnot_si256(pd, _mm256_set1_epi32(-1)), ok);
    ok = _mm256_and_si256(ok, _mm256_castps_si256(_mm256_cmp_ps(support, zero, _CMP_GT_OQ)));
    ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(_mm256_add_epi32(bi1, one_i), bi0)); /* i0 <= i1 */
    ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(_mm256_add_epi32(bj1, one_i), bj0));
    __m256i tx0 = _mm256_max_epi32(_mm256_srli_epi32(bi0, 4), rx0);
    __m256i tx1 = _mm256_min_epi32(_mm256_add_epi32(_mm256_srli_epi32(bi1, 4), one_i), rx1);
    __m256i ty0 = _mm256_max_epi32(_mm256_srli_epi32(bj0, 4), ry0);
    __m256i ty1 = _mm256_min_epi32(_mm256_add_epi32(_mm256_srli_epi32(bj1, 4), one_i), ry1);
    ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(tx1, tx0));
    ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(ty1, ty0));
    /* draws nothing: empty rectangle (x1 = x0) and box (i0 = 1 > i1 = 0) */
    tx0 = _mm256_blendv_epi8(rx0, tx0, ok);
    tx1 = _mm256_blendv_epi8(rx0, tx1, ok);
    ty0 = _mm256_blendv_epi8(ry0, ty0, ok);
    ty1 = _mm256_blendv_epi8(ry1, ty1, ok);
    bi0 = _mm256_blendv_epi8(one_i, bi0, ok);
    bi1 = _mm256_and_si256(bi1, ok);
    bj0 = _mm256_and_si256(bj0, ok);
    bj1 = _mm256_and_si256(bj1, ok);

    /* two rows of 8 words per record, transposed from field vectors */
    __m256 lo[8] = {u, vv, con0, con1, con2, opacity, zero, zero};
    __m256 hi[8] = {zero,
                    pv[2],
                    word_pair(bi0, bi1),
                    word_pair(bj0, bj1),
                    _mm256_castsi256_ps(rad),
                    word_pair(tx0, tx1),
                    word_pair(ty0, ty1),
                    support};
    cs_transpose8_ps(lo);
    cs_transpose8_ps(hi);
    for (int l = 0; l < 8; l++) {
        float *rec = (float *)&a->splats[i + l];
        _mm256_storeu_ps(rec, lo[l]);
        _mm256_storeu_ps(rec + 8, hi[l]);
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
