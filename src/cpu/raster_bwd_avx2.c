/*
 * raster_bwd_avx2.c - the AVX2+FMA twin of the tile backward in raster_bwd.c: the same walk (per
 * tile, back to front from each pixel's last contributor, T recovered from the final T), 8
 * pixels of a tile row at a time. Compiled with -mavx2 -mfma (Makefile rule for *_avx2.c) and
 * called only after the run-time CPU check, and only when the forward ran the AVX2 raster
 * kernel (cpu/raster_avx2.c).
 *
 * Which splats a pixel visits must be exactly the ones the forward drew, so alpha is computed
 * with the AVX2 forward's expressions (cpu/raster_avx2.c, which the AVX-512 forward matches bit
 * for bit): power in base 2, (A dx + B) dx + C with A = -log2(e) a/2, B = -log2(e) b dy,
 * C = -log2(e) c dy^2 / 2 (two FMAs), the same early reject, the same exp2 (cs_exp2_ps in
 * simd_avx2.h), then the clamp at 0.99 and the 1/255 floor. The gradient arithmetic differs from
 * the scalar kernel by rounding only (one division 1 / (1 - alpha) reused, FMA contraction,
 * per-lane partial sums added across lanes at the end of each splat); tests/test_render_bwd.c
 * bounds the difference.
 *
 * Per (tile, splat) pair the result goes to its own d_list record, as in the scalar kernel, so
 * the sums stay in a fixed order and the gradients are identical for any thread count.
 */
#include "../train_render.h"

#if defined(__AVX2__) && defined(__FMA__)
#include "simd_avx2.h"

#include <immintrin.h>

#define LOG2E 1.44269504088896341f

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void cs__raster_bwd_tile_avx2(const cs_raster_bwd_args *a, int64_t tile) {
    cs_tile_state geo; /* only the geometry fields, for cs__tile_clip */
    cs_bwd_state b;
    uint32_t max_last = cs__raster_bwd_begin(a, tile, &geo, &b);
    int64_t begin = a->ranges[tile];

    const __m256 lane = _mm256_setr_ps(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f);
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 amax = _mm256_set1_ps(CS_ALPHA_MAX), amin = _mm256_set1_ps(CS_ALPHA_MIN);
    for (uint32_t pos = max_last; pos-- > 0;) {
        if (pos >= 4) _mm_prefetch((const char *)&a->splats[a->list[begin + pos - 4]], _MM_HINT_T0);
        const cs_splat *s = &a->splats[a->list[begin + pos]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &geo, &i0, &i1, &j0, &j1)) continue;
        const __m256 vx = _mm256_set1_ps(s->x);
        const __m256 va = _mm256_set1_ps(-0.5f * LOG2E * s->conic[0]);
        const float nb = -LOG2E * s->conic[1], nc = -0.5f * LOG2E * s->conic[2];
        const __m256 ca = _mm256_set1_ps(s->conic[0]), cb = _mm256_set1_ps(s->conic[1]);
        const __m256 cc = _mm256_set1_ps(s->conic[2]);
        const __m256 vo = _mm256_set1_ps(s->opacity);
        /* The forward's early reject, in base 2: power < log2(e) (-support / 2 - 1e-3) means
         * alpha < 1/255 (support carries its own margin). */
        const __m256 vmin = _mm256_set1_ps(LOG2E * (-0.5f * s->support - 1e-3f));
        const __m256 c0 = _mm256_set1_ps(s->rgb[0]), c1 = _mm256_set1_ps(s->rgb[1]);
        const __m256 c2 = _mm256_set1_ps(s->rgb[2]);
        const __m256i vpos = _mm256_set1_epi32((int32_t)pos);
        __m256 gx = zero, gy = zero, ga = zero, gb = zero, gc = zero, go = zero;
        __m256 gr0 = zero, gr1 = zero, gr2 = zero;
        int g0 = i0 >> 3, g1 = i1 >> 3;
        __m256 dx[2];
        for (int g = g0; g <= g1; g++)
            dx[g] = _mm256_sub_ps(vx, _mm256_add_ps(_mm256_set1_ps((float)(geo.x0 + 8 * g)), lane));
        for (int j = j0; j <= j1; j++) {
            float dyf = s->y - ((float)(geo.y0 + j) + 0.5f);
            __m256 dy = _mm256_set1_ps(dyf);
            __m256 vb = _mm256_set1_ps(nb * dyf);       /* the forward's nb dy */
            __m256 vc = _mm256_set1_ps(nc * dyf * dyf); /* and its (nc dy) dy */
            for (int g = g0; g <= g1; g++) {
                int q = j * CS_TILE + 8 * g;
                /* Lanes this splat was drawn at in the forward: before the pixel's last. */
                __m256 live = _mm256_castsi256_ps(
                    _mm256_cmpgt_epi32(_mm256_load_si256((const __m256i *)&b.last[q]), vpos));
                if (_mm256_testz_ps(live, live)) continue;
                __m256 power = _mm256_fmadd_ps(_mm256_fmadd_ps(va, dx[g], vb), dx[g], vc);
                live = _mm256_and_ps(live, _mm256_cmp_ps(power, vmin, _CMP_GE_OQ));
                live = _mm256_and_ps(live, _mm256_cmp_ps(power, zero, _CMP_LE_OQ));
                if (_mm256_testz_ps(live, live)) continue;
                /* max(power, vmin): the same on live lanes; keeps the others' o G normal
                 * (a denormal costs a ~150-cycle microcode assist) */
                __m256 G = cs_exp2_ps(_mm256_max_ps(power, vmin));
                __m256 og = _mm256_mul_ps(vo, G);
                __m256 alpha = _mm256_min_ps(amax, og);
                live = _mm256_and_ps(live, _mm256_cmp_ps(alpha, amin, _CMP_GE_OQ));
                if (_mm256_testz_ps(live, live)) continue;

                __m256 inv = _mm256_div_ps(one, _mm256_sub_ps(one, alpha));
                __m256 t = _mm256_blendv_ps(_mm256_load_ps(&b.t[q]),
                                            _mm256_mul_ps(_mm256_load_ps(&b.t[q]), inv), live);
                _mm256_store_ps(&b.t[q], t);
                __m256 w = _mm256_and_ps(_mm256_mul_ps(alpha, t), live);
                /* alpha on live lanes, 0 elsewhere: A += alpha (c - A) leaves dead lanes as
                 * they are without a blend. */
                __m256 alpha_live = _mm256_and_ps(alpha, live);
                __m256 d_alpha = zero;
#define CHANNEL(ch, col, gr)                                                                       \
    do {                                                                                           \
        __m256 acc = _mm256_load_ps(&b.acc[ch][q]);                                                \
        __m256 diff = _mm256_sub_ps(col, acc);                                                     \
        __m256 dp = _mm256_load_ps(&b.dp[ch][q]);                                                  \
        d_alpha = _mm256_fmadd_ps(diff, dp, d_alpha);                                              \
        _mm256_store_ps(&b.acc[ch][q], _mm256_fmadd_ps(alpha_live, diff, acc));                    \
        gr = _mm256_fmadd_ps(w, dp, gr);                                                           \
    } while (0)
                CHANNEL(0, c0, gr0);
                CHANNEL(1, c1, gr1);
                CHANNEL(2, c2, gr2);
#undef CHANNEL
                d_alpha =
                    _mm256_fmadd_ps(d_alpha, t, _mm256_mul_ps(_mm256_load_ps(&b.bgt[q]), inv));
                /* Where o G > 0.99 alpha is the constant 0.99: no gradient to o, G. */
                __m256 free_ = _mm256_and_ps(live, _mm256_cmp_ps(og, amax, _CMP_LE_OQ));
                d_alpha = _mm256_and_ps(d_alpha, free_);
                go = _mm256_fmadd_ps(G, d_alpha, go);
                __m256 d_power = _mm256_mul_ps(_mm256_mul_ps(vo, G), d_alpha);
                __m256 x = dx[g];
                gx = _mm256_fnmadd_ps(d_power, _mm256_fmadd_ps(ca, x, _mm256_mul_ps(cb, dy)), gx);
                gy = _mm256_fnmadd_ps(d_power, _mm256_fmadd_ps(cc, dy, _mm256_mul_ps(cb, x)), gy);
                __m256 hp = _mm256_mul_ps(_mm256_set1_ps(0.5f), d_power);
                ga = _mm256_fnmadd_ps(_mm256_mul_ps(hp, x), x, ga);
                gb = _mm256_fnmadd_ps(_mm256_mul_ps(d_power, x), dy, gb);
                gc = _mm256_fnmadd_ps(_mm256_mul_ps(hp, dy), dy, gc);
            }
        }
        cs_splat_grad *d = &a->d_list[begin + pos];
        d->x = hsum(gx);
        d->y = hsum(gy);
        d->conic[0] = hsum(ga);
        d->conic[1] = hsum(gb);
        d->conic[2] = hsum(gc);
        d->opacity = hsum(go);
        d->rgb[0] = hsum(gr0);
        d->rgb[1] = hsum(gr1);
        d->rgb[2] = hsum(gr2);
    }
}

#else
/* Built without AVX2 (another architecture or compiler): the scalar kernel. */
void cs__raster_bwd_tile_avx2(const cs_raster_bwd_args *a, int64_t tile) {
    cs__raster_bwd_tile(a, tile);
}
#endif
