/*
 * ssim_avx2.c - AVX2 row kernels of the SSIM module (src/ssim.h), 8 floats per step.
 *
 * Each kernel follows its scalar twin in ssim.c operation for operation (unfused multiply and
 * add, the same association, the same division), and the tail of a row that does not fill a
 * vector goes through the scalar twin itself, so results are bit-identical. Only used after
 * cs__cpu_has_avx2().
 */
#include "../ssim.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static void hfilt_avx2(const float *pad, float *out, int len, int stride, const float *g) {
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        const float *p = pad + i;
        __m256 acc = _mm256_mul_ps(_mm256_set1_ps(g[5]), _mm256_loadu_ps(p + 5 * stride));
        for (int k = 0; k < 5; k++)
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(g[k]),
                                                   _mm256_add_ps(_mm256_loadu_ps(p + k * stride),
                                                                 _mm256_loadu_ps(p + (10 - k) * stride))));
        _mm256_storeu_ps(out + i, acc);
    }
    if (i < len) cs__ssim_kernels_scalar.hfilt(pad + i, out + i, len - i, stride, g);
}

static void vfilt_avx2(const float *const *rows, float *out, int len, const float *g) {
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 acc = _mm256_mul_ps(_mm256_set1_ps(g[5]), _mm256_loadu_ps(rows[5] + i));
        for (int k = 0; k < 5; k++)
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(g[k]),
                                                   _mm256_add_ps(_mm256_loadu_ps(rows[k] + i),
                                                                 _mm256_loadu_ps(rows[10 - k] + i))));
        _mm256_storeu_ps(out + i, acc);
    }
    if (i < len) {
        const float *tail[CS_SSIM_TAPS];
        for (int k = 0; k < CS_SSIM_TAPS; k++) tail[k] = rows[k] + i;
        cs__ssim_kernels_scalar.vfilt(tail, out + i, len - i, g);
    }
}

static void pixel_avx2(const float *A, const float *B, const float *X, const float *M,
                       const float *Y, float *S, float *dA, float *dB, float *dX, int len) {
    const __m256 c1 = _mm256_set1_ps(CS_SSIM_C1), c2 = _mm256_set1_ps(CS_SSIM_C2);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 a = _mm256_loadu_ps(A + i), m = _mm256_loadu_ps(M + i);
        __m256 sxx = _mm256_sub_ps(_mm256_loadu_ps(B + i), _mm256_mul_ps(a, a));
        __m256 syy = _mm256_sub_ps(_mm256_loadu_ps(Y + i), _mm256_mul_ps(m, m));
        __m256 sxy = _mm256_sub_ps(_mm256_loadu_ps(X + i), _mm256_mul_ps(a, m));
        __m256 am = _mm256_mul_ps(a, m);
        __m256 n1 = _mm256_add_ps(_mm256_add_ps(am, am), c1);
        __m256 n2 = _mm256_add_ps(_mm256_add_ps(sxy, sxy), c2);
        __m256 d1 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(a, a), _mm256_mul_ps(m, m)), c1);
        __m256 d2 = _mm256_add_ps(_mm256_add_ps(sxx, syy), c2);
        __m256 den = _mm256_mul_ps(d1, d2);
        __m256 s = _mm256_div_ps(_mm256_mul_ps(n1, n2), den);
        __m256 t1 = _mm256_mul_ps(m, _mm256_sub_ps(n2, n1));
        __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(a, s), _mm256_sub_ps(d2, d1));
        __m256 da = _mm256_sub_ps(t1, t2);
        _mm256_storeu_ps(S + i, s);
        _mm256_storeu_ps(dA + i, _mm256_div_ps(_mm256_add_ps(da, da), den));
        _mm256_storeu_ps(dB + i, _mm256_div_ps(_mm256_xor_ps(s, sign), d2));
        _mm256_storeu_ps(dX + i, _mm256_div_ps(_mm256_add_ps(n1, n1), den));
    }
    if (i < len)
        cs__ssim_kernels_scalar.pixel(A + i, B + i, X + i, M + i, Y + i, S + i, dA + i, dB + i,
                                      dX + i, len - i);
}

static void combine_avx2(const float *x, const float *y, const float *GA, const float *GB,
                         const float *GX, float k, float *d, int len) {
    const __m256 kv = _mm256_set1_ps(k);
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(GB + i));
        __m256 r = _mm256_add_ps(_mm256_loadu_ps(GA + i), _mm256_add_ps(t, t));
        r = _mm256_add_ps(r, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(GX + i)));
        _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_mul_ps(r, kv)));
    }
    if (i < len)
        cs__ssim_kernels_scalar.combine(x + i, y + i, GA + i, GB + i, GX + i, k, d + i, len - i);
}

const cs__ssim_kernels cs__ssim_kernels_avx2 = {hfilt_avx2, vfilt_avx2, pixel_avx2,
                                                combine_avx2};

#else

const cs__ssim_kernels cs__ssim_kernels_avx2 = {0};

#endif
