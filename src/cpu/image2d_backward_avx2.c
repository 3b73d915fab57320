/*
 * image2d_backward_avx2.c - the AVX2 twin of cs__g2d_bwd_tile_scalar (image2d_backward.c): one
 * tile's pass 1 of the 2D Gaussian image backward, 8 pixels of a row per vector.
 *
 * Gaussian-major: each Gaussian of the tile list (index order) visits the 8-pixel groups its
 * ellipse reaches (cs__g2d_reaches), re-evaluates its weights with the forward kernel's exact
 * operations (q, cs__g2d_expq), decides inclusion from the forward's per-pixel selection and the
 * tile's per-pixel count of admitted ties, and accumulates its partial gradients in 8 lanes,
 * reduced in the cs__g2d_hsum8 order. The per-lane operations follow the contract at the top of
 * image2d_backward.c, unfused (contraction is off) but for the exp (cs_exp2_ps of simd_avx2.h,
 * whose FMAs the scalar cs__g2d_expq reproduces with fmaf), so records equal the scalar twin's bit
 * for bit. The tile's gradients, outputs and selection are first copied into planar, zero-padded
 * tile buffers so a group is one aligned load per quantity (lanes beyond the window have G = 0
 * and contribute zeros, as in the scalar twin).
 *
 * Only called after cs__cpu_has_avx2().
 */
#include "../image2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx2.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* cs__g2d_expq for 8 lanes: exp(-q/2) = 2^(q * QSCALE) by the shared cs_exp2_ps. Lanes beyond
 * the cut-off may hold huge q; their value is garbage but the caller masks them to 0. */
static inline __m256 expq8(__m256 q) {
    return cs_exp2_ps(_mm256_mul_ps(q, _mm256_set1_ps(CS_G2D_QSCALE)));
}

/* ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), as cs__g2d_hsum8. */
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

/* The body, inlined with constant C and rule so the channel loops unroll into registers. */
static inline __attribute__((always_inline)) void bwd_tile(const cs__g2d_bwd *bw, int tile,
                                                           const int C, const bool topk) {
    const cs__g2d_frame *f = bw->f;
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x, R = 6 + C;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int ng = x1 - x0 > 8 ? 2 : 1;
    /* Planar, zero-padded copies of the tile's inputs: [channel][tile pixel]. */
    _Alignas(32) float Gp[3][CS_G2D_TILE_PIXELS], Op[3][CS_G2D_TILE_PIXELS];
    _Alignas(32) float thr[CS_G2D_TILE_PIXELS], inv[CS_G2D_TILE_PIXELS];
    _Alignas(32) int32_t quota[CS_G2D_TILE_PIXELS], eqcnt[CS_G2D_TILE_PIXELS];
    memset(Gp, 0, sizeof Gp);
    memset(Op, 0, sizeof Op);
    memset(thr, 0, sizeof thr);
    memset(inv, 0, sizeof inv);
    memset(quota, 0, sizeof quota);
    memset(eqcnt, 0, sizeof eqcnt);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int tl = (y - y0) * CS_G2D_TILE + (x - x0);
            size_t pix = (size_t)y * (size_t)f->width + (size_t)x;
            for (int ch = 0; ch < C; ch++) {
                Gp[ch][tl] = bw->d_out[pix * (size_t)C + ch];
                if (topk) Op[ch][tl] = bw->out[pix * (size_t)C + ch];
            }
            if (topk) {
                thr[tl] = bw->sel->thr[pix];
                inv[tl] = bw->sel->inv[pix];
                quota[tl] = bw->sel->quota[pix];
            }
        }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t pos = f->tile_off[tile]; pos < f->tile_off[tile + 1]; pos++) {
        int32_t g = f->tile_gauss[pos];
        const int32_t *box = f->box + 4 * (int64_t)g;
        const float *c = f->colour + (size_t)g * (size_t)C;
        const __m256 ca = _mm256_set1_ps(f->ca[g]), cb = _mm256_set1_ps(f->cb[g]);
        const __m256 cc = _mm256_set1_ps(f->cc[g]), amp = _mm256_set1_ps(f->amp[g]);
        const __m256 gx = _mm256_set1_ps(f->gx[g]), gy = _mm256_set1_ps(f->gy[g]);
        __m256 col[3];
        for (int ch = 0; ch < C; ch++) col[ch] = _mm256_set1_ps(c[ch]);
        int ya = box[1] - f->oy > y0 ? box[1] - f->oy : y0;
        int yb = box[3] - f->oy + 1 < y1 ? box[3] - f->oy + 1 : y1;
        __m256 acc[9];
        for (int r = 0; r < 9; r++) acc[r] = zero;
        for (int y = ya; y < yb; y++) {
            float pyf = (float)(f->oy + y) + 0.5f;
            __m256 dy = _mm256_sub_ps(_mm256_set1_ps(pyf), gy);
            /* the row's terms of q (cs__g2d_q): 2 cb dy and cc dy^2 */
            __m256 b2 = _mm256_mul_ps(cb, dy);
            b2 = _mm256_add_ps(b2, b2);
            __m256 cq = _mm256_mul_ps(_mm256_mul_ps(cc, dy), dy);
            for (int k = 0; k < ng; k++) {
                int axs = f->ox + x0 + 8 * k;
                if (!cs__g2d_reaches(f->cull + g, pyf, (float)axs + 0.5f, (float)axs + 7.5f))
                    continue;
                __m256 px = _mm256_add_ps(
                    _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(axs), lane)),
                    _mm256_set1_ps(0.5f));
                __m256 dx = _mm256_sub_ps(px, gx);
                __m256 cadx = _mm256_mul_ps(ca, dx), cbdx = _mm256_mul_ps(cb, dx);
                __m256 q = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(cadx, b2), dx), cq);
                __m256 w =
                    _mm256_and_ps(_mm256_mul_ps(amp, expq8(q)),
                                  _mm256_cmp_ps(q, _mm256_set1_ps(CS_G2D_CUTOFF), _CMP_LE_OQ));
                int tl = (y - y0) * CS_G2D_TILE + 8 * k;
                __m256 wi, dw;
                if (topk) {
                    __m256 th = _mm256_load_ps(thr + tl);
                    __m256i eq = _mm256_load_si256((const __m256i *)(eqcnt + tl));
                    __m256 gt = _mm256_cmp_ps(w, th, _CMP_GT_OQ);
                    __m256 eqm = _mm256_and_ps(_mm256_cmp_ps(w, th, _CMP_EQ_OQ),
                                               _mm256_cmp_ps(w, zero, _CMP_GT_OQ));
                    __m256i take = _mm256_and_si256(
                        _mm256_castps_si256(eqm),
                        _mm256_cmpgt_epi32(_mm256_load_si256((const __m256i *)(quota + tl)), eq));
                    _mm256_store_si256((__m256i *)(eqcnt + tl), _mm256_sub_epi32(eq, take));
                    wi = _mm256_and_ps(w, _mm256_or_ps(gt, _mm256_castsi256_ps(take)));
                    __m256 iv = _mm256_load_ps(inv + tl);
                    dw = zero;
                    for (int ch = 0; ch < C; ch++) {
                        __m256 Gc = _mm256_load_ps(Gp[ch] + tl);
                        __m256 t =
                            _mm256_mul_ps(Gc, _mm256_sub_ps(col[ch], _mm256_load_ps(Op[ch] + tl)));
                        dw = ch == 0 ? t : _mm256_add_ps(dw, t);
                        acc[5 + ch] =
                            _mm256_add_ps(acc[5 + ch], _mm256_mul_ps(_mm256_mul_ps(Gc, wi), iv));
                    }
                    dw = _mm256_mul_ps(dw, iv);
                    acc[5 + C] = _mm256_add_ps(acc[5 + C], _mm256_mul_ps(wi, iv));
                } else {
                    wi = w;
                    dw = zero;
                    for (int ch = 0; ch < C; ch++) {
                        __m256 Gc = _mm256_load_ps(Gp[ch] + tl);
                        __m256 t = _mm256_mul_ps(Gc, col[ch]);
                        dw = ch == 0 ? t : _mm256_add_ps(dw, t);
                        acc[5 + ch] = _mm256_add_ps(acc[5 + ch], _mm256_mul_ps(Gc, wi));
                    }
                    acc[5 + C] = _mm256_add_ps(acc[5 + C], wi);
                }
                __m256 dq = _mm256_mul_ps(_mm256_mul_ps(wi, _mm256_set1_ps(-0.5f)), dw);
                __m256 m = _mm256_mul_ps(dq, _mm256_set1_ps(-2.0f));
                acc[0] = _mm256_add_ps(
                    acc[0], _mm256_mul_ps(m, _mm256_add_ps(cadx, _mm256_mul_ps(cb, dy))));
                acc[1] = _mm256_add_ps(
                    acc[1], _mm256_mul_ps(m, _mm256_add_ps(cbdx, _mm256_mul_ps(cc, dy))));
                acc[2] = _mm256_add_ps(acc[2], _mm256_mul_ps(_mm256_mul_ps(dq, dx), dx));
                acc[3] = _mm256_add_ps(acc[3],
                                       _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(dq, dq), dx), dy));
                acc[4] = _mm256_add_ps(acc[4], _mm256_mul_ps(_mm256_mul_ps(dq, dy), dy));
            }
        }
        float *rec = bw->rec + (size_t)pos * (size_t)R;
        for (int r = 0; r < R; r++) rec[r] = hsum8(acc[r]);
    }
}

void cs__g2d_bwd_tile_avx2(const cs__g2d_bwd *bw, int tile) {
    bool topk = bw->f->rule == CS_GIMAGE_TOPK;
    if (bw->f->channels == 3) {
        if (topk)
            bwd_tile(bw, tile, 3, true);
        else
            bwd_tile(bw, tile, 3, false);
    } else {
        if (topk)
            bwd_tile(bw, tile, 1, true);
        else
            bwd_tile(bw, tile, 1, false);
    }
}

#else /* not x86-64: never selected, present so the symbol exists */

void cs__g2d_bwd_tile_avx2(const cs__g2d_bwd *bw, int tile) {
    cs__g2d_bwd_tile_scalar(bw, tile);
}

#endif
