/*
 * raster_bwd_avx512.c - the AVX-512 twin of the tile backward (cpu/raster_bwd_avx2.c), the
 * partner of the AVX-512 forward (cpu/raster_avx512.c): one 16-lane vector is one tile row, lane
 * masks replace the AVX2 kernel's blends and its split of a row into two 8-lane groups.
 *
 * Which splats a pixel visits must be exactly the ones the forward drew, so alpha comes from the
 * forward's expressions, which the AVX2 and AVX-512 forwards share bit for bit: power in base 2,
 * (A dx + B) dx + C with A = -log2(e) a/2, B = -log2(e) b dy, C = -log2(e) c dy^2 / 2 (two FMAs),
 * the early reject, 2^power by cs_exp2_16, the clamp at 0.99 and the 1/255 floor. The gradient
 * arithmetic is the AVX2 kernel's lane for lane; only the final sum over a splat's lanes runs
 * over 16 lanes instead of twice 8, so the two differ by rounding (tests/test_render_bwd.c bounds
 * it against the scalar kernel). Each (tile, splat) pair still gets its own record in a fixed
 * order: the gradients are identical for any thread count.
 *
 * Compiled with the default flags; the AVX-512 code is in functions with a target attribute and
 * runs only after cs__cpu_has_avx512().
 */
#include "../train_render.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include "simd_avx512.h"

#define LOG2E 1.44269504088896341f

/* One splat's gradient record over rows j0..j1 and the columns in cols. */
AVX512 static inline void splat_bwd(cs_bwd_state *b, const cs_tile_state *geo, const cs_splat *s,
                                    uint32_t pos, __mmask16 cols, int j0, int j1,
                                    cs_splat_grad *d) {
    const __m512 lane = _mm512_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f,
                                       10.5f, 11.5f, 12.5f, 13.5f, 14.5f, 15.5f);
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512 amax = _mm512_set1_ps(CS_ALPHA_MAX), amin = _mm512_set1_ps(CS_ALPHA_MIN);
    const __m512 va = _mm512_set1_ps(-0.5f * LOG2E * s->conic[0]);
    const float nb = -LOG2E * s->conic[1], nc = -0.5f * LOG2E * s->conic[2];
    const __m512 ca = _mm512_set1_ps(s->conic[0]), cb = _mm512_set1_ps(s->conic[1]);
    const __m512 cc = _mm512_set1_ps(s->conic[2]), vo = _mm512_set1_ps(s->opacity);
    const __m512 vmin = _mm512_set1_ps(LOG2E * (-0.5f * s->support - 1e-3f));
    const __m512 c0 = _mm512_set1_ps(s->rgb[0]), c1 = _mm512_set1_ps(s->rgb[1]);
    const __m512 c2 = _mm512_set1_ps(s->rgb[2]), half = _mm512_set1_ps(0.5f);
    const __m512i vpos = _mm512_set1_epi32((int32_t)pos);
    const __m512 x =
        _mm512_sub_ps(_mm512_set1_ps(s->x), _mm512_add_ps(_mm512_set1_ps((float)geo->x0), lane));
    __m512 gx = zero, gy = zero, ga = zero, gb = zero, gc = zero, go = zero;
    __m512 gr0 = zero, gr1 = zero, gr2 = zero;
    for (int j = j0; j <= j1; j++) {
        int q = j * CS_TILE;
        /* Lanes this splat was drawn at in the forward: before the pixel's last. */
        __mmask16 live =
            _mm512_mask_cmpgt_epi32_mask(cols, _mm512_load_si512((const void *)&b->last[q]), vpos);
        if (!live) continue;
        float dyf = s->y - ((float)(geo->y0 + j) + 0.5f);
        __m512 dy = _mm512_set1_ps(dyf);
        __m512 vb = _mm512_set1_ps(nb * dyf);       /* the forward's nb dy */
        __m512 vc = _mm512_set1_ps(nc * dyf * dyf); /* and its (nc dy) dy */
        __m512 power = _mm512_fmadd_ps(_mm512_fmadd_ps(va, x, vb), x, vc);
        live = _mm512_mask_cmp_ps_mask(live, power, vmin, _CMP_GE_OQ);
        live = _mm512_mask_cmp_ps_mask(live, power, zero, _CMP_LE_OQ);
        if (!live) continue;
        /* max(power, vmin): the same on live lanes, and no denormals on the others */
        __m512 G = cs_exp2_16(_mm512_max_ps(power, vmin));
        __m512 og = _mm512_mul_ps(vo, G);
        __m512 alpha = _mm512_min_ps(amax, og);
        live = _mm512_mask_cmp_ps_mask(live, alpha, amin, _CMP_GE_OQ);
        if (!live) continue;

        __m512 inv = _mm512_div_ps(one, _mm512_sub_ps(one, alpha));
        __m512 t_after = _mm512_load_ps(&b->t[q]);
        __m512 t = _mm512_mask_mul_ps(t_after, live, t_after, inv);
        _mm512_store_ps(&b->t[q], t);
        __m512 w = _mm512_maskz_mul_ps(live, alpha, t);
        /* alpha on live lanes, 0 elsewhere: A += alpha (c - A) leaves dead lanes as they are */
        __m512 alpha_live = _mm512_maskz_mov_ps(live, alpha);
        __m512 d_alpha = zero;
#define CHANNEL(ch, col, gr)                                                                       \
    do {                                                                                           \
        __m512 acc = _mm512_load_ps(&b->acc[ch][q]);                                               \
        __m512 diff = _mm512_sub_ps(col, acc);                                                     \
        __m512 dp = _mm512_load_ps(&b->dp[ch][q]);                                                 \
        d_alpha = _mm512_fmadd_ps(diff, dp, d_alpha);                                              \
        _mm512_store_ps(&b->acc[ch][q], _mm512_fmadd_ps(alpha_live, diff, acc));                   \
        gr = _mm512_fmadd_ps(w, dp, gr);                                                           \
    } while (0)
        CHANNEL(0, c0, gr0);
        CHANNEL(1, c1, gr1);
        CHANNEL(2, c2, gr2);
#undef CHANNEL
        d_alpha = _mm512_fmadd_ps(d_alpha, t, _mm512_mul_ps(_mm512_load_ps(&b->bgt[q]), inv));
        /* Where o G > 0.99 alpha is the constant 0.99: no gradient to o, G. */
        __mmask16 free_ = _mm512_mask_cmp_ps_mask(live, og, amax, _CMP_LE_OQ);
        d_alpha = _mm512_maskz_mov_ps(free_, d_alpha);
        go = _mm512_fmadd_ps(G, d_alpha, go);
        __m512 d_power = _mm512_mul_ps(_mm512_mul_ps(vo, G), d_alpha);
        gx = _mm512_fnmadd_ps(d_power, _mm512_fmadd_ps(ca, x, _mm512_mul_ps(cb, dy)), gx);
        gy = _mm512_fnmadd_ps(d_power, _mm512_fmadd_ps(cc, dy, _mm512_mul_ps(cb, x)), gy);
        __m512 hp = _mm512_mul_ps(half, d_power);
        ga = _mm512_fnmadd_ps(_mm512_mul_ps(hp, x), x, ga);
        gb = _mm512_fnmadd_ps(_mm512_mul_ps(d_power, x), dy, gb);
        gc = _mm512_fnmadd_ps(_mm512_mul_ps(hp, dy), dy, gc);
    }
    d->x = _mm512_reduce_add_ps(gx);
    d->y = _mm512_reduce_add_ps(gy);
    d->conic[0] = _mm512_reduce_add_ps(ga);
    d->conic[1] = _mm512_reduce_add_ps(gb);
    d->conic[2] = _mm512_reduce_add_ps(gc);
    d->opacity = _mm512_reduce_add_ps(go);
    d->rgb[0] = _mm512_reduce_add_ps(gr0);
    d->rgb[1] = _mm512_reduce_add_ps(gr1);
    d->rgb[2] = _mm512_reduce_add_ps(gr2);
}

AVX512 void cs__raster_bwd_tile_avx512(const cs_raster_bwd_args *a, int64_t tile) {
    cs_tile_state geo; /* only the geometry fields, for cs__tile_clip */
    cs_bwd_state b;
    uint32_t max_last = cs__raster_bwd_begin(a, tile, &geo, &b);
    int64_t begin = a->ranges[tile];
    for (uint32_t pos = max_last; pos-- > 0;) {
        if (pos >= 4) _mm_prefetch((const char *)&a->splats[a->list[begin + pos - 4]], _MM_HINT_T0);
        const cs_splat *s = &a->splats[a->list[begin + pos]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &geo, &i0, &i1, &j0, &j1)) continue;
        __mmask16 cols = (__mmask16)((0xffffu >> (15 - i1)) & (0xffffu << i0));
        splat_bwd(&b, &geo, s, pos, cols, j0, j1, &a->d_list[begin + pos]);
    }
}

#else

void cs__raster_bwd_tile_avx512(const cs_raster_bwd_args *a, int64_t tile) {
    cs__raster_bwd_tile(a, tile);
}

#endif
