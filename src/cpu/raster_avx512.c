/*
 * raster_avx512.c - an AVX-512 twin of the tile kernel, chosen at run time where the CPU has
 * AVX-512 F/BW/DQ/VL (server Intel since Skylake-SP, AMD Zen 4): one 16-lane vector is exactly
 * one tile row, lane masks replace the AVX2 kernel's blends and row splitting, and 32 registers
 * hold every constant. It executes the AVX2 kernel's operation sequence (cpu/raster_avx2.c: the
 * same FMAs, the same base-2 polynomial, p 2^n through vscalefps, which is exact as the AVX2
 * exponent-bits product is), so its images are bit-identical to the AVX2 kernel's, and
 * tests/test_render_paths.c checks that.
 *
 * The Makefile compiles this file with the default flags; the AVX-512 code is confined to
 * functions carrying a target attribute, which GCC and clang both accept.
 */
#include "../render.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include "simd_avx512.h"

#define LOG2E 1.44269504088896341f

/* One splat over rows j0..j1, columns i0..i1 of a tile; done holds one bit per pixel of each
 * row. Returns the number of pixels that became done. */
AVX512 static inline int splat_rows(cs_tile_state *st, uint16_t done[CS_TILE], const cs_splat *s,
                                    uint32_t position, int i0, int i1, int j0, int j1,
                                    bool want_depth) {
    const __m512 lane = _mm512_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f,
                                       10.5f, 11.5f, 12.5f, 13.5f, 14.5f, 15.5f);
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512 va = _mm512_set1_ps(-0.5f * LOG2E * s->conic[0]);
    const __m512 nb = _mm512_set1_ps(-LOG2E * s->conic[1]);
    const __m512 nc = _mm512_set1_ps(-0.5f * LOG2E * s->conic[2]);
    const __m512 vy = _mm512_set1_ps(s->y), vo = _mm512_set1_ps(s->opacity);
    const __m512 vmin = _mm512_set1_ps(LOG2E * (-0.5f * s->support - 1e-3f));
    const __m512 amax = _mm512_set1_ps(CS_ALPHA_MAX), amin = _mm512_set1_ps(CS_ALPHA_MIN);
    const __m512 tmin = _mm512_set1_ps(CS_T_MIN);
    const __m512 cr = _mm512_set1_ps(s->rgb[0]), cg = _mm512_set1_ps(s->rgb[1]);
    const __m512 cb = _mm512_set1_ps(s->rgb[2]), cz = _mm512_set1_ps(s->depth);
    const __m512i pos = _mm512_set1_epi32((int)position);
    const __m512 dx =
        _mm512_sub_ps(_mm512_set1_ps(s->x), _mm512_add_ps(_mm512_set1_ps((float)st->x0), lane));
    /* lanes i0..i1: the box clipped to the tile */
    const __mmask16 cols = (__mmask16)((0xffffu >> (15 - i1)) & (0xffffu << i0));
    int newly_done = 0;
    __m512 centre_y = _mm512_set1_ps((float)(st->y0 + j0) + 0.5f);
    for (int j = j0; j <= j1; j++, centre_y = _mm512_add_ps(centre_y, one)) {
        __m512 dy = _mm512_sub_ps(vy, centre_y);
        __m512 vb = _mm512_mul_ps(nb, dy);
        __m512 vc = _mm512_mul_ps(_mm512_mul_ps(nc, dy), dy);
        __m512 power = _mm512_fmadd_ps(_mm512_fmadd_ps(va, dx, vb), dx, vc);
        __mmask16 live =
            _mm512_mask_cmp_ps_mask(cols & (__mmask16)~done[j], power, vmin, _CMP_GE_OQ);
        live = _mm512_mask_cmp_ps_mask(live, power, zero, _CMP_LE_OQ);
        if (!live) continue;
        /* exp of max(power, vmin): unchanged on live lanes, and the others stay normal (2^-1000
         * underflows to zero through a microcode assist of ~150 cycles, which made small splats,
         * most of whose lanes are far, cost several times large ones) */
        __m512 alpha =
            _mm512_min_ps(amax, _mm512_mul_ps(vo, cs_exp2_16(_mm512_max_ps(power, vmin))));
        live = _mm512_mask_cmp_ps_mask(live, alpha, amin, _CMP_GE_OQ);
        int q = j * CS_TILE;
        /* T (1 - alpha) on live lanes, T itself elsewhere (1 - 0): the AVX2 kernel's test_t and
         * blend in one product. Only full-width stores to the state the next splat reloads: a
         * masked store cannot forward to that full load, which would stall. */
        __m512 t = _mm512_load_ps(&st->t[q]);
        __m512 alpha_d = _mm512_maskz_mov_ps(live, alpha);
        __m512 t_new = _mm512_mul_ps(t, _mm512_sub_ps(one, alpha_d));
        __mmask16 stop = _mm512_mask_cmp_ps_mask(live, t_new, tmin, _CMP_LT_OQ);
        if (stop) { /* rare: these lanes are done before this splat and keep their T */
            done[j] |= stop;
            if (done[j] == 0xffff) st->full_rows |= 1u << j;
            newly_done += __builtin_popcount(stop);
            live &= (__mmask16)~stop;
            alpha_d = _mm512_maskz_mov_ps(live, alpha);
            t_new = _mm512_mask_mov_ps(t_new, stop, t);
        }
        __m512 w = _mm512_mul_ps(alpha_d, t); /* 0 on lanes not drawn: C + c 0 = C */
        _mm512_store_ps(&st->c[0][q], _mm512_fmadd_ps(cr, w, _mm512_load_ps(&st->c[0][q])));
        _mm512_store_ps(&st->c[1][q], _mm512_fmadd_ps(cg, w, _mm512_load_ps(&st->c[1][q])));
        _mm512_store_ps(&st->c[2][q], _mm512_fmadd_ps(cb, w, _mm512_load_ps(&st->c[2][q])));
        if (want_depth) {
            _mm512_store_ps(&st->d[q], _mm512_fmadd_ps(cz, w, _mm512_load_ps(&st->d[q])));
            _mm512_store_ps(&st->wsum[q], _mm512_add_ps(w, _mm512_load_ps(&st->wsum[q])));
        }
        _mm512_store_ps(&st->t[q], t_new);
        /* last is never reloaded while the tile runs: a masked store is fine there */
        _mm512_mask_store_epi32(&st->last[q], live, pos);
    }
    return newly_done;
}

AVX512 static inline void tile_kernel(const cs_raster_args *a, int64_t tile, bool want_depth) {
    cs_tile_state st;
    cs__tile_begin(a, tile, &st);
    /* Columns outside the image start done, so a row is full when all 16 bits are set. */
    uint16_t done[CS_TILE];
    for (int j = 0; j < CS_TILE; j++) done[j] = (uint16_t)(0xffffu << st.w);
    int64_t begin = a->ranges[tile], end = a->ranges[tile + 1];
    for (int64_t p = begin; p < end && st.alive > 0; p++) {
        if (p + 8 < end) _mm_prefetch((const char *)&a->splats[a->list[p + 8]], _MM_HINT_T0);
        const cs_splat *s = &a->splats[a->list[p]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &st, &i0, &i1, &j0, &j1)) continue;
        if (!cs__tile_rows_alive(st.full_rows, &j0, &j1)) continue;
        st.alive -= splat_rows(&st, done, s, (uint32_t)(p - begin + 1), i0, i1, j0, j1, want_depth);
    }
    cs__tile_end(a, &st);
}

AVX512 void cs__raster_tile_avx512(const cs_raster_args *a, int64_t tile) {
    if (a->depth)
        tile_kernel(a, tile, true);
    else
        tile_kernel(a, tile, false);
}

bool cs__cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
}

#else

void cs__raster_tile_avx512(const cs_raster_args *a, int64_t tile) {
    cs__raster_tile(a, tile);
}

bool cs__cpu_has_avx512(void) {
    return false;
}

#endif
