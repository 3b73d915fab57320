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
#endif
