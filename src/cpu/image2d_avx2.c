/*
 * image2d_avx2.c - the AVX2 tile kernel of 2D Gaussian images: 8 pixels of a tile row per
 * vector, one Gaussian at a time.
 *
 * It mirrors cs__g2d_tile_scalar (image2d_render.c) operation for operation so the two produce
 * bit-identical images: the same q (cs__g2d_q order), the same exp (cs__g2d_exp: Cody-Waite,
 * Cephes polynomial, exponent-bit scaling), unfused multiplies and adds (this file is built with
 * -mfma but uses no FMA intrinsic, and contraction is off: -std=c11 for GCC, the pragma below for
 * clang), and the same top-K insertion network, run per lane with blends: an incoming weight
 * moves down the sorted list swapping with every smaller entry, exactly like the scalar loop.
 * The per-pixel end (normalisation, colour sums) is the shared scalar cs__g2d_topk_finish.
 *
 * Only called after cs__cpu_has_avx2() said yes (see cs__g2d_tile_kernel).
 */
#include "../image2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static inline __m256 exp8(__m256 x) {
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(CS_G2D_LOG2E));
    t = _mm256_add_ps(t, _mm256_set1_ps(0.5f));
    __m256 n = _mm256_floor_ps(t);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(CS_G2D_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(CS_G2D_LN2_LO)));
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_mul_ps(y, r);
    y = _mm256_mul_ps(y, r);
    y = _mm256_add_ps(y, r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    /* Lanes outside the cut-off may hold -inf/NaN here; their bits are garbage but the caller
     * masks them to 0. */
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                      _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, cs__g2d_lists *lists) {
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x, C = f->channels;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int64_t b = f->tile_off[tile], e = f->tile_off[tile + 1];
    bool topk = f->rule == CS_GIMAGE_TOPK;
    const __m256 cutoff = _mm256_set1_ps(CS_G2D_CUTOFF), half = _mm256_set1_ps(-0.5f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int y = y0; y < y1; y++) {
        int ay = f->oy + y;
        __m256 py = _mm256_set1_ps((float)ay + 0.5f);
        for (int xs = x0; xs < x1; xs += 8) {
            int axs = f->ox + xs, axe = axs + 7;
            __m256 px = _mm256_add_ps(
                _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(axs), lane)),
                _mm256_set1_ps(0.5f));
            __m256 kw[CS_G2D_K];
            __m256i ki[CS_G2D_K];
            for (int k = 0; k < CS_G2D_K; k++) {
                kw[k] = _mm256_setzero_ps();
                ki[k] = _mm256_setzero_si256();
            }
            __m256 acc[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int64_t pos = b; pos < e; pos++) {
                int32_t g = f->tile_gauss[pos];
                const int32_t *box = f->box + 4 * (int64_t)g;
                if (ay < box[1] || ay > box[3] || axe < box[0] || axs > box[2]) continue;
                __m256 dx = _mm256_sub_ps(px, _mm256_set1_ps(f->gx[g]));
                __m256 dy = _mm256_sub_ps(py, _mm256_set1_ps(f->gy[g]));
                __m256 t1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->ca[g]), dx), dx);
                __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->cc[g]), dy), dy);
                __m256 t3 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->cb[g]), dx), dy);
                __m256 q = _mm256_add_ps(_mm256_add_ps(t1, t2), _mm256_add_ps(t3, t3));
                __m256 in = _mm256_cmp_ps(q, cutoff, _CMP_LE_OQ);
                if (!_mm256_movemask_ps(in)) continue;
                __m256 w = _mm256_mul_ps(_mm256_set1_ps(f->amp[g]), exp8(_mm256_mul_ps(half, q)));
                w = _mm256_and_ps(w, in);
                if (topk) {
                    if (!_mm256_movemask_ps(_mm256_cmp_ps(w, kw[CS_G2D_K - 1], _CMP_GT_OQ)))
                        continue;
                    __m256i id = _mm256_set1_epi32((int32_t)pos);
                    for (int k = 0; k < CS_G2D_K; k++) {
                        __m256 gt = _mm256_cmp_ps(w, kw[k], _CMP_GT_OQ);
                        __m256i gti = _mm256_castps_si256(gt);
                        __m256 nw = _mm256_blendv_ps(kw[k], w, gt);
                        w = _mm256_blendv_ps(w, kw[k], gt);
                        kw[k] = nw;
                        __m256i ni = _mm256_blendv_epi8(ki[k], id, gti);
                        id = _mm256_blendv_epi8(id, ki[k], gti);
                        ki[k] = ni;
                    }
                } else {
                    const float *c = f->colour + (size_t)g * (size_t)C;
                    for (int ch = 0; ch < C; ch++)
                        acc[ch] = _mm256_add_ps(acc[ch], _mm256_mul_ps(w, _mm256_set1_ps(c[ch])));
                }
            }
            int n = x1 - xs < 8 ? x1 - xs : 8;
            if (topk) {
                float lw[CS_G2D_K][8];
                int32_t li[CS_G2D_K][8];
                for (int k = 0; k < CS_G2D_K; k++) {
                    _mm256_storeu_ps(lw[k], kw[k]);
                    _mm256_storeu_si256((__m256i *)li[k], ki[k]);
                }
                for (int l = 0; l < n; l++) {
                    float pw[CS_G2D_K];
                    int32_t pi[CS_G2D_K];
                    for (int k = 0; k < CS_G2D_K; k++) {
                        pw[k] = lw[k][l];
                        pi[k] = li[k][l];
                    }
                    int x = xs + l;
                    float *o = out ? out + ((size_t)y * (size_t)f->width + (size_t)x) * (size_t)C
                                   : NULL;
                    float sum = cs__g2d_topk_finish(f, pw, pi, o);
                    if (lists) {
                        int li_ = (y - y0) * CS_G2D_TILE + (x - x0);
                        memcpy(lists->w[li_], pw, sizeof pw);
                        memcpy(lists->idx[li_], pi, sizeof pi);
                        lists->wsum[li_] = sum;
                    }
                }
            } else if (out) {
                float la[3][8];
                for (int ch = 0; ch < C; ch++) _mm256_storeu_ps(la[ch], acc[ch]);
                for (int l = 0; l < n; l++) {
                    float *o = out + ((size_t)y * (size_t)f->width + (size_t)(xs + l)) * (size_t)C;
                    for (int ch = 0; ch < C; ch++) o[ch] = la[ch][l];
                }
            }
        }
    }
}

#else /* not x86-64: never selected, present so the symbol exists */

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, cs__g2d_lists *lists) {
    cs__g2d_tile_scalar(f, tile, out, lists);
}

#endif
