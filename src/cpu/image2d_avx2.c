/*
 * image2d_avx2.c - the AVX2 tile kernel of 2D Gaussian images: 8 pixels of a tile row per
 * vector, one Gaussian at a time.
 *
 * It mirrors cs__g2d_tile_scalar (image2d_render.c) operation for operation so the two produce
 * bit-identical images: the same q (cs__g2d_q order), the same exp (cs__g2d_expq: exp2 with the
 * Cephes polynomial, exponent-bit scaling), unfused multiplies and adds (this file is built with
 * -mfma but uses no FMA intrinsic, and contraction is off: -std=c11 for GCC, the pragma below for
 * clang), and the same two-pass top-K selection (image2d.h): pass 1 runs the value network with
 * max/min on ten registers, pass 2 applies the threshold and tie quota per lane and accumulates
 * in index order. Per 8-pixel group, the Gaussians whose pixel box touches it are first
 * compacted without branches; a lane outside a Gaussian's box has q > 9 and weight 0, exactly
 * what the scalar kernel's per-pixel box test gives.
 *
 * Only called after cs__cpu_has_avx2() said yes (see cs__g2d_tile_kernel).
 */
#include "../image2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* cs__g2d_expq for 8 lanes. Lanes beyond the cut-off may hold huge q; their bits are garbage
 * but the caller masks them to 0. */
static inline __m256 expq8(__m256 q) {
    __m256 t = _mm256_mul_ps(q, _mm256_set1_ps(CS_G2D_QSCALE));
    __m256 n = _mm256_floor_ps(_mm256_add_ps(t, _mm256_set1_ps(0.5f)));
    __m256 x = _mm256_sub_ps(t, n);
    __m256 y = _mm256_set1_ps(1.535336188319500e-4f);
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(1.339887440266574e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(9.618437357674640e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(5.550332471162809e-2f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(2.402264791363012e-1f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(6.931472028550421e-1f));
    y = _mm256_mul_ps(y, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                      _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

/* Candidates (Gaussians whose ellipse reaches a group) are gathered CAND at a time. When a tile
 * lists at most CAND Gaussians (nearly always) one pass over the list serves both 8-pixel groups
 * of a row and the weights are kept for pass 2; otherwise each group streams the list in chunks
 * and pass 2 recomputes the weights (the same bits). */
#define CAND 256

typedef struct group {
    const cs__g2d_frame *f;
    int ay, axs, axe, lanes;
    __m256 px, py;
    float *o;                    /* output of lane 0, or NULL */
    const cs__g2d_sel *sel;      /* selection output, or NULL */
    size_t pix;                  /* window pixel index of lane 0 */
} group;

/* Candidates in [b, e) for one group; returns their count. */
static inline int compact(const group *G, int64_t b, int64_t e, int32_t *cand) {
    const cs__g2d_frame *f = G->f;
    float py = (float)G->ay + 0.5f, xl = (float)G->axs + 0.5f, xr = (float)G->axe + 0.5f;
    int n = 0;
    for (int64_t pos = b; pos < e; pos++) {
        cand[n] = (int32_t)pos;
        n += cs__g2d_reaches(f->cull + f->tile_gauss[pos], py, xl, xr);
    }
    return n;
}

/* Candidates in [b, e) for the two groups of a row in one pass. */
static inline void compact2(const group *G, int64_t b, int64_t e, int32_t (*cand)[CAND],
                            int *n) {
    const cs__g2d_frame *f = G[0].f;
    float py = (float)G[0].ay + 0.5f;
    float xl0 = (float)G[0].axs + 0.5f, xr0 = (float)G[0].axe + 0.5f;
    float xl1 = (float)G[1].axs + 0.5f, xr1 = (float)G[1].axe + 0.5f;
    int n0 = 0, n1 = 0;
    for (int64_t pos = b; pos < e; pos++) {
        const cs__g2d_cull *c = f->cull + f->tile_gauss[pos];
        float dy = py - c->gy;
        float hw2 = (CS_G2D_CUTOFF - dy * dy * c->inv_syy) * c->cvar + c->margin;
        float cx = c->gx + c->slope * dy;
        float d0 = xl0 - cx > cx - xr0 ? xl0 - cx : cx - xr0;
        float d1 = xl1 - cx > cx - xr1 ? xl1 - cx : cx - xr1;
        d0 = d0 > 0.0f ? d0 : 0.0f;
        d1 = d1 > 0.0f ? d1 : 0.0f;
        cand[0][n0] = cand[1][n1] = (int32_t)pos;
        n0 += d0 * d0 <= hw2;
        n1 += d1 * d1 <= hw2;
    }
    n[0] = n0;
    n[1] = n1;
}

/* Weights of Gaussian g at the group's 8 pixels (0 beyond the cut-off). */
static inline __m256 weight8(const group *G, int32_t g) {
    const cs__g2d_frame *f = G->f;
    __m256 dx = _mm256_sub_ps(G->px, _mm256_set1_ps(f->gx[g]));
    __m256 dy = _mm256_sub_ps(G->py, _mm256_set1_ps(f->gy[g]));
    __m256 t1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->ca[g]), dx), dx);
    __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->cc[g]), dy), dy);
    __m256 t3 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(f->cb[g]), dx), dy);
    __m256 q = _mm256_add_ps(_mm256_add_ps(t1, t2), _mm256_add_ps(t3, t3));
    __m256 in = _mm256_cmp_ps(q, _mm256_set1_ps(CS_G2D_CUTOFF), _CMP_LE_OQ);
    __m256 w = _mm256_mul_ps(_mm256_set1_ps(f->amp[g]), expq8(q));
    return _mm256_and_ps(w, in);
}

/* Pass-2 state of a top-K group. */
typedef struct pass2 {
    __m256 thr, thr1, sum, acc[3];
    __m256i quota, eq;
    bool exact; /* some lane has more weights equal to thr than the quota admits */
} pass2;

/* Pass 2 for one candidate: include by the threshold/tie rule (image2d.h) and accumulate in
 * index order. Without excess ties the rule reduces to w >= thr1 = max(thr, smallest positive
 * float), skipping the quota bookkeeping: same result. */
static inline __attribute__((always_inline)) void include(const group *G, pass2 *S, int32_t pos,
                                                          __m256 w, const int C) {
    const cs__g2d_frame *f = G->f;
    __m256 incl;
    if (!S->exact) {
        incl = _mm256_cmp_ps(w, S->thr1, _CMP_GE_OQ);
    } else {
        __m256 gt = _mm256_cmp_ps(w, S->thr, _CMP_GT_OQ);
        __m256 eqm = _mm256_and_ps(_mm256_cmp_ps(w, S->thr, _CMP_EQ_OQ),
                                   _mm256_cmp_ps(w, _mm256_setzero_ps(), _CMP_GT_OQ));
        __m256i take = _mm256_and_si256(_mm256_castps_si256(eqm),
                                        _mm256_cmpgt_epi32(S->quota, S->eq));
        S->eq = _mm256_sub_epi32(S->eq, take);
        incl = _mm256_or_ps(gt, _mm256_castsi256_ps(take));
    }
    __m256 wi = _mm256_and_ps(w, incl);
    S->sum = _mm256_add_ps(S->sum, wi);
    const float *c = f->colour + (size_t)f->tile_gauss[pos] * (size_t)C;
    for (int ch = 0; ch < C; ch++)
        S->acc[ch] = _mm256_add_ps(S->acc[ch], _mm256_mul_ps(wi, _mm256_set1_ps(c[ch])));
}

/* One step of the value network. Weights are non-negative floats (+0 when masked), whose bit
 * patterns order exactly as the values do, so integer max/min give the same result as the
 * scalar kernel's float comparisons. */
#define NET_STEP(k)                                                                               \
    do {                                                                                          \
        __m256i hi_ = _mm256_max_epi32(kw##k, w);                                                 \
        w = _mm256_min_epi32(kw##k, w);                                                           \
        kw##k = hi_;                                                                              \
    } while (0)
#define NET(w_in)                                                                                 \
    do {                                                                                          \
        __m256i w = (w_in);                                                                       \
        NET_STEP(0);                                                                              \
        NET_STEP(1);                                                                              \
        NET_STEP(2);                                                                              \
        NET_STEP(3);                                                                              \
        NET_STEP(4);                                                                              \
        NET_STEP(5);                                                                              \
        NET_STEP(6);                                                                              \
        NET_STEP(7);                                                                              \
        NET_STEP(8);                                                                              \
        NET_STEP(9);                                                                              \
    } while (0)
#define KW_DECLARE                                                                                \
    __m256i kw0 = _mm256_setzero_si256(), kw1 = kw0, kw2 = kw0, kw3 = kw0, kw4 = kw0, kw5 = kw0, \
            kw6 = kw0, kw7 = kw0, kw8 = kw0, kw9 = kw0
/* quota = K - #{kw[k] > kw9}: compare masks are -1, so adding them subtracts. */
#define KW_QUOTA(q)                                                                               \
    do {                                                                                          \
        q = _mm256_set1_epi32(CS_G2D_K);                                                          \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw0, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw1, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw2, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw3, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw4, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw5, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw6, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw7, kw9));                                    \
        q = _mm256_add_epi32(q, _mm256_cmpgt_epi32(kw8, kw9));                                    \
    } while (0)

static void pass2_begin(pass2 *S, __m256i thr, __m256i quota, bool exact) {
    S->thr = _mm256_castsi256_ps(thr);
    S->thr1 = _mm256_castsi256_ps(_mm256_max_epi32(thr, _mm256_set1_epi32(1)));
    S->quota = quota;
    S->eq = _mm256_setzero_si256();
    S->exact = exact;
    S->sum = _mm256_setzero_ps();
    S->acc[0] = S->acc[1] = S->acc[2] = _mm256_setzero_ps();
}

static void pass2_end(const group *G, const pass2 *S) {
    int C = G->f->channels;
    __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f),
                               _mm256_add_ps(S->sum, _mm256_set1_ps(CS_G2D_EPS)));
    if (G->o) {
        float la[3][8];
        for (int ch = 0; ch < C; ch++) _mm256_storeu_ps(la[ch], _mm256_mul_ps(S->acc[ch], inv));
        for (int l = 0; l < G->lanes; l++)
            for (int ch = 0; ch < C; ch++) G->o[l * C + ch] = la[ch][l];
    }
    if (G->sel) {
        float lt[8], li[8];
        int32_t lq[8];
        _mm256_storeu_ps(lt, S->thr);
        _mm256_storeu_ps(li, inv);
        _mm256_storeu_si256((__m256i *)lq, S->quota);
        for (int l = 0; l < G->lanes; l++) {
            G->sel->thr[G->pix + l] = lt[l];
            G->sel->inv[G->pix + l] = li[l];
            G->sel->quota[G->pix + l] = (int8_t)lq[l];
        }
    }
}

/* Top-K of a group whose candidates are all in cand (weights kept in wbuf). */
static inline __attribute__((always_inline)) void topk_candidates_c(const group *G,
                                                                   const int32_t *cand, int nc,
                                                                   const int C) {
    const cs__g2d_frame *f = G->f;
    _Alignas(32) float wbuf[CAND][8];
    __m256i cnt = _mm256_setzero_si256(), zero = _mm256_setzero_si256();
    for (int c = 0; c < nc; c++) {
        __m256 w = weight8(G, f->tile_gauss[cand[c]]);
        _mm256_store_ps(wbuf[c], w);
        cnt = _mm256_sub_epi32(cnt, _mm256_cmpgt_epi32(_mm256_castps_si256(w), zero));
    }
    /* Without selection thr = 0 and quota = K - count, as the scalar kernel stores them. */
    __m256i thr = zero, quota = _mm256_sub_epi32(_mm256_set1_epi32(CS_G2D_K), cnt);
    bool exact = false;
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(cnt, _mm256_set1_epi32(CS_G2D_K)))) {
        /* Some lane has more than K weights: select. Lanes with at most K end with thr = 0. */
        KW_DECLARE;
        for (int c = 0; c < nc; c++) NET(_mm256_load_si256((const __m256i *)wbuf[c]));
        /* lanes with at most K positive weights keep thr = 0, quota = K - count */
        __m256i over = _mm256_cmpgt_epi32(cnt, _mm256_set1_epi32(CS_G2D_K)), qk;
        KW_QUOTA(qk);
        thr = _mm256_and_si256(kw9, over);
        quota = _mm256_blendv_epi8(quota, qk, over);
        /* Excess ties: more weights >= thr (and > 0) than K in some lane. */
        __m256i below = zero, thr1 = _mm256_max_epi32(thr, _mm256_set1_epi32(1));
        for (int c = 0; c < nc; c++) {
            __m256i w = _mm256_load_si256((const __m256i *)wbuf[c]);
            below = _mm256_sub_epi32(below, _mm256_cmpgt_epi32(thr1, w));
        }
        __m256i ge = _mm256_sub_epi32(_mm256_set1_epi32(nc), below); /* #{w >= thr, w > 0} */
        exact = _mm256_movemask_epi8(_mm256_cmpgt_epi32(ge, _mm256_set1_epi32(CS_G2D_K))) != 0;
    }
    pass2 S;
    pass2_begin(&S, thr, quota, exact);
    for (int c = 0; c < nc; c++) include(G, &S, cand[c], _mm256_load_ps(wbuf[c]), C);
    pass2_end(G, &S);
}

static void topk_candidates(const group *G, const int32_t *cand, int nc) {
    if (G->f->channels == 3) topk_candidates_c(G, cand, nc, 3);
    else topk_candidates_c(G, cand, nc, 1);
}

/* Top-K of a group streaming a long tile list (more than CAND Gaussians): the general rule,
 * weights recomputed in pass 2. */
static void topk_stream(const group *G, int64_t b, int64_t e) {
    const cs__g2d_frame *f = G->f;
    int32_t cand[CAND];
    KW_DECLARE;
    __m256i cnt = _mm256_setzero_si256();
    for (int64_t cb = b; cb < e; cb += CAND) {
        int nc = compact(G, cb, cb + CAND < e ? cb + CAND : e, cand);
        for (int c = 0; c < nc; c++) {
            __m256i wc = _mm256_castps_si256(weight8(G, f->tile_gauss[cand[c]]));
            cnt = _mm256_sub_epi32(cnt, _mm256_cmpgt_epi32(wc, _mm256_setzero_si256()));
            NET(wc);
        }
    }
    __m256i over = _mm256_cmpgt_epi32(cnt, _mm256_set1_epi32(CS_G2D_K)), qk;
    KW_QUOTA(qk);
    __m256i quota = _mm256_blendv_epi8(_mm256_sub_epi32(_mm256_set1_epi32(CS_G2D_K), cnt), qk, over);
    pass2 S;
    pass2_begin(&S, _mm256_and_si256(kw9, over), quota, true);
    for (int64_t cb = b; cb < e; cb += CAND) {
        int nc = compact(G, cb, cb + CAND < e ? cb + CAND : e, cand);
        for (int c = 0; c < nc; c++)
            include(G, &S, cand[c], weight8(G, f->tile_gauss[cand[c]]), f->channels);
    }
    pass2_end(G, &S);
}

/* Plain sum over candidates. */
static void sum_candidates(const group *G, const int32_t *cand, int nc, __m256 *acc) {
    const cs__g2d_frame *f = G->f;
    int C = f->channels;
    for (int c = 0; c < nc; c++) {
        int32_t g = f->tile_gauss[cand[c]];
        __m256 w = weight8(G, g);
        const float *col = f->colour + (size_t)g * (size_t)C;
        for (int ch = 0; ch < C; ch++)
            acc[ch] = _mm256_add_ps(acc[ch], _mm256_mul_ps(w, _mm256_set1_ps(col[ch])));
    }
}

static void sum_group(const group *G, int64_t b, int64_t e, const int32_t *cand, int nc) {
    int C = G->f->channels;
    __m256 acc[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    if (cand) {
        sum_candidates(G, cand, nc, acc);
    } else {
        int32_t buf[CAND];
        for (int64_t cb = b; cb < e; cb += CAND)
            sum_candidates(G, buf, compact(G, cb, cb + CAND < e ? cb + CAND : e, buf), acc);
    }
    float la[3][8];
    for (int ch = 0; ch < C; ch++) _mm256_storeu_ps(la[ch], acc[ch]);
    for (int l = 0; l < G->lanes; l++)
        for (int ch = 0; ch < C; ch++) G->o[l * C + ch] = la[ch][l];
}

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel) {
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x, C = f->channels;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int64_t b = f->tile_off[tile], e = f->tile_off[tile + 1];
    bool topk = f->rule == CS_GIMAGE_TOPK, one_chunk = e - b <= CAND;
    int ng = x1 - x0 > 8 ? 2 : 1;
    if (!topk && !out) return;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int32_t cand[2][CAND];
    for (int y = y0; y < y1; y++) {
        group G[2];
        for (int k = 0; k < ng; k++) {
            int xs = x0 + 8 * k;
            G[k].f = f;
            G[k].ay = f->oy + y;
            G[k].axs = f->ox + xs;
            G[k].axe = G[k].axs + 7;
            G[k].lanes = x1 - xs < 8 ? x1 - xs : 8;
            G[k].pix = (size_t)y * (size_t)f->width + (size_t)xs;
            G[k].py = _mm256_set1_ps((float)G[k].ay + 0.5f);
            G[k].px = _mm256_add_ps(
                _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(G[k].axs), lane)),
                _mm256_set1_ps(0.5f));
            G[k].o = out ? out + ((size_t)y * (size_t)f->width + (size_t)xs) * (size_t)C : NULL;
            G[k].sel = sel;
        }
        int nc[2] = {0, 0};
        if (one_chunk) {
            if (ng == 2) compact2(G, b, e, cand, nc);
            else nc[0] = compact(&G[0], b, e, cand[0]);
        }
        for (int k = 0; k < ng; k++) {
            if (topk && one_chunk) topk_candidates(&G[k], cand[k], nc[k]);
            else if (topk) topk_stream(&G[k], b, e);
            else sum_group(&G[k], b, e, one_chunk ? cand[k] : NULL, nc[k]);
        }
    }
}

#else /* not x86-64: never selected, present so the symbol exists */

void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel) {
    cs__g2d_tile_scalar(f, tile, out, sel);
}

#endif
