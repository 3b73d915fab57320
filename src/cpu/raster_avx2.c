/*
 * raster_avx2.c - the AVX2+FMA twin of the scalar tile kernel in raster.c: the same compositing
 * rule, 8 pixels of a tile row at a time. Compiled with -mavx2 -mfma (Makefile rule for
 * *_avx2.c) and called only after the run-time CPU check in cpu/backend.c.
 *
 * Per (splat, tile) pair, the splat's clipped box is walked row by row in groups of 8 pixels:
 *
 *   dx = x - pixel centre (the same float subtraction as the scalar kernel), dy per row;
 *   power = A dx^2 + B dx + Cy with A = -a/2, B = -b dy, Cy = -c dy^2 / 2, all times log2(e):
 *     two FMAs, so power differs from the scalar expression by rounding only;
 *   lanes with power below ln(1 / (255 o)) (alpha certainly < 1/255; small margin) or already
 *     done are rejected before the exponential, and a group with no lane left is skipped;
 *   e^power = 2^(log2(e) power) by a Cephes polynomial (within 2 ulp), then the alpha clamp, the
 *     1/255 test, the T stop and the accumulation under lane masks.
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
#include "simd_avx2.h"

#define LOG2E 1.44269504088896341f

/* One splat over its clipped box [i0, i1] x [j0, j1] of one tile. Returns the number of pixels
 * that became done.
 *
 * The quadratic form is evaluated in base 2: power2 = log2(e) power, from the conic scaled by
 * log2(e) (A dx^2 + B dx + C per row, two FMAs), so that e^power = 2^power2 needs no range
 * reduction by ln 2. Only the sign of power matters for the power > 0 test, and the scaling
 * keeps it. */
static inline int splat_box(cs_tile_state *st, const cs_splat *s, uint32_t position, int i0, int i1,
                            int j0, int j1, bool want_depth) {
    const __m256 lane = _mm256_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f);
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 va = _mm256_set1_ps(-0.5f * LOG2E * s->conic[0]);
    const __m256 nb = _mm256_set1_ps(-LOG2E * s->conic[1]);
    const __m256 nc = _mm256_set1_ps(-0.5f * LOG2E * s->conic[2]);
    const __m256 vy = _mm256_set1_ps(s->y);
    const __m256 vo = _mm256_set1_ps(s->opacity);
    /* alpha >= 1/255 needs power >= -ln(255 o) = -support / 2 (support carries its own margin);
     * 1e-3 more keeps rounding on the safe side. The exact alpha test follows. */
    const __m256 vmin = _mm256_set1_ps(LOG2E * (-0.5f * s->support - 1e-3f));
    const __m256 cr = _mm256_set1_ps(s->rgb[0]), cg = _mm256_set1_ps(s->rgb[1]);
    const __m256 cb = _mm256_set1_ps(s->rgb[2]), cz = _mm256_set1_ps(s->depth);
    const __m256 pos = _mm256_castsi256_ps(_mm256_set1_epi32((int)position));
    int g0 = i0 >> 3, g1 = i1 >> 3, newly_done = 0;
    /* dx per lane of each group, the scalar kernel's float subtraction. Lanes of a group outside
     * [i0, i1] are evaluated too: they lie outside the splat's support box, where alpha < 1/255
     * with a margin, so the alpha test rejects them as the scalar kernel's clipping does. */
    __m256 dx[2];
    for (int g = g0; g <= g1; g++)
        dx[g] = _mm256_sub_ps(_mm256_set1_ps(s->x),
                              _mm256_add_ps(_mm256_set1_ps((float)(st->x0 + 8 * g)), lane));
    /* pixel-centre height of row j, stepped by exact integer additions */
    __m256 centre_y = _mm256_set1_ps((float)(st->y0 + j0) + 0.5f);
    for (int j = j0; j <= j1; j++, centre_y = _mm256_add_ps(centre_y, one)) {
        __m256 dy = _mm256_sub_ps(vy, centre_y);
        __m256 vb = _mm256_mul_ps(nb, dy);
        __m256 vc = _mm256_mul_ps(_mm256_mul_ps(nc, dy), dy);
        for (int g = g0; g <= g1; g++) {
            int q = j * CS_TILE + 8 * g;
            __m256 power = _mm256_fmadd_ps(_mm256_fmadd_ps(va, dx[g], vb), dx[g], vc);
            __m256 done = _mm256_load_ps((const float *)&st->done[q]);
            __m256 live = _mm256_andnot_ps(done, _mm256_cmp_ps(power, vmin, _CMP_GE_OQ));
            live = _mm256_and_ps(live, _mm256_cmp_ps(power, zero, _CMP_LE_OQ));
            if (_mm256_testz_ps(live, live)) continue;

            /* exp of max(power, vmin): unchanged on live lanes, and no denormal results on
             * the others (far lanes reach 2^-126 o, and each denormal costs a microcode
             * assist of ~150 cycles: that made small splats cost several times large ones). */
            __m256 alpha = _mm256_min_ps(_mm256_set1_ps(CS_ALPHA_MAX),
                                         _mm256_mul_ps(vo, cs_exp2_ps(_mm256_max_ps(power, vmin))));
            live =
                _mm256_and_ps(live, _mm256_cmp_ps(alpha, _mm256_set1_ps(CS_ALPHA_MIN), _CMP_GE_OQ));
            /* alpha on lanes drawn, 0 elsewhere: T (1 - alpha_d) is the new T of every lane
             * (T itself where nothing is drawn), and w = alpha_d T adds exactly 0 there. */
            __m256 t = _mm256_load_ps(&st->t[q]);
            __m256 alpha_d = _mm256_and_ps(alpha, live);
            __m256 t_new = _mm256_mul_ps(t, _mm256_sub_ps(one, alpha_d));
            __m256 stop =
                _mm256_and_ps(live, _mm256_cmp_ps(t_new, _mm256_set1_ps(CS_T_MIN), _CMP_LT_OQ));
            if (!_mm256_testz_ps(stop, stop)) { /* rare: done before this splat, T kept */
                _mm256_store_ps((float *)&st->done[q], _mm256_or_ps(done, stop));
                newly_done += __builtin_popcount((unsigned)_mm256_movemask_ps(stop));
                live = _mm256_andnot_ps(stop, live);
                alpha_d = _mm256_and_ps(alpha, live);
                t_new = _mm256_blendv_ps(t_new, t, stop);
                /* the whole row done (pixels outside the image start done)? */
                const float *row = (const float *)&st->done[j * CS_TILE];
                if (_mm256_movemask_ps(_mm256_load_ps(row)) == 0xff &&
                    _mm256_movemask_ps(_mm256_load_ps(row + 8)) == 0xff)
                    st->full_rows |= 1u << j;
            }
            __m256 w = _mm256_mul_ps(alpha_d, t);
            _mm256_store_ps(&st->c[0][q], _mm256_fmadd_ps(cr, w, _mm256_load_ps(&st->c[0][q])));
            _mm256_store_ps(&st->c[1][q], _mm256_fmadd_ps(cg, w, _mm256_load_ps(&st->c[1][q])));
            _mm256_store_ps(&st->c[2][q], _mm256_fmadd_ps(cb, w, _mm256_load_ps(&st->c[2][q])));
            if (want_depth) {
                _mm256_store_ps(&st->d[q], _mm256_fmadd_ps(cz, w, _mm256_load_ps(&st->d[q])));
                _mm256_store_ps(&st->wsum[q], _mm256_add_ps(w, _mm256_load_ps(&st->wsum[q])));
            }
            _mm256_store_ps(&st->t[q], t_new);
            __m256 last = _mm256_load_ps((const float *)&st->last[q]);
            _mm256_store_ps((float *)&st->last[q], _mm256_blendv_ps(last, pos, live));
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
        if (!cs__tile_rows_alive(st.full_rows, &j0, &j1)) continue;
        st.alive -= splat_box(&st, s, (uint32_t)(p - begin + 1), i0, i1, j0, j1, want_depth);
    }
    cs__tile_end(a, &st);
}

void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile) {
    /* Two instances, so the colour-only loop carries no depth work. */
    if (a->depth)
        tile_kernel(a, tile, true);
    else
        tile_kernel(a, tile, false);
}

#else

/* Without AVX2 at compile time this twin is the scalar kernel; cs__cpu_has_avx2_fma() keeps it
 * unused on such builds anyway. */
void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile) {
    cs__raster_tile(a, tile);
}

#endif
