/*
 * adam_avx2.c - the Adam element update (src/adam.c) 8 floats at a time.
 *
 * The same operations as cs__adam_update_scalar in the same order, unfused (no FMA: -std=c11
 * keeps the compiler from contracting, and clang is told so below), with the correctly rounded
 * vector square root and division, and the tail through the scalar twin: the results are
 * bit-identical to the scalar kernel. Only called after a run-time AVX2 check.
 */
#include "../trainer.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

void cs__adam_update_avx2(float *p, float *m, float *v, float *g, int64_t n,
                          const cs__adam_consts *c) {
    const __m256 w1 = _mm256_set1_ps(1.0f - c->beta1), b2 = _mm256_set1_ps(c->beta2);
    const __m256 w2 = _mm256_set1_ps(1.0f - c->beta2), bc2s = _mm256_set1_ps(c->bc2s);
    const __m256 eps = _mm256_set1_ps(c->eps), nstep = _mm256_set1_ps(-c->step);
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i), mi = _mm256_loadu_ps(m + i);
        __m256 vi = _mm256_loadu_ps(v + i);
        _mm256_storeu_ps(g + i, zero);
        mi = _mm256_add_ps(mi, _mm256_mul_ps(w1, _mm256_sub_ps(gi, mi)));
        vi = _mm256_add_ps(_mm256_mul_ps(vi, b2), _mm256_mul_ps(_mm256_mul_ps(w2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
        __m256 pi = _mm256_loadu_ps(p + i);
        _mm256_storeu_ps(p + i, _mm256_add_ps(pi, _mm256_mul_ps(nstep, _mm256_div_ps(mi, denom))));
    }
    if (i < n) cs__adam_update_scalar(p + i, m + i, v + i, g + i, n - i, c);
}

/* One 8-lane step of the element update with per-lane constants; lanes outside mask are neither
 * read nor written. */
static inline void sh_vector(float *p, float *m, float *v, float *g, __m256i mask, __m256 w1,
                             __m256 b2, __m256 w2, __m256 bc2s, __m256 eps, __m256 nstep) {
    __m256 gi = _mm256_maskload_ps(g, mask), mi = _mm256_maskload_ps(m, mask);
    __m256 vi = _mm256_maskload_ps(v, mask);
    _mm256_maskstore_ps(g, mask, _mm256_setzero_ps());
    mi = _mm256_add_ps(mi, _mm256_mul_ps(w1, _mm256_sub_ps(gi, mi)));
    vi = _mm256_add_ps(_mm256_mul_ps(vi, b2), _mm256_mul_ps(_mm256_mul_ps(w2, gi), gi));
    _mm256_maskstore_ps(m, mask, mi);
    _mm256_maskstore_ps(v, mask, vi);
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
    __m256 pi = _mm256_maskload_ps(p, mask);
    _mm256_maskstore_ps(p, mask, _mm256_add_ps(pi, _mm256_mul_ps(nstep, _mm256_div_ps(mi, denom))));
}

void cs__adam_update_sh_avx2(float *p, float *m, float *v, float *g, int64_t count, int64_t stride,
                             int len, const cs__adam_consts *dc, const cs__adam_consts *rest) {
    /* lanes 0..2 of each Gaussian's first vector are f_dc, everything after f_rest */
    const __m256 first = _mm256_castsi256_ps(_mm256_setr_epi32(-1, -1, -1, 0, 0, 0, 0, 0));
#define LANES(f) _mm256_blendv_ps(_mm256_set1_ps(rest->f), _mm256_set1_ps(dc->f), first)
    const __m256 w1_0 = _mm256_blendv_ps(_mm256_set1_ps(1.0f - rest->beta1),
                                         _mm256_set1_ps(1.0f - dc->beta1), first);
    const __m256 w2_0 = _mm256_blendv_ps(_mm256_set1_ps(1.0f - rest->beta2),
                                         _mm256_set1_ps(1.0f - dc->beta2), first);
    const __m256 b2_0 = LANES(beta2), bc2s_0 = LANES(bc2s), eps_0 = LANES(eps);
    const __m256 nstep_0 =
        _mm256_blendv_ps(_mm256_set1_ps(-rest->step), _mm256_set1_ps(-dc->step), first);
#undef LANES
    const __m256 w1 = _mm256_set1_ps(1.0f - rest->beta1), w2 = _mm256_set1_ps(1.0f - rest->beta2);
    const __m256 b2 = _mm256_set1_ps(rest->beta2), bc2s = _mm256_set1_ps(rest->bc2s);
    const __m256 eps = _mm256_set1_ps(rest->eps), nstep = _mm256_set1_ps(-rest->step);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = 0; i < count; i++) {
        int64_t o = i * stride;
        for (int k = 0; k < len; k += 8) {
            __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(len - k), lane);
            if (k == 0)
                sh_vector(p + o, m + o, v + o, g + o, mask, w1_0, b2_0, w2_0, bc2s_0, eps_0,
                          nstep_0);
            else
                sh_vector(p + o + k, m + o + k, v + o + k, g + o + k, mask, w1, b2, w2, bc2s, eps,
                          nstep);
        }
    }
}
#endif
