/*
 * image2d_avx512.c - the AVX-512 tile kernel of 2D Gaussian images: one 16-lane vector is a 4x4
 * block of pixels, one Gaussian at a time.
 *
 * Why blocks: a Gaussian costs a vector of work at every group of pixels its q <= 9 ellipse
 * reaches, and a compact group is reached by fewer Gaussians than a long one. On a fitted kodim23
 * (10,000 Gaussians, a footprint ~10 px in radius) an 8x1 row group of the AVX2 kernel has 17.2
 * candidates for 12.3 positive weights per pixel; a 4x4 block, twice the pixels, has about as
 * many candidates. So this kernel evaluates about half the weights per pixel the AVX2 one does,
 * and every per-Gaussian broadcast serves 16 pixels instead of 8.
 *
 * It computes what cs__g2d_tile_scalar (image2d_render.c) computes, bit for bit, as the AVX2
 * kernel does: q in the order of cs__g2d_q (here every lane has its own dy, so the terms in dy are
 * vector operations, the same float operations as the scalar ones), the exp of cs__g2d_expq
 * (cs_exp2_16: the same rounding, polynomial and FMAs; 2^n through vscalefps, exact as the
 * exponent-bits product is; the -126 clamp never applies to q <= 9), unfused multiplies and adds
 * otherwise (contraction is off: -std=c11 for GCC, the pragma below for clang), and the two-pass
 * top-K selection of image2d.h with the AVX2 kernel's threshold networks (cpu/image2d_avx2.c):
 * pass 1 keeps the weights and counts the positive ones per lane; when some lane has more than
 * K, its K-th largest weight comes from a network of the 5 smallest values (no lane over K + 4)
 * or of the 10 largest; pass 2 applies the threshold and tie quota and accumulates in index order.
 * Lane masks replace the AVX2 kernel's blends; candidates are packed with vpcompressd.
 * tests/test_image2d.c checks images, selections and gradients against the scalar kernel.
 *
 * The Makefile compiles this file with the default flags; the AVX-512 code is confined to
 * functions carrying the AVX512 target attribute (simd_avx512.h), and runs only after
 * cs__cpu_has_avx512() said yes (see cs__g2d_tile_kernel).
 */
#include "../image2d.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include "simd_avx512.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define BLOCK 4                      /* block side in pixels */
#define BLOCKS (CS_G2D_TILE / BLOCK) /* blocks per tile row */
#define BOT 5                        /* depth of the smallest-values network */

/* A tile's Gaussians copied into tile-local arrays (the worker's scratch); as in the AVX2 kernel,
 * arrays are a multiple of 16 floats plus 24 apart so that equal entries of different arrays do
 * not share an address modulo 4 KiB. */
typedef struct local {
    int n; /* entries, padded to a multiple of 16 with entries that reach nothing */
    float *gx, *gy, *ca, *cb, *cc, *amp, *slope, *inv_syy, *cvar, *margin, *col[3];
    float *wbuf;           /* [n][16] pass-1 weights */
    int32_t *cand[BLOCKS]; /* [n + 16] candidates of a block row's blocks */
} local;

/* Views into scratch: 13 arrays, wbuf (16 strides) and 4 candidate lists, 33 strides of
 * round16(max_list) + 24 floats, which cs__g2d_kscratch_floats provides. */
static void local_views(const cs__g2d_frame *f, float *scratch, local *L) {
    size_t s = ((size_t)f->max_list + 15) / 16 * 16 + 24;
    float **arrays[] = {&L->gx,     &L->gy,     &L->ca,      &L->cb,   &L->cc,
                        &L->amp,    &L->slope,  &L->inv_syy, &L->cvar, &L->margin,
                        &L->col[0], &L->col[1], &L->col[2]};
    for (int k = 0; k < 13; k++) *arrays[k] = scratch + (size_t)k * s;
    L->wbuf = scratch + 13 * s;
    for (int b = 0; b < BLOCKS; b++) L->cand[b] = (int32_t *)(scratch + (29 + (size_t)b) * s);
}

static void load_local(const cs__g2d_frame *f, int tile, local *L) {
    float *const arrays[13] = {L->gx,     L->gy,     L->ca,      L->cb,   L->cc,
                               L->amp,    L->slope,  L->inv_syy, L->cvar, L->margin,
                               L->col[0], L->col[1], L->col[2]};
    L->n = cs__g2d_load_tile(f, tile, 16, arrays);
}

/* One 4x4 block of a tile: pixel (bx + l % 4, by + l / 4) of the window in lane l. */
typedef struct block {
    const cs__g2d_frame *f;
    const local *L;
    __m512 px, py;  /* absolute pixel centres */
    __mmask16 live; /* lanes inside the window */
    int cols, rows; /* live columns and rows */
    int bx, by;     /* window pixel of lane 0 */
} block;

/* Candidates of the nb blocks of a block row (window rows by .. by + rows - 1, blocks from
 * window column x0): the Gaussians whose ellipse reaches a pixel centre of the block in one of
 * its rows (cs__g2d_reaches in 16 lanes, OR over the rows), local indices in
 * L->cand[b][0 .. n[b]). */
AVX512 static void block_row_candidates(const cs__g2d_frame *f, const local *L, int x0, int by,
                                        int rows, int nb, int *n) {
    const __m512 zero = _mm512_setzero_ps(), cut = _mm512_set1_ps(CS_G2D_CUTOFF);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 pys[BLOCK], xl[BLOCKS], xr[BLOCKS];
    for (int j = 0; j < rows; j++) pys[j] = _mm512_set1_ps((float)(f->oy + by + j) + 0.5f);
    for (int b = 0; b < nb; b++) {
        n[b] = 0;
        xl[b] = _mm512_set1_ps((float)(f->ox + x0 + BLOCK * b) + 0.5f);
        xr[b] = _mm512_set1_ps((float)(f->ox + x0 + BLOCK * b) + 3.5f);
    }
    for (int k = 0; k < L->n; k += 16) {
        const __m512 gy = _mm512_loadu_ps(L->gy + k), inv_syy = _mm512_loadu_ps(L->inv_syy + k);
        const __m512 cvar = _mm512_loadu_ps(L->cvar + k), margin = _mm512_loadu_ps(L->margin + k);
        const __m512 gx = _mm512_loadu_ps(L->gx + k), slope = _mm512_loadu_ps(L->slope + k);
        __mmask16 m[BLOCKS] = {0};
        for (int j = 0; j < rows; j++) {
            /* the operations of cs__g2d_reaches, in 16 lanes */
            __m512 dy = _mm512_sub_ps(pys[j], gy);
            __m512 hw2 = _mm512_mul_ps(
                _mm512_sub_ps(cut, _mm512_mul_ps(_mm512_mul_ps(dy, dy), inv_syy)), cvar);
            hw2 = _mm512_add_ps(hw2, margin);
            __m512 cx = _mm512_add_ps(gx, _mm512_mul_ps(slope, dy));
            for (int b = 0; b < nb; b++) {
                __m512 d = _mm512_max_ps(
                    _mm512_max_ps(_mm512_sub_ps(xl[b], cx), _mm512_sub_ps(cx, xr[b])), zero);
                m[b] |= _mm512_cmp_ps_mask(_mm512_mul_ps(d, d), hw2, _CMP_LE_OQ);
            }
        }
        __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(k), iota);
        for (int b = 0; b < nb; b++) {
            _mm512_storeu_si512(L->cand[b] + n[b], _mm512_maskz_compress_epi32(m[b], idx));
            n[b] += __builtin_popcount((unsigned)m[b]);
        }
    }
}

/* Weights of local Gaussian k at the block's 16 pixels (0 beyond the cut-off and outside the
 * window): q in the order of cs__g2d_q. */
AVX512 static inline __m512 weight16(const block *B, int k) {
    const local *L = B->L;
    __m512 dy = _mm512_sub_ps(B->py, _mm512_set1_ps(L->gy[k]));
    __m512 b2 = _mm512_mul_ps(_mm512_set1_ps(L->cb[k]), dy);
    b2 = _mm512_add_ps(b2, b2);
    __m512 c = _mm512_mul_ps(_mm512_set1_ps(L->cc[k]), dy);
    c = _mm512_mul_ps(c, dy);
    __m512 dx = _mm512_sub_ps(B->px, _mm512_set1_ps(L->gx[k]));
    __m512 e = _mm512_mul_ps(_mm512_set1_ps(L->ca[k]), dx);
    e = _mm512_mul_ps(_mm512_add_ps(e, b2), dx);
    __m512 q = _mm512_add_ps(e, c);
    __mmask16 in = _mm512_mask_cmp_ps_mask(B->live, q, _mm512_set1_ps(CS_G2D_CUTOFF), _CMP_LE_OQ);
    return _mm512_maskz_mul_ps(in, _mm512_set1_ps(L->amp[k]),
                               cs_exp2_16(_mm512_mul_ps(q, _mm512_set1_ps(CS_G2D_QSCALE))));
}

/* Lanes 4j .. 4j + 3 (block row j) moved to lanes 0 .. 3. */
AVX512 static inline __m512i row_index(int j) {
    return _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                            _mm512_set1_epi32(4 * j));
}

/* Store a block's C channels (v[ch], lane l = pixel l) row by row, clamped to [0, 1] as
 * cs__g2d_clamp01 when the frame asks (max(v, 0) returns its second operand, +0, for NaN and
 * -0). RGB rows are interleaved in registers: float e of a row is channel e % 3 of pixel e / 3. */
AVX512 static inline void store_block(const block *B, float *out, __m512 *v, const int C) {
    const cs__g2d_frame *f = B->f;
    if (f->clamp)
        for (int ch = 0; ch < C; ch++)
            v[ch] = _mm512_min_ps(_mm512_max_ps(v[ch], _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
    for (int j = 0; j < B->rows; j++) {
        float *o = out + ((size_t)(B->by + j) * (size_t)f->width + (size_t)B->bx) * (size_t)C;
        if (C == 3) {
            /* r and g from a two-source permute (g as lanes 16 + i), then b into every third */
            const __m512i rg =
                _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 0, 0, 0, 0);
            const __m512i bi = _mm512_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 0, 0);
            const __m512i shift = _mm512_set1_epi32(4 * j);
            __m512 t = _mm512_permutex2var_ps(v[0], _mm512_add_epi32(rg, shift), v[1]);
            t = _mm512_mask_permutexvar_ps(t, 0x924, _mm512_add_epi32(bi, shift), v[2]);
            _mm512_mask_storeu_ps(o, (__mmask16)((1u << (3 * B->cols)) - 1u), t);
        } else {
            _mm512_mask_storeu_ps(o, (__mmask16)((1u << B->cols) - 1u),
                                  _mm512_permutexvar_ps(row_index(j), v[0]));
        }
    }
}

/* Output and selection of a top-K block. */
AVX512 static inline void topk_store(const block *B, float *out, const cs__g2d_sel *sel, __m512 sum,
                                     const __m512 *acc, __m512i thr, __m512i quota, const int C) {
    const cs__g2d_frame *f = B->f;
    __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(sum, _mm512_set1_ps(f->eps)));
    if (out) {
        __m512 v[3];
        for (int ch = 0; ch < C; ch++) v[ch] = _mm512_mul_ps(acc[ch], inv);
        store_block(B, out, v, C);
    }
    if (sel) {
        __mmask16 cm = (__mmask16)((1u << B->cols) - 1u);
        for (int j = 0; j < B->rows; j++) {
            size_t pix = (size_t)(B->by + j) * (size_t)f->width + (size_t)B->bx;
            __m512i r = row_index(j);
            _mm512_mask_storeu_ps(sel->thr + pix, cm,
                                  _mm512_permutexvar_ps(r, _mm512_castsi512_ps(thr)));
            _mm512_mask_storeu_ps(sel->inv + pix, cm, _mm512_permutexvar_ps(r, inv));
            _mm512_mask_cvtepi32_storeu_epi8(sel->quota + pix, cm,
                                             _mm512_permutexvar_epi32(r, quota));
        }
    }
}

/* One step of the network of the 10 largest values. Weights are non-negative floats (+0 when
 * masked), whose bit patterns order exactly as the values do, so integer max/min give the same
 * result as the scalar kernel's float comparisons. */
#define NET_STEP(k)                                                                                \
    do {                                                                                           \
        __m512i hi_ = _mm512_max_epi32(kw##k, w);                                                  \
        w = _mm512_min_epi32(kw##k, w);                                                            \
        kw##k = hi_;                                                                               \
    } while (0)
/* One step of the network of the BOT smallest values (ascending). */
#define BOT_STEP(b)                                                                                \
    do {                                                                                           \
        __m512i lo_ = _mm512_min_epi32(b, v);                                                      \
        v = _mm512_max_epi32(b, v);                                                                \
        b = lo_;                                                                                   \
    } while (0)

/* Top-K of a block: pass 1 keeps the weights and counts positive ones per lane; a network runs
 * only when some lane has more than K; pass 2 includes and accumulates. */
AVX512 static inline void topk_block(const block *B, float *out, const cs__g2d_sel *sel,
                                     const int32_t *cand, int nc, const int C) {
    float *wbuf = B->L->wbuf;
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    const __m512i kk = _mm512_set1_epi32(CS_G2D_K);
    __m512i cnt = zero;
    for (int c = 0; c < nc; c++) {
        __m512 w = weight16(B, cand[c]);
        _mm512_storeu_ps(wbuf + 16 * c, w);
        cnt = _mm512_mask_add_epi32(cnt, _mm512_cmpgt_epi32_mask(_mm512_castps_si512(w), zero), cnt,
                                    one);
    }
    /* Without selection thr = 0 and quota = K - count, as the scalar kernel stores them. */
    __m512i thr = zero, quota = _mm512_sub_epi32(kk, cnt);
    bool exact = false;
    __mmask16 over = _mm512_cmpgt_epi32_mask(cnt, kk);
    if (over && !_mm512_cmpgt_epi32_mask(cnt, _mm512_set1_epi32(CS_G2D_K + BOT - 1))) {
        /* Every lane has at most K + BOT - 1 positive weights: its K-th largest is its
         * (count - K + 1)-th smallest positive one (zeros enter as the largest integer). */
        const __m512i big = _mm512_set1_epi32(INT32_MAX);
        __m512i b0 = big, b1 = big, b2 = big, b3 = big, b4 = big;
        for (int c = 0; c < nc; c++) {
            __m512i v = _mm512_loadu_si512(wbuf + 16 * c);
            v = _mm512_mask_mov_epi32(v, _mm512_cmpeq_epi32_mask(v, zero), big);
            BOT_STEP(b0);
            BOT_STEP(b1);
            BOT_STEP(b2);
            BOT_STEP(b3);
            BOT_STEP(b4);
        }
        /* 0-based rank r = count - K among the smallest: 1 .. BOT - 1 for lanes over K */
        __m512i r = _mm512_sub_epi32(cnt, kk);
        __m512i t = zero;
        t = _mm512_mask_mov_epi32(t, _mm512_cmpeq_epi32_mask(r, one), b1);
        t = _mm512_mask_mov_epi32(t, _mm512_cmpeq_epi32_mask(r, _mm512_set1_epi32(2)), b2);
        t = _mm512_mask_mov_epi32(t, _mm512_cmpeq_epi32_mask(r, _mm512_set1_epi32(3)), b3);
        t = _mm512_mask_mov_epi32(t, _mm512_cmpeq_epi32_mask(r, _mm512_set1_epi32(4)), b4);
        thr = _mm512_maskz_mov_epi32(over, t);
        __m512i gt = zero, below = zero, thr1 = _mm512_max_epi32(thr, one);
        for (int c = 0; c < nc; c++) {
            __m512i w = _mm512_loadu_si512(wbuf + 16 * c);
            gt = _mm512_mask_add_epi32(gt, _mm512_cmpgt_epi32_mask(w, thr), gt, one);
            below = _mm512_mask_add_epi32(below, _mm512_cmpgt_epi32_mask(thr1, w), below, one);
        }
        quota = _mm512_mask_sub_epi32(quota, over, kk, gt);
        __m512i ge = _mm512_sub_epi32(_mm512_set1_epi32(nc), below); /* #{w >= thr, w > 0} */
        exact = _mm512_cmpgt_epi32_mask(ge, kk) != 0;
    } else if (over) {
        __m512i kw0 = zero, kw1 = zero, kw2 = zero, kw3 = zero, kw4 = zero, kw5 = zero, kw6 = zero,
                kw7 = zero, kw8 = zero, kw9 = zero;
        for (int c = 0; c < nc; c++) {
            __m512i w = _mm512_loadu_si512(wbuf + 16 * c);
            NET_STEP(0);
            NET_STEP(1);
            NET_STEP(2);
            NET_STEP(3);
            NET_STEP(4);
            NET_STEP(5);
            NET_STEP(6);
            NET_STEP(7);
            NET_STEP(8);
            NET_STEP(9);
        }
        /* quota = K - #{kw[k] > kw9} */
        __m512i qk = kk;
        const __m512i kws[9] = {kw0, kw1, kw2, kw3, kw4, kw5, kw6, kw7, kw8};
        for (int k = 0; k < 9; k++)
            qk = _mm512_mask_sub_epi32(qk, _mm512_cmpgt_epi32_mask(kws[k], kw9), qk, one);
        /* lanes with at most K positive weights keep thr = 0, quota = K - count */
        thr = _mm512_maskz_mov_epi32(over, kw9);
        quota = _mm512_mask_mov_epi32(quota, over, qk);
        /* Excess ties: more weights >= thr (and > 0) than K in some lane. */
        __m512i below = zero, thr1 = _mm512_max_epi32(thr, one);
        for (int c = 0; c < nc; c++)
            below = _mm512_mask_add_epi32(
                below, _mm512_cmpgt_epi32_mask(thr1, _mm512_loadu_si512(wbuf + 16 * c)), below,
                one);
        __m512i ge = _mm512_sub_epi32(_mm512_set1_epi32(nc), below);
        exact = _mm512_cmpgt_epi32_mask(ge, kk) != 0;
    }
    /* Pass 2: include by the threshold/tie rule (image2d.h), accumulate in index order.
     * Without excess ties the rule reduces to w >= max(thr, smallest positive float). */
    const __m512 thrf = _mm512_castsi512_ps(thr);
    const __m512 thr1 = _mm512_castsi512_ps(_mm512_max_epi32(thr, one));
    __m512 sum = _mm512_setzero_ps(), acc0 = sum, acc1 = sum, acc2 = sum;
    const float *c0 = B->L->col[0], *c1 = B->L->col[1], *c2 = B->L->col[2];
    __m512i eq = zero;
    for (int c = 0; c < nc; c++) {
        __m512 w = _mm512_loadu_ps(wbuf + 16 * c);
        __mmask16 incl;
        if (!exact) {
            incl = _mm512_cmp_ps_mask(w, thr1, _CMP_GE_OQ);
        } else {
            __mmask16 gt = _mm512_cmp_ps_mask(w, thrf, _CMP_GT_OQ);
            __mmask16 eqm = _mm512_cmp_ps_mask(w, thrf, _CMP_EQ_OQ) &
                            _mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_GT_OQ);
            __mmask16 take = eqm & _mm512_cmpgt_epi32_mask(quota, eq);
            eq = _mm512_mask_add_epi32(eq, take, eq, one);
            incl = gt | take;
        }
        __m512 wi = _mm512_maskz_mov_ps(incl, w);
        int k = cand[c];
        sum = _mm512_add_ps(sum, wi);
        acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(wi, _mm512_set1_ps(c0[k])));
        if (C == 3) {
            acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(wi, _mm512_set1_ps(c1[k])));
            acc2 = _mm512_add_ps(acc2, _mm512_mul_ps(wi, _mm512_set1_ps(c2[k])));
        }
    }
    const __m512 acc[3] = {acc0, acc1, acc2};
    topk_store(B, out, sel, sum, acc, thr, quota, C);
}

AVX512 static inline void sum_block(const block *B, float *out, const int32_t *cand, int nc,
                                    const int C) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0;
    const float *c0 = B->L->col[0], *c1 = B->L->col[1], *c2 = B->L->col[2];
    for (int c = 0; c < nc; c++) {
        int k = cand[c];
        __m512 w = weight16(B, k);
        acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(w, _mm512_set1_ps(c0[k])));
        if (C == 3) {
            acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(w, _mm512_set1_ps(c1[k])));
            acc2 = _mm512_add_ps(acc2, _mm512_mul_ps(w, _mm512_set1_ps(c2[k])));
        }
    }
    __m512 v[3] = {acc0, acc1, acc2};
    store_block(B, out, v, C);
}

AVX512 static inline void tile_body(const cs__g2d_frame *f, int tile, float *out,
                                    const cs__g2d_sel *sel, float *scratch, const int C,
                                    const bool topk) {
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int nb = (x1 - x0 + BLOCK - 1) / BLOCK;
    local L;
    local_views(f, scratch, &L);
    load_local(f, tile, &L);
    const __m512i col = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    const __m512i row = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int by = y0; by < y1; by += BLOCK) {
        block B[BLOCKS];
        int rows = y1 - by < BLOCK ? y1 - by : BLOCK;
        for (int b = 0; b < nb; b++) {
            int bx = x0 + BLOCK * b;
            B[b].f = f;
            B[b].L = &L;
            B[b].bx = bx;
            B[b].by = by;
            B[b].rows = rows;
            B[b].cols = x1 - bx < BLOCK ? x1 - bx : BLOCK;
            /* (float)(a + i) + 0.5f, as the scalar kernel forms a pixel centre */
            B[b].px = _mm512_add_ps(
                _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(f->ox + bx), col)), half);
            B[b].py = _mm512_add_ps(
                _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(f->oy + by), row)), half);
            B[b].live = _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(B[b].cols)) &
                        _mm512_cmplt_epi32_mask(row, _mm512_set1_epi32(rows));
        }
        int nc[BLOCKS];
        block_row_candidates(f, &L, x0, by, rows, nb, nc);
        for (int b = 0; b < nb; b++) {
            if (topk)
                topk_block(&B[b], out, sel, L.cand[b], nc[b], C);
            else
                sum_block(&B[b], out, L.cand[b], nc[b], C);
        }
    }
}

AVX512 void cs__g2d_tile_avx512(const cs__g2d_frame *f, int tile, float *out,
                                const cs__g2d_sel *sel, float *scratch) {
    bool topk = f->rule == CS_GIMAGE_TOPK;
    if (!topk && !out) return;
    if (f->channels == 3) {
        if (topk)
            tile_body(f, tile, out, sel, scratch, 3, true);
        else
            tile_body(f, tile, out, sel, scratch, 3, false);
    } else {
        if (topk)
            tile_body(f, tile, out, sel, scratch, 1, true);
        else
            tile_body(f, tile, out, sel, scratch, 1, false);
    }
}

#else /* not x86-64 with GCC or clang: never selected, present so the symbol exists */

void cs__g2d_tile_avx512(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                         float *scratch) {
    cs__g2d_tile_scalar(f, tile, out, sel, scratch);
}

#endif
