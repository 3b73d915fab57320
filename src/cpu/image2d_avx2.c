/*
 * image2d_avx2.c - the AVX2 tile kernel of 2D Gaussian images: 8 pixels of a tile row per
 * vector, one Gaussian at a time.
 *
 * It mirrors cs__g2d_tile_scalar (image2d_render.c) operation for operation so the two produce
 * bit-identical images: the same q (cs__g2d_q order), the same exp (cs__g2d_expq: exp2 through
 * the shared cs_exp2_ps of simd_avx2.h, whose fused multiply-adds the scalar twin reproduces with
 * fmaf), otherwise unfused multiplies and adds (contraction is off: -std=c11 for GCC, the
 * pragma below for clang), and the same two-pass top-K selection (image2d.h): pass 1 computes
 * and keeps the weights and counts the positive ones per lane; only when some lane has more
 * than K it finds each lane's K-th largest weight with a value network (integer max/min):
 * five registers of the smallest weights when no lane has more than K + 4 (the usual case), else
 * ten of the largest; pass 2 applies the threshold and tie quota per lane and accumulates in
 * index order. Each row of a tile first packs, without branches, the Gaussians whose ellipse
 * reaches each of its 8-pixel groups; a lane a Gaussian does not reach has q > 9 and weight 0,
 * exactly what the scalar kernel's per-pixel test gives.
 *
 * Measured on a fitted kodim23 (10,000 Gaussians, 768x512), one thread, CPU time: 75.7 ms for
 * the first version (one pass with an index-carrying insertion network held in memory), 35.7 ms
 * with two passes, 21 ms with exact culling and exp2, 15 ms with exact binning and the tile-local
 * arrays below, 11.6 ms for the whole decode (file parse included) with the FMA exp of
 * simd_avx2.h, q from per-row scalar terms, the clamped RGB interleave in registers (it replaced
 * a separate clamp pass) and the shallow threshold network (a machine loaded 9-13, so these are
 * the minimum of 61 runs).
 *
 * Only called after cs__cpu_has_avx2() said yes (see cs__g2d_tile_kernel).
 */
#include "../image2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx2.h"
#include <pthread.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* cs__g2d_expq for 8 lanes: exp(-q/2) = 2^(q * QSCALE) by the shared cs_exp2_ps. Lanes beyond
 * the cut-off may hold huge q; their value is garbage but the caller masks them to 0. */
static inline __m256 expq8(__m256 q) {
    return cs_exp2_ps(_mm256_mul_ps(q, _mm256_set1_ps(CS_G2D_QSCALE)));
}

/* A tile's Gaussians are copied once into tile-local arrays (the worker's scratch, sized by the
 * frame's longest tile list); each row then finds its candidates (the Gaussians whose ellipse
 * reaches an 8-pixel group, cs__g2d_reaches in 8 lanes) and packs their local indices without
 * branches through a permutation table. Scratch is not 32-byte aligned: unaligned accesses. */
typedef struct local {
    int n; /* entries, padded to a multiple of 8 with entries that reach nothing */
    float *gx, *gy, *ca, *cb, *cc, *amp, *slope, *inv_syy, *cvar, *margin, *col[3];
    float *wbuf;      /* [n][8] pass-1 weights */
    int32_t *cand[2]; /* [n + 8] candidates of a row's two groups */
} local;

/* Views into scratch (cs__g2d_kscratch_floats(f->max_list) floats). Arrays are a multiple of 8
 * floats plus 24 apart, so equal entries of different arrays do not share an address modulo
 * 4 KiB (which stalls loads behind unrelated stores). */
static void local_views(const cs__g2d_frame *f, float *scratch, local *L) {
    size_t s = ((size_t)f->max_list + 7) / 8 * 8 + 24;
    float **arrays[] = {&L->gx,     &L->gy,     &L->ca,      &L->cb,   &L->cc,
                        &L->amp,    &L->slope,  &L->inv_syy, &L->cvar, &L->margin,
                        &L->col[0], &L->col[1], &L->col[2]};
    for (int k = 0; k < 13; k++) *arrays[k] = scratch + (size_t)k * s;
    L->wbuf = scratch + 13 * s;
    L->cand[0] = (int32_t *)(scratch + 21 * s);
    L->cand[1] = (int32_t *)(scratch + 22 * s + 8);
}

static void load_local(const cs__g2d_frame *f, int tile, local *L) {
    float *const arrays[13] = {L->gx,     L->gy,     L->ca,      L->cb,   L->cc,
                               L->amp,    L->slope,  L->inv_syy, L->cvar, L->margin,
                               L->col[0], L->col[1], L->col[2]};
    L->n = cs__g2d_load_tile(f, tile, 8, arrays);
}

/* For each 8-bit mask, the positions of its set bits packed to the front. */
static uint8_t pack_lut[256][8];
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

static void build_pack_lut(void) {
    for (int m = 0; m < 256; m++) {
        int n = 0;
        for (int b = 0; b < 8; b++)
            if (m & (1 << b)) pack_lut[m][n++] = (uint8_t)b;
        for (; n < 8; n++) pack_lut[m][n] = 0;
    }
}

void cs__g2d_avx2_init(void) {
    pthread_once(&pack_once, build_pack_lut);
}

/* Append the indices base + (set bits of m) to cand[*n] (which has 8 spare slots). */
static inline void pack(int32_t *cand, int *n, int m, __m256i base) {
    __m256i sel = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)pack_lut[m]));
    _mm256_storeu_si256((__m256i *)(cand + *n), _mm256_add_epi32(base, sel));
    *n += __builtin_popcount((unsigned)m);
}

typedef struct group {
    const cs__g2d_frame *f;
    const local *L;
    int lanes;
    __m256 px, py;
    float pys;              /* pixel-centre y of the row */
    float *o;               /* output of lane 0, or NULL */
    const cs__g2d_sel *sel; /* selection output, or NULL */
    size_t pix;             /* window pixel index of lane 0 */
    float xl, xr;           /* pixel centres of lanes 0 and 7 */
} group;

/* Candidates of a row's groups (1 or 2), local indices in L->cand[k][0 .. n[k]). */
static inline void row_candidates(const group *G, int ng, int *n) {
    const local *L = G[0].L;
    const __m256 py = G[0].py, zero = _mm256_setzero_ps(), cut = _mm256_set1_ps(CS_G2D_CUTOFF);
    const __m256 xl0 = _mm256_set1_ps(G[0].xl), xr0 = _mm256_set1_ps(G[0].xr);
    const __m256 xl1 = _mm256_set1_ps(ng > 1 ? G[1].xl : 0.0f);
    const __m256 xr1 = _mm256_set1_ps(ng > 1 ? G[1].xr : 0.0f);
    n[0] = n[1] = 0;
    for (int k = 0; k < L->n; k += 8) {
        /* the operations of cs__g2d_reaches, in 8 lanes */
        __m256 dy = _mm256_sub_ps(py, _mm256_loadu_ps(L->gy + k));
        __m256 hw2 =
            _mm256_mul_ps(_mm256_sub_ps(cut, _mm256_mul_ps(_mm256_mul_ps(dy, dy),
                                                           _mm256_loadu_ps(L->inv_syy + k))),
                          _mm256_loadu_ps(L->cvar + k));
        hw2 = _mm256_add_ps(hw2, _mm256_loadu_ps(L->margin + k));
        __m256 cx = _mm256_add_ps(_mm256_loadu_ps(L->gx + k),
                                  _mm256_mul_ps(_mm256_loadu_ps(L->slope + k), dy));
        __m256 d0 =
            _mm256_max_ps(_mm256_max_ps(_mm256_sub_ps(xl0, cx), _mm256_sub_ps(cx, xr0)), zero);
        __m256i base = _mm256_set1_epi32(k);
        pack(L->cand[0], &n[0],
             _mm256_movemask_ps(_mm256_cmp_ps(_mm256_mul_ps(d0, d0), hw2, _CMP_LE_OQ)), base);
        if (ng > 1) {
            __m256 d1 =
                _mm256_max_ps(_mm256_max_ps(_mm256_sub_ps(xl1, cx), _mm256_sub_ps(cx, xr1)), zero);
            pack(L->cand[1], &n[1],
                 _mm256_movemask_ps(_mm256_cmp_ps(_mm256_mul_ps(d1, d1), hw2, _CMP_LE_OQ)), base);
        }
    }
}

/* Weights of local Gaussian k at the group's 8 pixels (0 beyond the cut-off). q in the order of
 * cs__g2d_q: its terms in dy alone as scalars (the same float operations), then 4 in 8 lanes. */
static inline __m256 weight8(const group *G, int k) {
    const local *L = G->L;
    float dy = G->pys - L->gy[k];
    float b2 = L->cb[k] * dy;
    b2 = b2 + b2;
    float c = L->cc[k] * dy;
    c = c * dy;
    __m256 dx = _mm256_sub_ps(G->px, _mm256_set1_ps(L->gx[k]));
    __m256 e = _mm256_mul_ps(_mm256_set1_ps(L->ca[k]), dx);
    e = _mm256_mul_ps(_mm256_add_ps(e, _mm256_set1_ps(b2)), dx);
    __m256 q = _mm256_add_ps(e, _mm256_set1_ps(c));
    __m256 in = _mm256_cmp_ps(q, _mm256_set1_ps(CS_G2D_CUTOFF), _CMP_LE_OQ);
    __m256 w = _mm256_mul_ps(_mm256_set1_ps(L->amp[k]), expq8(q));
    return _mm256_and_ps(w, in);
}

/* One step of the value network. Weights are non-negative floats (+0 when masked), whose bit
 * patterns order exactly as the values do, so integer max/min give the same result as the
 * scalar kernel's float comparisons. */
#define NET_STEP(k)                                                                                \
    do {                                                                                           \
        __m256i hi_ = _mm256_max_epi32(kw##k, w);                                                  \
        w = _mm256_min_epi32(kw##k, w);                                                            \
        kw##k = hi_;                                                                               \
    } while (0)
#define NET(w_in)                                                                                  \
    do {                                                                                           \
        __m256i w = (w_in);                                                                        \
        NET_STEP(0);                                                                               \
        NET_STEP(1);                                                                               \
        NET_STEP(2);                                                                               \
        NET_STEP(3);                                                                               \
        NET_STEP(4);                                                                               \
        NET_STEP(5);                                                                               \
        NET_STEP(6);                                                                               \
        NET_STEP(7);                                                                               \
        NET_STEP(8);                                                                               \
        NET_STEP(9);                                                                               \
    } while (0)
/* One step of the network of the BOT smallest values (ascending b0 <= b1 <= ..), for lanes with
 * at most K + BOT positive weights (topk_group). */
#define BOT 5
#define BOT_STEP(b)                                                                                \
    do {                                                                                           \
        __m256i lo_ = _mm256_min_epi32(b, v);                                                      \
        v = _mm256_max_epi32(b, v);                                                                \
        b = lo_;                                                                                   \
    } while (0)
/* quota = K - #{kw[k] > kw9}: compare masks are -1, so adding them subtracts. */
#define KW_QUOTA(q)                                                                                \
    do {                                                                                           \
        q = _mm256_set1_epi32(CS_G2D_K);                                                           \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw0, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw1, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw2, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw3, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw4, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw5, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw6, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw7, kw9));                                     \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw8, kw9));                                     \
    } while (0)

/* Interleaved store of a group's C channels (v[ch], lane l = pixel l), clamped to [0, 1] as
 * cs__g2d_clamp01 when the frame asks (max(v, 0) returns its second operand, +0, for NaN and
 * -0). A full RGB group is shuffled in registers: output float j of vector k is channel
 * (8k + j) % 3 of pixel (8k + j) / 3. */
static inline __attribute__((always_inline)) void store_group(const group *G, __m256 *v,
                                                              const int C) {
    if (G->f->clamp)
        for (int ch = 0; ch < C; ch++)
            v[ch] = _mm256_min_ps(_mm256_max_ps(v[ch], _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
    if (C == 3 && G->lanes == 8) {
        const __m256i i0 = _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2);
        const __m256i i1 = _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5);
        const __m256i i2 = _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7);
        __m256 r, g, b;
        r = _mm256_permutevar8x32_ps(v[0], i0);
        g = _mm256_permutevar8x32_ps(v[1], i0);
        b = _mm256_permutevar8x32_ps(v[2], i0);
        _mm256_storeu_ps(G->o, _mm256_blend_ps(_mm256_blend_ps(r, g, 0x92), b, 0x24));
        r = _mm256_permutevar8x32_ps(v[0], i1);
        g = _mm256_permutevar8x32_ps(v[1], i1);
        b = _mm256_permutevar8x32_ps(v[2], i1);
        _mm256_storeu_ps(G->o + 8, _mm256_blend_ps(_mm256_blend_ps(r, g, 0x24), b, 0x49));
        r = _mm256_permutevar8x32_ps(v[0], i2);
        g = _mm256_permutevar8x32_ps(v[1], i2);
        b = _mm256_permutevar8x32_ps(v[2], i2);
        _mm256_storeu_ps(G->o + 16, _mm256_blend_ps(_mm256_blend_ps(r, g, 0x49), b, 0x92));
        return;
    }
    if (C == 1 && G->lanes == 8) {
        _mm256_storeu_ps(G->o, v[0]);
        return;
    }
    float la[3][8];
    for (int ch = 0; ch < C; ch++) _mm256_storeu_ps(la[ch], v[ch]);
    for (int l = 0; l < G->lanes; l++)
        for (int ch = 0; ch < C; ch++) G->o[l * C + ch] = la[ch][l];
}

/* Output and selection of a top-K group. */
static inline __attribute__((always_inline)) void
topk_store(const group *G, __m256 sum, const __m256 *acc, __m256i thr, __m256i quota, const int C) {
    __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(sum, _mm256_set1_ps(G->f->eps)));
    if (G->o) {
        __m256 v[3];
        for (int ch = 0; ch < C; ch++) v[ch] = _mm256_mul_ps(acc[ch], inv);
        store_group(G, v, C);
    }
    if (G->sel) {
        int32_t lq[8];
        _mm256_storeu_si256((__m256i *)lq, quota);
        if (G->lanes == 8) {
            _mm256_storeu_ps(G->sel->thr + G->pix, _mm256_castsi256_ps(thr));
            _mm256_storeu_ps(G->sel->inv + G->pix, inv);
        } else {
            float lt[8], li[8];
            _mm256_storeu_ps(lt, _mm256_castsi256_ps(thr));
            _mm256_storeu_ps(li, inv);
            for (int l = 0; l < G->lanes; l++) {
                G->sel->thr[G->pix + l] = lt[l];
                G->sel->inv[G->pix + l] = li[l];
            }
        }
        for (int l = 0; l < G->lanes; l++) G->sel->quota[G->pix + l] = (int8_t)lq[l];
    }
}

/* Top-K of a group: pass 1 keeps the weights and counts positive ones per lane; the network
 * runs only when some lane has more than K; pass 2 includes and accumulates. */
static inline __attribute__((always_inline)) void topk_group(const group *G, const int32_t *cand,
                                                             int nc, const int C) {
    float *wbuf = G->L->wbuf;
    __m256i cnt = _mm256_setzero_si256(), zero = _mm256_setzero_si256();
    for (int c = 0; c < nc; c++) {
        __m256 w = weight8(G, cand[c]);
        _mm256_storeu_ps(wbuf + 8 * c, w);
        cnt = _mm256_sub_epi32(cnt, _mm256_cmpgt_epi32(_mm256_castps_si256(w), zero));
    }
    /* Without selection thr = 0 and quota = K - count, as the scalar kernel stores them. */
    __m256i thr = zero, quota = _mm256_sub_epi32(_mm256_set1_epi32(CS_G2D_K), cnt);
    bool exact = false;
    __m256i over = _mm256_cmpgt_epi32(cnt, _mm256_set1_epi32(CS_G2D_K));
    int any_over = _mm256_movemask_epi8(over);
    if (any_over &&
        !_mm256_movemask_epi8(_mm256_cmpgt_epi32(cnt, _mm256_set1_epi32(CS_G2D_K + BOT - 1)))) {
        /* Every lane has at most K + BOT - 1 positive weights: its K-th largest is its
         * (count - K + 1)-th smallest positive one, which a BOT-deep network of the smallest
         * values finds (zeros enter as the largest integer, so they sort last). Same value as
         * the full network's kw9; the quota follows from #{w > thr} = K - quota. */
        const __m256i big = _mm256_set1_epi32(INT32_MAX);
        __m256i b0 = big, b1 = big, b2 = big, b3 = big, b4 = big;
        for (int c = 0; c < nc; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(wbuf + 8 * c));
            v = _mm256_blendv_epi8(v, big, _mm256_cmpeq_epi32(v, zero));
            BOT_STEP(b0);
            BOT_STEP(b1);
            BOT_STEP(b2);
            BOT_STEP(b3);
            BOT_STEP(b4);
        }
        /* 0-based rank r = count - K among the smallest: 1 .. BOT - 1 for lanes over K */
        __m256i r = _mm256_sub_epi32(cnt, _mm256_set1_epi32(CS_G2D_K));
        __m256i t = _mm256_and_si256(_mm256_cmpeq_epi32(r, _mm256_set1_epi32(1)), b1);
        t = _mm256_or_si256(t, _mm256_and_si256(_mm256_cmpeq_epi32(r, _mm256_set1_epi32(2)), b2));
        t = _mm256_or_si256(t, _mm256_and_si256(_mm256_cmpeq_epi32(r, _mm256_set1_epi32(3)), b3));
        t = _mm256_or_si256(t, _mm256_and_si256(_mm256_cmpeq_epi32(r, _mm256_set1_epi32(4)), b4));
        thr = _mm256_and_si256(t, over);
        __m256i gt = zero, below = zero, thr1 = _mm256_max_epi32(thr, _mm256_set1_epi32(1));
        for (int c = 0; c < nc; c++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(wbuf + 8 * c));
            gt = _mm256_sub_epi32(gt, _mm256_cmpgt_epi32(w, thr));
            below = _mm256_sub_epi32(below, _mm256_cmpgt_epi32(thr1, w));
        }
        quota = _mm256_blendv_epi8(quota, _mm256_sub_epi32(_mm256_set1_epi32(CS_G2D_K), gt), over);
        __m256i ge = _mm256_sub_epi32(_mm256_set1_epi32(nc), below); /* #{w >= thr, w > 0} */
        exact = _mm256_movemask_epi8(_mm256_cmpgt_epi32(ge, _mm256_set1_epi32(CS_G2D_K))) != 0;
    } else if (any_over) {
        __m256i kw0 = zero, kw1 = zero, kw2 = zero, kw3 = zero, kw4 = zero, kw5 = zero, kw6 = zero,
                kw7 = zero, kw8 = zero, kw9 = zero, qk;
        for (int c = 0; c < nc; c++) NET(_mm256_loadu_si256((const __m256i *)(wbuf + 8 * c)));
        KW_QUOTA(qk);
        /* lanes with at most K positive weights keep thr = 0, quota = K - count */
        thr = _mm256_and_si256(kw9, over);
        quota = _mm256_blendv_epi8(quota, qk, over);
        /* Excess ties: more weights >= thr (and > 0) than K in some lane. */
        __m256i below = zero, thr1 = _mm256_max_epi32(thr, _mm256_set1_epi32(1));
        for (int c = 0; c < nc; c++)
            below = _mm256_sub_epi32(
                below,
                _mm256_cmpgt_epi32(thr1, _mm256_loadu_si256((const __m256i *)(wbuf + 8 * c))));
        __m256i ge = _mm256_sub_epi32(_mm256_set1_epi32(nc), below); /* #{w >= thr, w > 0} */
        exact = _mm256_movemask_epi8(_mm256_cmpgt_epi32(ge, _mm256_set1_epi32(CS_G2D_K))) != 0;
    }
    /* Pass 2: include by the threshold/tie rule (image2d.h), accumulate in index order.
     * Without excess ties the rule reduces to w >= thr1 = max(thr, smallest positive float),
     * skipping the quota bookkeeping: the same result. */
    const __m256 thrf = _mm256_castsi256_ps(thr);
    const __m256 thr1 = _mm256_castsi256_ps(_mm256_max_epi32(thr, _mm256_set1_epi32(1)));
    __m256 sum = _mm256_setzero_ps(), acc0 = sum, acc1 = sum, acc2 = sum;
    const float *c0 = G->L->col[0], *c1 = G->L->col[1], *c2 = G->L->col[2];
    __m256i eq = zero;
    for (int c = 0; c < nc; c++) {
        __m256 w = _mm256_loadu_ps(wbuf + 8 * c), incl;
        if (!exact) {
            incl = _mm256_cmp_ps(w, thr1, _CMP_GE_OQ);
        } else {
            __m256 gt = _mm256_cmp_ps(w, thrf, _CMP_GT_OQ);
            __m256 eqm = _mm256_and_ps(_mm256_cmp_ps(w, thrf, _CMP_EQ_OQ),
                                       _mm256_cmp_ps(w, _mm256_setzero_ps(), _CMP_GT_OQ));
            __m256i take =
                _mm256_and_si256(_mm256_castps_si256(eqm), _mm256_cmpgt_epi32(quota, eq));
            eq = _mm256_sub_epi32(eq, take);
            incl = _mm256_or_ps(gt, _mm256_castsi256_ps(take));
        }
        __m256 wi = _mm256_and_ps(w, incl);
        int k = cand[c];
        sum = _mm256_add_ps(sum, wi);
        /* channels unrolled by hand: GCC -O2 keeps a 3-trip loop over memory otherwise */
        acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(wi, _mm256_set1_ps(c0[k])));
        if (C == 3) {
            acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(wi, _mm256_set1_ps(c1[k])));
            acc2 = _mm256_add_ps(acc2, _mm256_mul_ps(wi, _mm256_set1_ps(c2[k])));
        }
    }
    const __m256 acc[3] = {acc0, acc1, acc2};
    topk_store(G, sum, acc, thr, quota, C);
}

static inline __attribute__((always_inline)) void sum_group(const group *G, const int32_t *cand,
                                                            int nc, const int C) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0;
    const float *c0 = G->L->col[0], *c1 = G->L->col[1], *c2 = G->L->col[2];
    for (int c = 0; c < nc; c++) {
        int k = cand[c];
        __m256 w = weight8(G, k);
        acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(w, _mm256_set1_ps(c0[k])));
        if (C == 3) {
            acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(w, _mm256_set1_ps(c1[k])));
            acc2 = _mm256_add_ps(acc2, _mm256_mul_ps(w, _mm256_set1_ps(c2[k])));
        }
    }
    __m256 v[3] = {acc0, acc1, acc2};
    store_group(G, v, C);
}

static inline __attribute__((always_inline)) void tile_body(const cs__g2d_frame *f, int tile,
                                                            float *out, const cs__g2d_sel *sel,
                                                            float *scratch, const int C,
                                                            const bool topk) {
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int ng = x1 - x0 > 8 ? 2 : 1;
    local L;
    local_views(f, scratch, &L);
    load_local(f, tile, &L);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int y = y0; y < y1; y++) {
        group G[2];
        for (int k = 0; k < ng; k++) {
            int xs = x0 + 8 * k, axs = f->ox + xs;
            G[k].f = f;
            G[k].L = &L;
            G[k].lanes = x1 - xs < 8 ? x1 - xs : 8;
            G[k].pys = (float)(f->oy + y) + 0.5f;
            G[k].py = _mm256_set1_ps(G[k].pys);
            G[k].px =
                _mm256_add_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(axs), lane)),
                              _mm256_set1_ps(0.5f));
            G[k].xl = (float)axs + 0.5f;
            G[k].xr = (float)axs + 7.5f;
            G[k].o = out ? out + ((size_t)y * (size_t)f->width + (size_t)xs) * (size_t)C : NULL;
            G[k].sel = sel;
            G[k].pix = (size_t)y * (size_t)f->width + (size_t)xs;
        }
        int nc[2];
        row_candidates(G, ng, nc);
        for (int k = 0; k < ng; k++) {
            if (topk)
                topk_group(&G[k], L.cand[k], nc[k], C);
            else
                sum_group(&G[k], L.cand[k], nc[k], C);
        }
    }
}

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                       float *scratch) {
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

#else /* not x86-64: never selected, present so the symbol exists */

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                       float *scratch) {
    cs__g2d_tile_scalar(f, tile, out, sel, scratch);
}

void cs__g2d_avx2_init(void) {
}

#endif
