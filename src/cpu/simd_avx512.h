/*
 * simd_avx512.h - AVX-512 helpers shared by the AVX-512 kernels (raster_avx512.c,
 * raster_bwd_avx512.c). Those files are compiled with the default flags; their AVX-512 code lives
 * in functions carrying the AVX512 target attribute below, which GCC and clang both accept, and
 * runs only after cs__cpu_has_avx512().
 */
#ifndef CSPLAT_SIMD_AVX512_H
#define CSPLAT_SIMD_AVX512_H

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

/* 2^x for x <= 0, as cs_exp2_ps (simd_avx2.h) computes it, bit for bit: the same rounding to
 * the nearest integer n, the same polynomial in f = x - n, and p 2^n through vscalefps, exact as
 * the AVX2 exponent-bits product is. That one clamps x at -126 first; callers here pass x no
 * lower than their alpha floor (about -9), where both agree. */
AVX512 static inline __m512 cs_exp2_16(__m512 x) {
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

#endif
