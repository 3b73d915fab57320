/*
 * image2d_fit.c - fitting 2D Gaussians to a photo (cs_gimage_fit): initialisation, the training
 * loop (render -> loss -> backward -> Adam), error-guided progressive addition, the plateau stop
 * and the quantization-aware fine-tune.
 *
 * Following Image-GS (content-adaptive placement, error-guided addition) and GaussianImage
 * (Cholesky parameterisation, plain-sum rule):
 *   init      init_fraction of the budget; gradient_share of them sampled with probability
 *             proportional to the image's gradient magnitude (central differences summed over
 *             channels), the rest uniformly, each jittered inside its pixel. A Gaussian starts
 *             isotropic with sigma = 0.7 / sqrt(local density), the density being the sampling
 *             probability blurred over 9x9 pixels times the count (so sparse regions get wide
 *             Gaussians, busy ones narrow), and the colour of the pixel under it (SUM: divided by
 *             the expected overlap 2 pi 0.7^2 so the sum starts near the image).
 *   loss      L1 + 0.1 (1 - SSIM) (ssim.c) or L2, on the unclamped render.
 *   Adam      beta 0.9 / 0.999; learning rates per group (position in pixels, Cholesky, colour),
 *             constant for the first half, then cosine-decayed to 1/10 at `iters`.
 *   refine    every add_interval iterations (default iters/10): new Gaussians until the budget is
 *             reached (spread over the first 60% of the iterations) and, until 70%, the idle
 *             ones (mass below half a pixel, at most 5% at a time) relocated, all to pixels
 *             sampled by squared error of the last render, isotropic sigma of the current mean
 *             spacing / 2, colour = the target there (TOPK, whose blend is normalised) or the
 *             residual target - render (SUM). Uncovered pixels render black under TOPK and get
 *             no gradient; relocation is what fills them (kodim23: 124 such pixels held 40% of
 *             the squared error before it).
 *   patch     at the end (TOPK; after quantizing, when asked to quantize), idle Gaussians move onto
 *             pixels whose kept weights sum below 0.05 or that are uncovered (below).
 *   coverage  TOPK fits of 200 iterations or more train with a large normalisation guard until
 *             70% of the iterations, lowered to the file's by 90% (coverage_eps), so that no
 *             pixel is left uncovered.
 *   plateau   two windows after the last refinement and the coverage guard, the mean loss of each
 *             100-iteration window must improve by 0.05%, or the fit stops (desc->plateau = -1
 *             disables).
 *   fine-tune quantize-dequantize of every parameter in the forward, straight-through gradients
 *             to the float parameters, which are clamped to the quantization ranges fixed at its
 *             start; at the end the parameters are snapped to the grid, which cs_gimage_save
 *             then stores exactly. Adam's rate falls from the fit's final one (0.1 of the base)
 *             to 0 on a cosine: Adam's steps do not shrink with the gradient, so at a constant
 *             rate (0.3 of the base, before) the float parameters kept hopping across grid cells
 *             and the snapped end state was worse than no fine-tune (256x256 crop of kodim23, 700
 *             Gaussians, medium depths, L2, two seeds: -0.53 and -0.14 dB over plain snapping;
 *             the synthetic test image -0.1 to -1.8 dB). With the decay: +0.08 and +0.37 dB
 *             on that crop, +0.05 and +0.10 dB on kodim05's, +0.5 to +1.2 dB on the synthetic.
 * Determinism: the random stream is seeded by desc->seed and every reduction is per fixed chunk
 * (or per Gaussian-tile record), so a seed gives the same bits whatever the thread count.
 *
 * Not here: the gradients themselves (image2d_backward.c), rendering (image2d_render.c).
 */
#include "image2d.h"
#include "ssim.h"

#include <stdlib.h>
#include <time.h>

/* Defaults of cs_gimage_fit_desc. */
#define FIT_COUNT 10000
#define FIT_ITERS 600
#define FIT_INIT_FRACTION 0.7f
#define FIT_ADD_INTERVAL_DIV 10 /* default interval: iters / 10, at least 25 */
#define FIT_GRADIENT_SHARE 0.8f
#define FIT_SIGMA_SCALE 0.7
#define FIT_PLATEAU_WINDOW 100
#define FIT_PLATEAU_GAIN 5e-4

/* Learning rates: position in pixels per step, log-diagonal / off-diagonal Cholesky, colour.
 * Tuned on 256x256 crops of kodim01 and kodim23 at 700 Gaussians, 300 iterations, both losses:
 * covariance rates 4x these lose 1.5 dB (L1 + SSIM turns unstable), 1/4 of them 1-2 dB. */
#define LR_POSITION 0.05f
#define LR_LOG_DIAG 0.04f
#define LR_OFF_DIAG 0.08f
#define LR_COLOUR 0.01f

/* ---------------------------------------------------------------------------------------------
 * Small utilities
 */
typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rng_u32(rng *r) {
    uint64_t old = r->s;
    r->s = old * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t x = (uint32_t)(((old >> 18u) ^ old) >> 27u), rot = (uint32_t)(old >> 59u);
    return (x >> rot) | (x << ((32u - rot) & 31u));
}

static double rng_uniform(rng *r) {
    return (double)rng_u32(r) / 4294967296.0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sample a pixel index with probability proportional to weights, through the cumulative sums
 * cdf[P] (cdf[P-1] > 0). */
static int64_t sample_cdf(const double *cdf, int64_t n, double u) {
    double t = u * cdf[n - 1];
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---------------------------------------------------------------------------------------------
 * The fitter's state
 */
typedef struct idle {
    float mass;
    int64_t index;
} idle;
typedef struct fitter {
    cs_context *ctx;
    int W, H, C;
    int64_t P; /* pixels */
    cs_gimage_rule rule;
    cs_gimage_loss loss;
    int64_t cap, count;
    float *target;         /* [H, W, C] */
    float *render, *d_out; /* [H, W, C] */
    float *err;            /* [P] scratch map of the initialisation */
    float *mass;           /* [cap] each Gaussian's mass in the last backward */
    struct idle *idle;     /* [cap] scratch of the relocation */
    double *cdf;           /* [P] */
    /* parameters, gradients, Adam moments: 4 blocks of cap * (5 + C), each xy | chol | colour */
    float *block;
    cs_gimage_params p, grad, m1, m2;
    float *qblock; /* fine-tune: quantized copy of the parameters */
    cs_gimage_params qp;
    cs__g2d_frame frame;
    float *inst_grad;
    int64_t inst_cap;
    cs__g2d_sel sel; /* TOPK forward's per-pixel selection [P] */
    cs__ssim *ssim;
    double *chunk_sum; /* loss reduction partials */
    int64_t chunks;
    int adam_t;
    float eps; /* TOPK normalisation guard of the training renders (coverage_eps) */
    rng r;
} fitter;

static cs_gimage_params params_view(float *block, int64_t cap, int64_t count, int C) {
    size_t n = (size_t)cap;
    return (cs_gimage_params){count, C, block, block + 2 * n, block + 5 * n};
}

static void fitter_free(fitter *F) {
    cs__free(F->target);
    cs__free(F->render);
    cs__free(F->d_out);
    cs__free(F->err);
    cs__free(F->mass);
    cs__free(F->idle);
    cs__free(F->cdf);
    cs__free(F->block);
    cs__free(F->qblock);
    cs__free(F->inst_grad);
    cs__free(F->sel.thr);
    cs__free(F->sel.inv);
    cs__free(F->sel.quota);
    cs__free(F->chunk_sum);
    cs__ssim_destroy(F->ssim);
    cs__g2d_frame_free(&F->frame);
}

#define LOSS_GRAIN 16384 /* pixels per loss-reduction chunk */

static cs_status fitter_alloc(fitter *F, bool finetune) {
    cs_context *ctx = F->ctx;
    size_t px = (size_t)F->P, vals, bytes, pblock;
    if (!cs__mul_size(px, (size_t)F->C, &vals) || !cs__mul_size(vals, sizeof(float), &bytes) ||
        !cs__mul_size((size_t)F->cap, (size_t)(5 + F->C) * sizeof(float), &pblock))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage fit: %dx%d image overflows memory size",
                         F->W, F->H);
    F->target = cs__malloc(bytes);
    F->render = cs__malloc(bytes);
    F->d_out = cs__malloc(bytes);
    F->err = cs__malloc(px * sizeof(float));
    F->mass = cs__calloc((size_t)F->cap, sizeof(float));
    F->idle = cs__malloc((size_t)F->cap * sizeof *F->idle);
    F->cdf = cs__malloc(px * sizeof(double));
    F->block = cs__calloc(4, pblock);
    F->qblock = finetune ? cs__calloc(1, pblock) : NULL;
    F->sel.thr = cs__malloc(px * sizeof(float));
    F->sel.inv = cs__malloc(px * sizeof(float));
    F->sel.quota = cs__malloc(px);
    F->chunks = ((int64_t)px + LOSS_GRAIN - 1) / LOSS_GRAIN;
    F->chunk_sum = cs__calloc((size_t)F->chunks * 3, sizeof(double));
    if (!F->target || !F->render || !F->d_out || !F->err || !F->mass || !F->idle || !F->cdf ||
        !F->block || (finetune && !F->qblock) || !F->sel.thr || !F->sel.inv || !F->sel.quota ||
        !F->chunk_sum)
        return cs__alloc_error(ctx, "gimage fit", 4 * bytes + 4 * pblock);
    size_t floats = pblock / sizeof(float);
    F->p = params_view(F->block, F->cap, 0, F->C);
    F->grad = params_view(F->block + floats, F->cap, 0, F->C);
    F->m1 = params_view(F->block + 2 * floats, F->cap, 0, F->C);
    F->m2 = params_view(F->block + 3 * floats, F->cap, 0, F->C);
    if (finetune) F->qp = params_view(F->qblock, F->cap, 0, F->C);
    if (F->loss == CS_GIMAGE_LOSS_L1_SSIM) return cs__ssim_create(ctx, F->W, F->H, F->C, &F->ssim);
    return CS_OK;
}

static void set_count(fitter *F, int64_t n) {
    F->count = n;
    F->p.count = F->grad.count = F->m1.count = F->m2.count = F->qp.count = n;
}

/* ---------------------------------------------------------------------------------------------
 * Initialisation
 */

/* Gradient magnitude of the target into err (as a scratch map). */
static void gradient_magnitude(fitter *F, float *out) {
    int W = F->W, H = F->H, C = F->C;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int xl = x > 0 ? x - 1 : x, xr = x < W - 1 ? x + 1 : x;
            int yu = y > 0 ? y - 1 : y, yd = y < H - 1 ? y + 1 : y;
            float m = 0.0f;
            for (int c = 0; c < C; c++) {
                float gx = F->target[((size_t)y * W + xr) * C + c] -
                           F->target[((size_t)y * W + xl) * C + c];
                float gy = F->target[((size_t)yd * W + x) * C + c] -
                           F->target[((size_t)yu * W + x) * C + c];
                m += sqrtf(gx * gx + gy * gy);
            }
            out[(size_t)y * W + x] = m;
        }
}

/* In-place box blur of radius r (separable, clamped borders); tmp holds one map. */
static void box_blur(float *map, float *tmp, int W, int H, int r) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float s = 0.0f;
            int n = 0;
            for (int k = -r; k <= r; k++)
                if (x + k >= 0 && x + k < W) {
                    s += map[(size_t)y * W + x + k];
                    n++;
                }
            tmp[(size_t)y * W + x] = s / (float)n;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float s = 0.0f;
            int n = 0;
            for (int k = -r; k <= r; k++)
                if (y + k >= 0 && y + k < H) {
                    s += tmp[(size_t)(y + k) * W + x];
                    n++;
                }
            map[(size_t)y * W + x] = s / (float)n;
        }
}

/* Place Gaussian i at (x, y) with isotropic sigma and the colour of the pixel under it. */
static void place(fitter *F, int64_t i, double x, double y, double sigma, const float *colour,
                  float colour_scale) {
    F->p.xy[2 * i] = (float)x;
    F->p.xy[2 * i + 1] = (float)y;
    F->p.chol[3 * i] = (float)log(sigma);
    F->p.chol[3 * i + 1] = 0.0f;
    F->p.chol[3 * i + 2] = (float)log(sigma);
    for (int c = 0; c < F->C; c++) F->p.colour[i * F->C + c] = colour[c] * colour_scale;
    for (int k = 0; k < 2; k++) F->m1.xy[2 * i + k] = F->m2.xy[2 * i + k] = 0.0f;
    for (int k = 0; k < 3; k++) F->m1.chol[3 * i + k] = F->m2.chol[3 * i + k] = 0.0f;
    for (int c = 0; c < F->C; c++) F->m1.colour[i * F->C + c] = F->m2.colour[i * F->C + c] = 0.0f;
}

static double clamp_sigma(const fitter *F, double s) {
    double hi = 0.25 * (F->W > F->H ? F->W : F->H);
    if (hi < 0.5) hi = 0.5;
    return s < 0.4 ? 0.4 : s > hi ? hi : s;
}

static cs_status initialise(fitter *F, int64_t n, float gradient_share) {
    int64_t P = F->P;
    float *prob = F->err, *tmp = F->render;
    gradient_magnitude(F, prob);
    double total = 0.0;
    for (int64_t i = 0; i < P; i++) total += (double)prob[i];
    int64_t n_grad = total > 0.0 ? (int64_t)((double)n * (double)gradient_share + 0.5) : 0;
    /* Mixture density per pixel (expected Gaussians per pixel), blurred to a local density. */
    double acc = 0.0;
    for (int64_t i = 0; i < P; i++) {
        acc += (double)prob[i];
        F->cdf[i] = acc;
    }
    for (int64_t i = 0; i < P; i++) {
        double d = (double)(n - n_grad) / (double)P;
        if (n_grad) d += (double)n_grad * (double)prob[i] / total;
        prob[i] = (float)d;
    }
    box_blur(prob, tmp, F->W, F->H, 4);
    float scale = F->rule == CS_GIMAGE_SUM
                      ? (float)(1.0 / (2.0 * 3.14159265358979 * FIT_SIGMA_SCALE * FIT_SIGMA_SCALE))
                      : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        int64_t pix = i < n_grad ? sample_cdf(F->cdf, P, rng_uniform(&F->r))
                                 : (int64_t)(rng_uniform(&F->r) * (double)P);
        if (pix >= P) pix = P - 1;
        int px = (int)(pix % F->W), py = (int)(pix / F->W);
        double x = px + rng_uniform(&F->r), y = py + rng_uniform(&F->r);
        double density = (double)prob[pix];
        double sigma = clamp_sigma(F, FIT_SIGMA_SCALE / sqrt(density > 1e-12 ? density : 1e-12));
        place(F, i, x, y, sigma, F->target + (size_t)pix * F->C, scale);
    }
    set_count(F, n);
    return CS_OK;
}

/* Mass below which a Gaussian counts as idle (half a pixel's worth of colour), and the most that
 * one refinement relocates (a share of the count). */
#define IDLE_MASS 0.5f
#define RELOCATE_SHARE 0.05

/* Ascending mass; ties by index (deterministic). */
static int cmp_idle(const void *a, const void *b) {
    const idle *x = a, *y = b;
    if (x->mass != y->mass) return x->mass < y->mass ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Error-guided refinement: n_add new Gaussians (toward the budget) and, when relocate is set,
 * the idle ones moved, all to pixels sampled by squared error of the last render (uncovered
 * pixels, which render black and get no gradient, weigh heavily). A placed Gaussian is isotropic
 * with sigma = half the mean spacing, coloured by the target there (TOPK) or by the residual
 * target - render (SUM); its Adam state starts at zero. */
static void refine(fitter *F, int64_t n_add, bool relocate) {
    int64_t P = F->P, n_move = 0;
    int C = F->C;
    if (relocate) {
        int64_t limit = (int64_t)(RELOCATE_SHARE * (double)F->count);
        for (int64_t i = 0; i < F->count; i++)
            if (F->mass[i] < IDLE_MASS) F->idle[n_move++] = (idle){F->mass[i], i};
        qsort(F->idle, (size_t)n_move, sizeof *F->idle, cmp_idle);
        if (n_move > limit) n_move = limit;
    }
    if (n_add + n_move == 0) return;
    double acc = 0.0;
    for (int64_t i = 0; i < P; i++) {
        double e = 0.0;
        for (int c = 0; c < C; c++) {
            double d = (double)F->target[i * C + c] - (double)F->render[i * C + c];
            e += d * d;
        }
        acc += e;
        F->cdf[i] = acc;
    }
    if (!(acc > 0.0)) return;
    int64_t start = F->count;
    double sigma = clamp_sigma(F, 0.5 * sqrt((double)P / (double)(start + n_add)));
    for (int64_t k = 0; k < n_move + n_add; k++) {
        int64_t pix = sample_cdf(F->cdf, P, rng_uniform(&F->r));
        int px = (int)(pix % F->W), py = (int)(pix / F->W);
        float colour[3];
        for (int c = 0; c < C; c++) {
            float t = F->target[pix * C + c];
            colour[c] = F->rule == CS_GIMAGE_SUM ? t - F->render[pix * C + c] : t;
        }
        int64_t slot = k < n_move ? F->idle[k].index : start + (k - n_move);
        place(F, slot, px + rng_uniform(&F->r), py + rng_uniform(&F->r), sigma, colour, 1.0f);
    }
    set_count(F, start + n_add);
}

/* ---------------------------------------------------------------------------------------------
 * Loss: per-pixel gradient into d_out; sums per chunk (deterministic)
 */
typedef struct loss_job {
    fitter *F;
} loss_job;

static void loss_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    fitter *F = ((loss_job *)user)->F;
    int C = F->C;
    float inv = (float)(1.0 / ((double)F->P * C));
    float two_inv = 2.0f * inv;
    bool l2 = F->loss == CS_GIMAGE_LOSS_L2;
    /* Float partials per 64 values, summed into doubles: cheap and accurate enough for a loss
     * value (the gradient does not depend on it). */
    double abs_sum = 0.0, sq_sum = 0.0, clamp_sq = 0.0;
    for (int64_t i = begin * C; i < end * C;) {
        int64_t stop = i + 64 < end * C ? i + 64 : end * C;
        float a = 0.0f, q = 0.0f, cq = 0.0f;
        for (; i < stop; i++) {
            float r = F->render[i], t = F->target[i], d = r - t;
            float rc = r < 0.0f ? 0.0f : r > 1.0f ? 1.0f : r;
            float dc = rc - t;
            a += fabsf(d);
            q += d * d;
            cq += dc * dc;
            float sign = (float)(d > 0.0f) - (float)(d < 0.0f);
            F->d_out[i] = l2 ? two_inv * d : sign * inv;
        }
        abs_sum += (double)a;
        sq_sum += (double)q;
        clamp_sq += (double)cq;
    }
    double *s = F->chunk_sum + 3 * (begin / LOSS_GRAIN);
    s[0] = abs_sum;
    s[1] = sq_sum;
    s[2] = clamp_sq;
}

/* Loss of the current render, its gradient in d_out, and the clamped render's MSE. */
static double compute_loss(fitter *F, double *mse_clamped) {
    loss_job job = {F};
    cs__parallel_for(F->ctx, F->P, LOSS_GRAIN, loss_range, &job);
    double s[3] = {0, 0, 0};
    for (int64_t c = 0; c < F->chunks; c++)
        for (int k = 0; k < 3; k++) s[k] += F->chunk_sum[3 * c + k];
    double n = (double)F->P * F->C;
    *mse_clamped = s[2] / n;
    if (F->loss == CS_GIMAGE_LOSS_L2) return s[1] / n;
    double ssim = cs__ssim_eval(F->ctx, F->ssim, F->render, F->d_out, -0.1f);
    return s[0] / n + 0.1 * (1.0 - ssim);
}

/* ---------------------------------------------------------------------------------------------
 * Adam
 */
typedef struct adam_job {
    float *p, *g, *m, *v;
    float lr, bc1, bc2;
    const float *lo, *hi; /* optional per-column clamp, stride cols */
    int cols;
    bool log_diag_cols; /* chol: columns 0 and 2 use lr_diag, column 1 lr */
    float lr_diag;
} adam_job;

static void adam_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    adam_job *a = user;
    for (int64_t i = begin; i < end; i++) {
        float g = a->g[i];
        if (!isfinite(g)) g = 0.0f;
        float m = a->m[i] = 0.9f * a->m[i] + 0.1f * g;
        float v = a->v[i] = 0.999f * a->v[i] + 0.001f * g * g;
        int col = (int)(i % a->cols);
        float lr = a->log_diag_cols && col != 1 ? a->lr_diag : a->lr;
        float step = lr * (m / a->bc1) / (sqrtf(v / a->bc2) + 1e-8f);
        float x = a->p[i] - step;
        if (a->lo) {
            if (x < a->lo[col]) x = a->lo[col];
            if (x > a->hi[col]) x = a->hi[col];
        }
        a->p[i] = x;
    }
}

static void adam_step(fitter *F, float decay, const cs__gsi_quant *clamp) {
    F->adam_t++;
    float bc1 = 1.0f - powf(0.9f, (float)F->adam_t), bc2 = 1.0f - powf(0.999f, (float)F->adam_t);
    int64_t n = F->count;
    adam_job xy = {F->p.xy,
                   F->grad.xy,
                   F->m1.xy,
                   F->m2.xy,
                   LR_POSITION * decay,
                   bc1,
                   bc2,
                   clamp ? clamp->lo : NULL,
                   clamp ? clamp->hi : NULL,
                   2,
                   false,
                   0.0f};
    adam_job ch = {F->p.chol,
                   F->grad.chol,
                   F->m1.chol,
                   F->m2.chol,
                   LR_OFF_DIAG * decay,
                   bc1,
                   bc2,
                   clamp ? clamp->lo + 2 : NULL,
                   clamp ? clamp->hi + 2 : NULL,
                   3,
                   true,
                   LR_LOG_DIAG * decay};
    adam_job co = {F->p.colour,
                   F->grad.colour,
                   F->m1.colour,
                   F->m2.colour,
                   LR_COLOUR * decay,
                   bc1,
                   bc2,
                   clamp ? clamp->lo + 5 : NULL,
                   clamp ? clamp->hi + 5 : NULL,
                   F->C,
                   false,
                   0.0f};
    /* Float columns of a fine-tune are not clamped: their range entries are 0..0. */
    if (clamp && clamp->bits[0] == 32) xy.lo = xy.hi = NULL;
    if (clamp && clamp->bits[1] == 32) ch.lo = ch.hi = NULL;
    if (clamp && clamp->bits[2] == 32) co.lo = co.hi = NULL;
    cs__parallel_for(F->ctx, n * 2, 8192, adam_range, &xy);
    cs__parallel_for(F->ctx, n * 3, 8192, adam_range, &ch);
    cs__parallel_for(F->ctx, n * F->C, 8192, adam_range, &co);
}

/* ---------------------------------------------------------------------------------------------
 * One iteration: render `use`, loss, backward into F->grad
 */
static cs_status iterate(fitter *F, const cs_gimage_params *use, double *loss, double *mse) {
    cs_context *ctx = F->ctx;
    cs_status st =
        cs__g2d_prepare(ctx, &F->frame, use, F->rule, 1.0f, 1.0f, false, 0, 0, F->W, F->H);
    if (st == CS_OK) st = cs__g2d_bin(ctx, &F->frame);
    if (st != CS_OK) return st;
    F->frame.eps = F->eps;
    cs__g2d_forward(ctx, &F->frame, F->render, &F->sel);
    *loss = compute_loss(F, mse);
    int64_t need = F->frame.n_inst * (6 + F->C);
    if (need > F->inst_cap) {
        int64_t cap = need + need / 4 + 1024;
        float *ig = cs__malloc((size_t)cap * sizeof(float));
        if (!ig) return cs__alloc_error(ctx, "gimage fit", (size_t)cap * sizeof(float));
        cs__free(F->inst_grad);
        F->inst_grad = ig;
        F->inst_cap = cap;
    }
    cs__g2d_backward(ctx, &F->frame, use, 1.0f, 1.0f, F->d_out, F->render, &F->sel, F->inst_grad,
                     F->grad.xy, F->grad.chol, F->grad.colour, F->mass);
    return CS_OK;
}

/* Coverage patch, TOPK, at the end of the fit: a pixel whose kept weights sum below 0.05 hangs
 * on the edge of one distant Gaussian, and renders black (no gradient reaches it) once that
 * Gaussian drifts or is quantized a little smaller. The lowest-mass Gaussians move onto such
 * pixels, worst covered first (uncovered pixels may take Gaussians worth up to 2 pixels, weak
 * ones only idle Gaussians), isotropic with sigma 0.5 pixel and the target's colour, so the pixel
 * is covered by a weight near 1. kodim23, 10,000 Gaussians: 36 black pixels held 12%
 * of the squared error of the medium-quantized file before this patch. */
#define WEAK_SUM 0.05f
#define PATCH_SIGMA 0.5
#define HOLE_MASS 2.0f /* an uncovered pixel may take a Gaussian worth up to 2 pixels */

typedef struct weak {
    float sum;
    int64_t pixel;
} weak;

static int cmp_weak(const void *a, const void *b) {
    const weak *x = a, *y = b;
    if (x->sum != y->sum) return x->sum < y->sum ? -1 : 1;
    return x->pixel < y->pixel ? -1 : x->pixel > y->pixel;
}

static cs_status patch_coverage(fitter *F) {
    cs_context *ctx = F->ctx;
    cs_status st = cs__g2d_prepare(ctx, &F->frame, &F->p, F->rule, 1.0f, 1.0f, false, 0, 0, F->W,
                                   F->H);
    if (st == CS_OK) st = cs__g2d_bin(ctx, &F->frame);
    if (st != CS_OK) return st;
    cs__g2d_forward(ctx, &F->frame, F->render, &F->sel);
    /* inv = 1 / (sum + eps): sum < WEAK_SUM exactly when inv > 1 / (WEAK_SUM + eps) */
    float limit = 1.0f / (WEAK_SUM + CS_G2D_EPS);
    int64_t n_weak = 0, n_idle = 0;
    for (int64_t i = 0; i < F->P; i++) n_weak += F->sel.inv[i] > limit;
    for (int64_t i = 0; i < F->count; i++) n_idle += F->mass[i] < HOLE_MASS;
    if (!n_weak || !n_idle) return CS_OK;
    weak *w = cs__malloc((size_t)n_weak * sizeof *w);
    if (!w) return cs__alloc_error(ctx, "gimage fit", (size_t)n_weak * sizeof *w);
    n_weak = 0;
    for (int64_t i = 0; i < F->P; i++)
        if (F->sel.inv[i] > limit)
            w[n_weak++] = (weak){1.0f / F->sel.inv[i] - CS_G2D_EPS, i};
    qsort(w, (size_t)n_weak, sizeof *w, cmp_weak);
    n_idle = 0;
    for (int64_t i = 0; i < F->count; i++)
        if (F->mass[i] < HOLE_MASS) F->idle[n_idle++] = (idle){F->mass[i], i};
    qsort(F->idle, (size_t)n_idle, sizeof *F->idle, cmp_idle);
    int64_t n = 0;
    for (; n < n_weak && n < n_idle; n++) {
        /* an uncovered pixel (sum 0) may take a Gaussian of mass up to HOLE_MASS; a merely
         * weak one only an idle Gaussian */
        if (w[n].sum > 0.0f && F->idle[n].mass >= IDLE_MASS) break;
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t pix = w[k].pixel;
        place(F, F->idle[k].index, (double)(pix % F->W) + 0.5, (double)(pix / F->W) + 0.5,
              PATCH_SIGMA, F->target + pix * F->C, 1.0f);
        F->mass[F->idle[k].index] = IDLE_MASS; /* no longer idle */
    }
    cs__log(ctx, CS_LOG_DEBUG, "gimage fit: %lld weakly covered pixels, %lld patched",
            (long long)n_weak, (long long)n);
    cs__free(w);
    return CS_OK;
}

/* Coverage guard (TOPK): the training renders use a normalisation guard eps far above the file's
 * (CS_G2D_EPS) for the first COVER_HOLD of the iterations, then lower it geometrically to the
 * file's by COVER_END, and train on the file's rule after that. With the file's 1e-6, a pixel on
 * the edge of a single Gaussian gets that Gaussian's full colour, whatever the weight, so nothing
 * in the gradient keeps it covered; once the Gaussian drifts past 3 sigma the pixel renders black
 * and gets no gradient at all. Fits lost more and more pixels this way (kodim13, 5000 Gaussians,
 * L2: 1.1% black pixels holding 33% of the squared error after 500 iterations, 12% after 1500,
 * PSNR 20.7 -> 15.0 dB). With eps 0.5, thinly covered pixels render dark, so their loss pulls
 * weight onto them: 0.04% black after 1500 iterations, 21.6 dB with the same depths. (Tried on
 * kodim13 at 500 iterations: eps 0.05 22.0 dB, 0.2 22.3, 0.5 22.3, 1.0 22.2; 0.2 lost 0.7 dB
 * during the descent at 1500 iterations, 0.5 gained 0.25.) */
#define COVER_EPS 0.5
#define COVER_HOLD 0.7
#define COVER_END 0.9
#define COVER_MIN_ITERS 200 /* shorter fits leave too few steps to adapt to the file's rule */

static bool coverage_guard(cs_gimage_rule rule, int iters) {
    return rule == CS_GIMAGE_TOPK && iters >= COVER_MIN_ITERS;
}

static float coverage_eps(cs_gimage_rule rule, int it, int iters) {
    double t = (double)it / (double)iters;
    if (!coverage_guard(rule, iters) || t >= COVER_END) return CS_G2D_EPS;
    if (t <= COVER_HOLD) return (float)COVER_EPS;
    double f = (t - COVER_HOLD) / (COVER_END - COVER_HOLD);
    return (float)(COVER_EPS * pow((double)CS_G2D_EPS / COVER_EPS, f));
}

/* Learning-rate factor: 1 for the first half, then a cosine down to 0.1 at the end. */
static float lr_decay(int it, int iters) {
    double t = (double)it / (double)iters;
    if (t < 0.5) return 1.0f;
    return (float)(0.1 + 0.45 * (1.0 + cos(3.14159265358979 * (t - 0.5) / 0.5)));
}

static bool report(cs_gimage_progress_fn progress, void *user, int iter, int iters, int64_t count,
                   double loss, double mse, double t0, int finetune) {
    if (!progress) return false;
    cs_gimage_progress pr = {
        iter,    iters, count, loss, mse > 0.0 ? -10.0 * log10(mse) : 100.0, now_seconds() - t0,
        finetune};
    return progress(user, &pr) != 0;
}

/* Quantization-aware fine-tune (see the top of the file). */
static cs_status finetune(fitter *F, const int bits[3], int iters, cs__gsi_quant *qt,
                          cs_gimage_progress_fn progress, void *user, double t0) {
    cs__gsi_compute_ranges(&F->p, bits, qt);
    size_t floats = (size_t)F->cap * (size_t)(5 + F->C);
    double loss = 0.0, mse = 0.0;
    for (int it = 0; it < iters; it++) {
        memcpy(F->qblock, F->block, floats * sizeof(float));
        cs__gsi_snap(qt, F->qp.xy, F->qp.chol, F->qp.colour, F->count, F->C);
        cs_status st = iterate(F, &F->qp, &loss, &mse);
        if (st != CS_OK) return st;
        /* cosine from the fit's final rate (0.1 of the base) to 0 */
        double t = (double)it / (double)iters;
        adam_step(F, (float)(0.05 * (1.0 + cos(3.14159265358979 * t))), qt);
        if (((it + 1) % 50 == 0 || it + 1 == iters) &&
            report(progress, user, it + 1, iters, F->count, loss, mse, t0, 1))
            break;
    }
    cs__gsi_snap(qt, F->p.xy, F->p.chol, F->p.colour, F->count, F->C);
    return CS_OK;
}

static cs_status check_desc(cs_context *ctx, const cs_gimage_fit_desc *d) {
    if (d->count < 0 || d->iters < 0 || d->add_interval < 0 || d->finetune_iters < 0)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "gimage fit: negative count, iterations, interval or fine-tune steps");
    if (d->rule != CS_GIMAGE_TOPK && d->rule != CS_GIMAGE_SUM)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage fit: unknown rule %d", (int)d->rule);
    if (d->loss != CS_GIMAGE_LOSS_L1_SSIM && d->loss != CS_GIMAGE_LOSS_L2)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage fit: unknown loss %d", (int)d->loss);
    if (!(d->init_fraction >= 0.0f && d->init_fraction <= 1.0f) ||
        !(d->gradient_share >= -1.0f && d->gradient_share <= 1.0f))
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "gimage fit: init_fraction must be in [0, 1], gradient_share in [-1, 1]");
    return CS_OK;
}

cs_status cs_gimage_fit(cs_context *ctx, const cs_image *target, const cs_gimage_fit_desc *desc,
                        cs_gimage_progress_fn progress, void *user, cs_gimage **out) {
    *out = NULL;
    cs_gimage_fit_desc d = desc ? *desc : (cs_gimage_fit_desc){0};
    cs_status st = check_desc(ctx, &d);
    if (st != CS_OK) return st;
    if (!target || !target->data || target->width < 1 || target->height < 1 ||
        target->channels < 1 || target->channels > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "gimage fit: the target image is empty or has %d "
                         "channels",
                         target ? target->channels : 0);
    /* With bit depths named (or a fine-tune asked for), the result lands on their grid. */
    bool quantize = d.quant != NULL || d.finetune_iters > 0;
    int bits[3] = {0, 0, 0};
    if (quantize) {
        st = cs_gsi_options_bits(ctx, d.quant, target->width, target->height, bits);
        if (st != CS_OK) return st;
    }
    fitter F = {0};
    F.ctx = ctx;
    F.W = target->width;
    F.H = target->height;
    F.C = target->channels >= 3 ? 3 : 1;
    F.P = (int64_t)F.W * F.H;
    F.rule = d.rule;
    F.loss = d.loss;
    F.r.s = d.seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t budget = d.count ? d.count : FIT_COUNT;
    if (budget > F.P) {
        cs__log(ctx, CS_LOG_WARN, "gimage fit: %lld Gaussians for %lld pixels; using %lld",
                (long long)budget, (long long)F.P, (long long)F.P);
        budget = F.P;
    }
    if (budget > CS_G2D_MAX_COUNT)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage fit: %lld Gaussians exceed the limit %lld",
                         (long long)budget, (long long)CS_G2D_MAX_COUNT);
    int iters = d.iters ? d.iters : FIT_ITERS;
    int interval = d.add_interval ? d.add_interval : iters / FIT_ADD_INTERVAL_DIV;
    if (interval < 25) interval = 25;
    float init_fraction = d.init_fraction > 0.0f ? d.init_fraction : FIT_INIT_FRACTION;
    float share = d.gradient_share > 0.0f   ? d.gradient_share
                  : d.gradient_share < 0.0f ? 0.0f
                                            : FIT_GRADIENT_SHARE;
    F.cap = budget;
    st = fitter_alloc(&F, quantize);
    if (st != CS_OK) {
        fitter_free(&F);
        return st;
    }
    /* The target, reduced to gray (channel 0 of 1-2 channels) or RGB (first 3 of 3-4). */
    int src_c = target->channels;
    for (int64_t i = 0; i < F.P; i++)
        for (int c = 0; c < F.C; c++) F.target[i * F.C + c] = target->data[i * src_c + c];
    double t0 = now_seconds();
    int64_t n_init = (int64_t)((double)budget * (double)init_fraction + 0.5);
    if (n_init < 1) n_init = 1;
    int events = (int)(0.6 * iters / interval);
    if (interval >= iters) n_init = budget; /* no refinement will come: place everything now */
    if (events < 1) events = 1;
    int64_t per_event = (budget - n_init + events - 1) / events;
    initialise(&F, n_init, share);
    if (F.ssim) cs__ssim_set_reference(ctx, F.ssim, F.target);

    double loss = 0.0, mse = 0.0, window = 0.0, prev_window = -1.0;
    int last_add = 0;
    int guard_off = coverage_guard(F.rule, iters) ? (int)ceil(COVER_END * iters) : 0;
    for (int it = 0; it < iters; it++) {
        F.eps = coverage_eps(F.rule, it, iters);
        st = iterate(&F, &F.p, &loss, &mse);
        if (st != CS_OK) break;
        adam_step(&F, lr_decay(it, iters), NULL);
        /* Refine every interval: grow toward the budget; relocate idle Gaussians until 70% of
         * the iterations, so the end runs undisturbed with the decayed learning rate (a late
         * relocation costs more than it gains: 2.5 dB on a 256x256 crop of kodim23). */
        if ((it + 1) % interval == 0 && it + 1 < iters) {
            int64_t n_add = per_event < budget - F.count ? per_event : budget - F.count;
            bool relocate = it + 1 <= (int)(0.7 * iters);
            if (n_add > 0 || relocate) {
                refine(&F, n_add, relocate);
                last_add = it + 1;
            }
        }
        bool stop = false;
        window += loss;
        if ((it + 1) % FIT_PLATEAU_WINDOW == 0) {
            window /= FIT_PLATEAU_WINDOW;
            /* judged on losses of the file's rule: after the coverage guard is off */
            int settled = guard_off > last_add ? guard_off : last_add;
            if (d.plateau == 0 && F.count == budget &&
                it + 1 >= settled + 2 * FIT_PLATEAU_WINDOW && prev_window > 0.0 &&
                prev_window - window < FIT_PLATEAU_GAIN * prev_window)
                stop = true;
            prev_window = window;
            window = 0.0;
        }
        if ((it + 1) % 50 == 0 || it + 1 == iters || stop)
            stop |= report(progress, user, it + 1, iters, F.count, loss, mse, t0, 0);
        if (stop) break;
    }
    /* The fine-tune trains on the file's rule, also after a fit stopped inside the guard. */
    F.eps = CS_G2D_EPS;
    cs__gsi_quant qt;
    if (st == CS_OK && quantize) /* (0 steps: ranges fixed, parameters snapped) */
        st = finetune(&F, bits, d.finetune_iters, &qt, progress, user, t0);
    /* Patch the final model, once (idle Gaussians are few): quantization itself uncovers pixels,
     * so a quantized model is patched after snapping and the patch put back onto the grid. */
    if (st == CS_OK && F.rule == CS_GIMAGE_TOPK) {
        st = patch_coverage(&F);
        if (quantize) cs__gsi_snap(&qt, F.p.xy, F.p.chol, F.p.colour, F.count, F.C);
    }
    cs_gimage *g = NULL;
    if (st == CS_OK) st = cs__gimage_alloc(ctx, F.W, F.H, F.C, F.rule, F.count, &g);
    if (st == CS_OK) {
        size_t n = (size_t)F.count;
        memcpy(g->p.xy, F.p.xy, n * 2 * sizeof(float));
        memcpy(g->p.chol, F.p.chol, n * 3 * sizeof(float));
        memcpy(g->p.colour, F.p.colour, n * (size_t)F.C * sizeof(float));
        if (quantize) {
            g->has_quant = true;
            g->quant = qt;
        }
        *out = g;
    }
    fitter_free(&F);
    return st;
}
