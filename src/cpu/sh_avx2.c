/*
 * sh_avx2.c - the AVX2+FMA twin of the colour kernel in sh.c for degree 3, the degree of
 * trained scenes and the bulk of the work (48 coefficients per Gaussian); lower degrees, and the
 * last few Gaussians of a range, go to the scalar kernel.
 *
 * Eight visible splats are taken at a time (culled ones are skipped, so their coefficients are
 * never read). Their 16 basis values are computed with lanes = splats (cs_sh_basis, same
 * constants and order), each splat's 48 contiguous coefficients are loaded as 6 vectors and six
 * 8 x 8 transposes turn them into 48 vectors with lanes = splats, summed per channel with FMAs
 * in coefficient order. Differences from the scalar kernel are rounding only (FMA; the scalar
 * sum starts from b0 sh0 + 0, this one from 0 + b0 sh0, which is the same).
 */
#include "../render.h"

#if defined(__AVX2__) && defined(__FMA__)
#include "simd_avx2.h"

static void sh8(const cs_sh_args *a, const int64_t idx[8]) {
    const float *c = a->view->campos;
    float dx[8], dy[8], dz[8];
    for (int l = 0; l < 8; l++) {
        const float *m = a->means + 3 * idx[l];
        dx[l] = m[0] - c[0];
        dy[l] = m[1] - c[1];
        dz[l] = m[2] - c[2];
    }
    __m256 x = _mm256_loadu_ps(dx), y = _mm256_loadu_ps(dy), z = _mm256_loadu_ps(dz);
    __m256 n2 = _mm256_fmadd_ps(z, z, _mm256_fmadd_ps(y, y, _mm256_mul_ps(x, x)));
    __m256 inv = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(n2)),
                               _mm256_cmp_ps(n2, _mm256_setzero_ps(), _CMP_GT_OQ));
    x = _mm256_mul_ps(x, inv);
    y = _mm256_mul_ps(y, inv);
    z = _mm256_mul_ps(z, inv);

    __m256 xx = _mm256_mul_ps(x, x), yy = _mm256_mul_ps(y, y), zz = _mm256_mul_ps(z, z);
    __m256 xy = _mm256_mul_ps(x, y), yz = _mm256_mul_ps(y, z), xz = _mm256_mul_ps(x, z);
#define K(v) _mm256_set1_ps(v)
    __m256 zz4 = _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(K(4.0f), zz), xx), yy);
    __m256 b[16] = {
        K(CS_SH_C0),
        _mm256_mul_ps(K(-CS_SH_C1_), y),
        _mm256_mul_ps(K(CS_SH_C1_), z),
        _mm256_mul_ps(K(-CS_SH_C1_), x),
        _mm256_mul_ps(K(CS_SH_C2_0), xy),
        _mm256_mul_ps(K(CS_SH_C2_1), yz),
        _mm256_mul_ps(K(CS_SH_C2_2),
                      _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(K(2.0f), zz), xx), yy)),
        _mm256_mul_ps(K(CS_SH_C2_3), xz),
        _mm256_mul_ps(K(CS_SH_C2_4), _mm256_sub_ps(xx, yy)),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_0), y),
                      _mm256_sub_ps(_mm256_mul_ps(K(3.0f), xx), yy)),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_1), xy), z),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_2), y), zz4),
        _mm256_mul_ps(
            _mm256_mul_ps(K(CS_SH_C3_3), z),
            _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(K(2.0f), zz), _mm256_mul_ps(K(3.0f), xx)),
                          _mm256_mul_ps(K(3.0f), yy))),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_4), x), zz4),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_5), z), _mm256_sub_ps(xx, yy)),
        _mm256_mul_ps(_mm256_mul_ps(K(CS_SH_C3_6), x),
                      _mm256_sub_ps(xx, _mm256_mul_ps(K(3.0f), yy))),
    };

    /* Each splat's 48 coefficients are 6 rows of 8; the 8 x 8 transpose of row j over the 8
     * splats gives coefficients e = 8 j .. 8 j + 7 (e = 3 k + channel) with lanes = splats,
     * folded straight into the channel sums (unrolled, so e / 3 and e % 3 are constants). */
    __m256 acc[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t stride = 3 * (size_t)a->sh_coeffs;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 6
#endif
    for (int j = 0; j < 6; j++) {
        __m256 r[8];
        for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(a->sh + (size_t)idx[l] * stride + 8 * j);
        cs_transpose8_ps(r);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
        for (int l = 0; l < 8; l++) {
            int e = 8 * j + l;
            acc[e % 3] = _mm256_fmadd_ps(b[e / 3], r[l], acc[e % 3]);
        }
    }
    float out[3][8];
    for (int ch = 0; ch < 3; ch++)
        _mm256_storeu_ps(out[ch],
                         _mm256_max_ps(_mm256_add_ps(acc[ch], K(0.5f)), _mm256_setzero_ps()));
#undef K
    for (int l = 0; l < 8; l++) {
        cs_splat *s = &a->splats[idx[l]];
        s->rgb[0] = out[0][l];
        s->rgb[1] = out[1][l];
        s->rgb[2] = out[2][l];
    }
}

void cs__sh_range_avx2(const cs_sh_args *a, int64_t begin, int64_t end) {
    if (a->degree != 3) {
        cs__sh_range(a, begin, end);
        return;
    }
    int64_t idx[8];
    int n = 0;
    for (int64_t i = begin; i < end; i++) {
        if (!a->splats[i].radius) continue;
        idx[n++] = i;
        if (n == 8) {
            sh8(a, idx);
            n = 0;
        }
    }
    for (int l = 0; l < n; l++) cs__sh_range(a, idx[l], idx[l] + 1);
}

#else

void cs__sh_range_avx2(const cs_sh_args *a, int64_t begin, int64_t end) {
    cs__sh_range(a, begin, end);
}

#endif
