/*
 * raster_avx2.c - the AVX2+FMA twin of the scalar tile kernel in raster.c: the same compositing
 * rule, 8 pixels of a tile row at a time. Compiled with -mavx2 -mfma (Makefile rule for
 * *_avx2.c) and called only after the run-time CPU check in cpu/backend.c.
 *
 * Per (splat, tile) pair, the splat's clipped box is walked row by row in groups of 8 pixels:
 *
 *   dx = x - pixel centre (the same float subtraction as the scalar kernel), dy per row;
 *   power = A dx^2 + B dx + Cy with A = -a/2, B = -b dy, Cy = -c dy^2 / 2: two FMAs, so power
 *     differs from the scalar expression by rounding only;
 *   lanes with power below ln(1 / (255 o)) (alpha certainly < 1/255; small margin) or already
 *     done are rejected before the exponential, and a group with no lane left is skipped;
 *   exp by a Cephes-style polynomial (|relative error| < 2 ulp on the range that matters), then
 *     the alpha clamp, the 1/255 test, the T stop and the accumulation under lane masks.
 *
 * Differences from the scalar kernel are therefore rounding (FMA, exp), about 1e-7 relative; a
 * contribution within that of a cut-off (alpha 1/255, T 1e-4) can flip. tests/test_render_paths.c
 * bounds both.
 *
 * The tile state (cs_tile_state) stays in L1; colour and weights are stored only for groups where
 * some lane was drawn. Splat records are prefetched a few list entries ahead, since depth order
 * scatters them over memory.
 */
#include "../render.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* e^x for x <= 0 (larger x is not needed here), Cephes expf: x = n ln2 + r, |r| <= ln2 / 2,
 * e^r by a degree-6 polynomial, 2^n through the exponent bits. Inputs below -87 are clamped,
 * which keeps 2^n normal; such lanes are far below the alpha floor. */
static inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* One splat over its clipped box of one tile. Returns the number of pixels that became done. */
static inline int splat_box(cs_tile_state *st, const cs_splat *s, uint32_t position, int i0,
                            int i1, int j0, int j1, bool want_depth) {
    const __m256 lane = _mm256_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f);
    const __m256 vx = _mm256_set1_ps(s->x);
    const __m256 va = _mm256_set1_ps(-0.5f * s->conic[0]);
    const __m256 vo = _mm256_set1_ps(s->opacity);
    /* alpha >= 1/255 needs power >= -ln(255 o) = -support / 2 (support carries its own margin);
     * 1e-3 more keeps rounding on the safe side. The exact test follows. */
    const __m256 vmin = _mm256_set1_ps(-0.5f * s->support - 1e-3f);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 amax = _mm256_set1_ps(CS_ALPHA_MAX), amin = _mm256_set1_ps(CS_ALPHA_MIN);
    const __m256 tmin = _mm256_set1_ps(CS_T_MIN), one = _mm256_set1_ps(1.0f);
    const __m256 cr = _mm256_set1_ps(s->rgb[0]), cg = _mm256_set1_ps(s->rgb[1]);
    const __m256 cb = _mm256_set1_ps(s->rgb[2]), cz = _mm256_set1_ps(s->depth);
    const __m256i pos = _mm256_set1_epi32((int)position);
    int g0 = i0 >> 3, g1 = i1 >> 3, newly_done = 0;
    /* dx per lane of each group. Lanes of a group outside [i0, i1] are evaluated too: they lie
     * outside the splat's support box, where alpha < 1/255 with a margin, so the alpha test
     * rejects them exactly as the scalar kernel's clipping does. */
    __m256 dx[2];
    for (int g = g0; g <= g1; g++)
        dx[g] = _mm256_sub_ps(vx, _mm256_add_ps(_mm256_set1_ps((float)(st->x0 + 8 * g)), lane));
    for (int j = j0; j <= j1; j++) {
        float dy = s->y - ((float)(st->y0 + j) + 0.5f);
        __m256 vb = _mm256_set1_ps(-s->conic[1] * dy);
        __m256 vc = _mm256_set1_ps(-0.5f * s->conic[2] * dy * dy);
        for (int g = g0; g <= g1; g++) {
            int q = j * CS_TILE + 8 * g;
            __m256 power = _mm256_fmadd_ps(_mm256_fmadd_ps(va, dx[g], vb), dx[g], vc);
            __m256 done = _mm256_load_ps((const float *)&st->done[q]);
            __m256 live = _mm256_andnot_ps(done, _mm256_cmp_ps(power, vmin, _CMP_GE_OQ));
            live = _mm256_and_ps(live, _mm256_cmp_ps(power, zero, _CMP_LE_OQ));
            if (_mm256_testz_ps(live, live)) continue;

            __m256 alpha = _mm256_min_ps(amax, _mm256_mul_ps(vo, exp_ps(power)));
            live = _mm256_and_ps(live, _mm256_cmp_ps(alpha, amin, _CMP_GE_OQ));
            if (_mm256_testz_ps(live, live)) continue;
            __m256 t = _mm256_load_ps(&st->t[q]);
            __m256 test_t = _mm256_mul_ps(t, _mm256_sub_ps(one, alpha));
            __m256 stop = _mm256_and_ps(live, _mm256_cmp_ps(test_t, tmin, _CMP_LT_OQ));
            __m256 draw = _mm256_andnot_ps(stop, live);
            if (!_mm256_testz_ps(stop, stop)) {
                _mm256_store_ps((float *)&st->done[q], _mm256_or_ps(done, stop));
                newly_done += __builtin_popcount((unsigned)_mm256_movemask_ps(stop));
            }
            if (_mm256_testz_ps(draw, draw)) continue;
            /* w = alpha T on drawn lanes, 0 elsewhere: the sums below need no blend. */
            __m256 w = _mm256_and_ps(_mm256_mul_ps(alpha, t), draw);
            _mm256_store_ps(&st->c[0][q], _mm256_fmadd_ps(cr, w, _mm256_load_ps(&st->c[0][q])));
            _mm256_store_ps(&st->c[1][q], _mm256_fmadd_ps(cg, w, _mm256_load_ps(&st->c[1][q])));
            _mm256_store_ps(&st->c[2][q], _mm256_fmadd_ps(cb, w, _mm256_load_ps(&st->c[2][q])));
            if (want_depth) {
                _mm256_store_ps(&st->d[q], _mm256_fmadd_ps(cz, w, _mm256_load_ps(&st->d[q])));
                _mm256_store_ps(&st->wsum[q], _mm256_add_ps(w, _mm256_load_ps(&st->wsum[q])));
            }
            _mm256_store_ps(&st->t[q], _mm256_blendv_ps(t, test_t, draw));
            __m256i last = _mm256_load_si256((const __m256i *)&st->last[q]);
            last = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(last), _mm256_castsi256_ps(pos), draw));
            _mm256_store_si256((__m256i *)&st->last[q], last);
        }
    }
    return newly_done;
}

static inline void tile_kernel(const cs_raster_args *a, int64_t tile, bool want_depth) {
    cs_tile_state st;
    cs__tile_begin(a, tile, &st);
    int64_t begin = a->ranges[tile], end = a->ranges[tile + 1];
    for (int64_t p = begin; p < end && st.alive > 0; p++) {
        /* Splats are visited in depth order, scattered in memory: fetch ahead. */
        if (p + 8 < end) _mm_prefetch((const char *)&a->splats[a->list[p + 8]], _MM_HINT_T0);
        const cs_splat *s = &a->splats[a->list[p]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &st, &i0, &i1, &j0, &j1)) continue;
        st.alive -= splat_box(&st, s, (uint32_t)(p - begin + 1), i0, i1, j0, j1, want_depth);
    }
    cs__tile_end(a, &st);
}

void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile) {
    /* Two instances, so the colour-only loop carries no depth work. */
    if (a->depth) tile_kernel(a, tile, true);
    else tile_kernel(a, tile, false);
}

#else

/* Without AVX2 at compile time this twin is the scalar kernel; cs__cpu_has_avx2_fma() keeps it
 * unused on such builds anyway. */
void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile) {
    cs__raster_tile(a, tile);
}

#endif
