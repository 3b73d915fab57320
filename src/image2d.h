/*
 * image2d.h - internals of 2D Gaussian images (cs_gimage): the parameter storage, the render
 * frame (per-Gaussian preparation, tile binning, per-tile scratch) shared by the renderer
 * (image2d_render.c, cpu/image2d_avx2.c, cpu/image2d_avx512.c), the fitter (image2d_fit.c) and the
 * .gsi codec (io_gsi.c).
 *
 * Model (see include/csplat.h): Gaussian i has a mean mu (pixels of the fitted image), a Cholesky
 * factor L = [[exp(c0), 0], [c1, exp(c2)]], Sigma = L L^T, and a colour c_i (C = 1 or 3). The
 * renderer works in *output* pixels: for a render of scale (sx, sy) the Gaussian becomes
 *     mu' = S mu,   Sigma' = S Sigma S + F,   amplitude a = sqrt(det(S Sigma S) / det Sigma'),
 * with S = diag(sx, sy) and F = diag(fx, fy) the footprint of one output pixel. An output pixel
 * should be the average of the image over its area, a box of width 1 output pixel, whose
 * variance is 1/12 output pixels^2; the fitted image already holds the average over its own
 * source pixels, a box of variance 1/12 source pixels^2 = sx^2/12 output pixels^2; variances of
 * convolved filters add, so the filter still missing has variance f = (1 - sx^2) / 12 when
 * sx < 1 (0 when upscaling), and it is applied as a Gaussian of that variance, which convolves
 * into Sigma' exactly. The amplitude keeps each Gaussian's integral, so widening blurs instead
 * of brightening. (tests/test_image2d.c checks that stripes above the output's Nyquist rate
 * average out at 1/4 scale where point sampling aliases.)
 * At an output pixel centre p the weight is
 *     q = d^T Sigma'^-1 d,  d = p - mu',   w = a exp(-q/2) if q <= 9 else 0   (3-sigma cut-off),
 * held in "conic" form Sigma'^-1 = [[ca, cb], [cb, cc]], q = ca dx^2 + 2 cb dx dy + cc dy^2.
 * The same cut-off (q <= 9, tested on the float q) is used by forward, backward and the float64
 * reference, so tiling never changes a result: a Gaussian is binned to every 16x16 tile its
 * axis-aligned 3-sigma box (half sizes 3 sqrt(Sigma'_xx), 3 sqrt(Sigma'_yy), plus one pixel of
 * margin against rounding) touches, which covers its whole q <= 9 ellipse. For a box three or
 * more tiles wide, binning is exact per row of tiles: a tile is listed only when the ellipse's x
 * extent over that tile row (through the ellipse's extreme points, or the band's nearer edge)
 * reaches it. (An extra tile in a list only adds weights of 0.)
 *
 * Rules: TOPK keeps each pixel's K = 10 largest weights (ties keep the lower index) and outputs
 * sum(w c) / (sum(w) + eps); SUM outputs sum(w c) over every Gaussian. Per pixel, Gaussians are
 * visited in index order in both, whatever the tiling, so crops, thread counts and the SIMD and
 * scalar kernels give bit-identical results: the kernels use the same operation sequence (mul
 * and add, never fused, except inside the exp, whose FMAs the scalar twin reproduces with fmaf),
 * the same exp polynomial (cs__g2d_expq = cs_exp2_ps) and the same two-pass top-K
 * selection (below), and both sum the kept weights and colours in index order.
 *
 * Deliberately not here: any opacity (weights are the only blending), depth order, gradients
 * through the footprint filter (fitting renders at scale 1 or a plain scale without footprint).
 */
#ifndef CSPLAT_IMAGE2D_H
#define CSPLAT_IMAGE2D_H

#include "internal.h"

#include <math.h>
#include <string.h>

#define CS_G2D_K 10    /* top-K blend size */
#define CS_G2D_TILE 16 /* tile side in pixels */
#define CS_G2D_TILE_PIXELS (CS_G2D_TILE * CS_G2D_TILE)
#define CS_G2D_CUTOFF 9.0f                  /* q beyond which a weight is 0 (3 sigma) */
#define CS_G2D_EPS 1e-6f                    /* normalisation guard of the top-K rule */
#define CS_G2D_MAX_COUNT ((int64_t)1 << 28) /* Gaussians per image (indices are int32) */

/* ---------------------------------------------------------------------------------------------
 * The image: parameters SoA in one block, xy [N,2] | chol [N,3] | colour [N,C].
 */
typedef struct cs__gsi_quant {
    int bits[3];        /* position, Cholesky, colour: 1..16, or 32 = float */
    float lo[8], hi[8]; /* ranges: x, y, c0, c1, c2, colour 0..C-1 */
} cs__gsi_quant;

struct cs_gimage {
    int width, height, channels;
    cs_gimage_rule rule;
    int64_t count;
    float *block;
    cs_gimage_params p;
    /* Set by the quantization-aware fine-tune (values lie on this grid) or by loading a file. */
    bool has_quant;
    cs__gsi_quant quant;
    int zstd;
    int64_t file_bytes;
};

/* Number of quantization ranges for C channels: x, y, c0, c1, c2 and one per channel. */
static inline int cs__gsi_ranges(int channels) {
    return 5 + channels;
}

/* Allocate an image with parameters zeroed (internal form of cs_gimage_create). */
cs_status cs__gimage_alloc(cs_context *ctx, int width, int height, int channels,
                           cs_gimage_rule rule, int64_t count, cs_gimage **out);

/* Quantization (io_gsi.c, and the fitter's fine-tune, which must land on the same grid): a value
 * v in [lo, hi] with b bits is stored as q = round((v - lo) / step), step = (hi - lo) / (2^b - 1),
 * and read back as lo + q * step, both in float exactly as written here. */
static inline float cs__gsi_step(float lo, float hi, int bits) {
    return (hi - lo) / (float)((1u << bits) - 1u);
}
static inline uint32_t cs__gsi_quantize(float v, float lo, float step, int bits) {
    uint32_t top = (1u << bits) - 1u;
    if (!(step > 0.0f)) return 0;
    float t = (v - lo) / step + 0.5f;
    if (!(t >= 0.0f)) return 0; /* also NaN */
    if (t >= (float)top) return top;
    return (uint32_t)t;
}
static inline float cs__gsi_dequantize(uint32_t q, float lo, float step) {
    return lo + (float)q * step;
}
/* Ranges of the current parameters for the given bit depths (lo = min, hi = max per column;
 * float columns keep 0, 0). */
void cs__gsi_compute_ranges(const cs_gimage_params *p, const int bits[3], cs__gsi_quant *out);
/* Round every quantized column of params (count x each group) to its grid in place. */
void cs__gsi_snap(const cs__gsi_quant *qt, float *xy, float *chol, float *colour, int64_t count,
                  int channels);

/* Parse a .gsi held in memory (the fuzzers' entry point); name is used in messages. Never reads
 * outside [data, data + len). */
cs_status cs__gsi_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_gimage **out);

/* ---------------------------------------------------------------------------------------------
 * The render frame: a width x height window of the output starting at output pixel (ox, oy).
 * Its scratch grows on demand and is reused across renders (hot loops never allocate).
 */
/* Exact row extent of a Gaussian's q <= 9 ellipse, for culling in the AVX2 kernel: at output
 * row centre py (dy = py - gy) the ellipse spans x = gx + slope dy +- sqrt(hw2),
 * hw2 = (9 - dy^2 inv_syy) cvar (x given y is Gaussian: mean gx + Sxy/Syy dy, variance
 * det/Syy). margin widens the test by 0.1% of the widest hw2 (+0.001 px^2), far more than the
 * float rounding of q, so culling never drops a pixel that has q <= 9. */
typedef struct cs__g2d_cull {
    float gx, gy, slope, inv_syy, cvar, margin;
} cs__g2d_cull;

/* Per Gaussian, in double, for the exact binning (cs__g2d_bin): centre, x and y half extents of
 * the q <= 9 ellipse (3 sqrt(Sxx), 3 sqrt(Syy)), and dy_r = 3 Sxy / sqrt(Sxx), the row offset
 * of its rightmost point (the leftmost is at -dy_r). */
typedef struct cs__g2d_shape {
    double gx, gy, rx, ry, dy_r, slope, inv_syy, cvar;
} cs__g2d_shape;

typedef struct cs__g2d_frame {
    /* window and model */
    int width, height, ox, oy, channels;
    cs_gimage_rule rule;
    int tiles_x, tiles_y;
    int64_t count;
    bool clamp; /* kernels store outputs clamped to [0, 1] (cs__g2d_clamp01); prepare clears it */
    float eps;  /* TOPK normalisation guard: prepare sets the file's CS_G2D_EPS; the fitter
                   raises it while training (coverage guard, image2d_fit.c) */
    /* per Gaussian, prepared in output pixels [N] */
    float *gx, *gy;       /* mean */
    float *ca, *cb, *cc;  /* conic: inverse covariance */
    float *amp;           /* amplitude (1 without a footprint filter) */
    int32_t *box;         /* [N,4] pixel box x0, y0, x1, y1 inclusive, absolute output px */
    int32_t *rect;        /* [N,4] tile rect tx0, ty0, tx1, ty1 (exclusive), window tiles */
    cs__g2d_cull *cull;   /* [N] */
    cs__g2d_shape *shape; /* [N] */
    const float *colour;  /* [N,C] borrowed */
    /* bins */
    int64_t *inst_off; /* [N+1] Gaussian-major instance offsets */
    int64_t n_inst;
    int64_t *tile_off;   /* [T+1] tile-major offsets into tile_gauss */
    int32_t *tile_gauss; /* [n_inst] Gaussian ids, ascending within a tile */
    int32_t *inst_pos;   /* [n_inst] Gaussian-major instance -> tile-major position */
    int64_t *cursor;     /* [T] scratch of the scatter */
    int64_t *band_off;   /* [N+1] offsets of each Gaussian's tile rows in bands */
    int32_t *bands;      /* [rows, 2] tiles [tx0, tx1) reached in each tile row */
    int64_t cap_bands;
    /* per-worker scratch of the AVX2 tile kernel, sized by the longest tile list (bin) */
    int64_t max_list;
    float *kscratch;
    size_t kscratch_floats; /* per worker */
    int kscratch_workers;
    /* capacities */
    int64_t cap_gauss, cap_inst, cap_tiles;
    size_t cap_kscratch;
} cs__g2d_frame;

/* Copy tile `tile`'s Gaussians into the SIMD kernels' tile-local arrays a[0..12] = gx, gy, ca,
 * cb, cc, amp, cull slope, inv_syy, cvar, margin, colour 0..C-1, padded to a multiple of pad
 * with entries whose ellipse reaches no pixel centre; returns the padded count. */
int cs__g2d_load_tile(const cs__g2d_frame *f, int tile, int pad, float *const a[13]);

/* Floats of SIMD kernel scratch per worker for tile lists of up to n Gaussians: the AVX-512
 * kernel's 33 arrays of round16(n) + 24 floats (cpu/image2d_avx512.c), which also hold the AVX2
 * kernel's 23 of round8(n) + 24. */
static inline size_t cs__g2d_kscratch_floats(int64_t n) {
    size_t stride = ((size_t)n + 15) / 16 * 16 + 24;
    return 33 * stride + 64;
}

/* What the backward pass needs of a top-K forward, per window pixel [height * width]: the
 * selection threshold max(kw[K-1], smallest positive float) as float bits, the tie quota
 * (image2d.h: weights equal to thr still admitted), and 1 / (sum of kept weights + eps). */
typedef struct cs__g2d_sel {
    float *thr;
    float *inv;
    int8_t *quota;
} cs__g2d_sel;

void cs__g2d_frame_free(cs__g2d_frame *f);

/* Prepare N Gaussians for a window of an output whose scale is (sx, sy) output pixels per fitted
 * pixel; footprint != 0 adds the anti-aliasing filter described above. Grows the scratch. */
cs_status cs__g2d_prepare(cs_context *ctx, cs__g2d_frame *f, const cs_gimage_params *p,
                          cs_gimage_rule rule, float sx, float sy, bool footprint, int ox, int oy,
                          int width, int height);
/* Bin prepared Gaussians into tiles (fills inst_off, tile_off, tile_gauss, inst_pos). */
cs_status cs__g2d_bin(cs_context *ctx, cs__g2d_frame *f);
/* Render every tile of the window into out [height, width, C] (threaded); for TOPK, sel (may be
 * NULL) receives the per-pixel selection for the backward pass. ctx must be the context (thread
 * count) the frame was binned with. */
void cs__g2d_forward(cs_context *ctx, const cs__g2d_frame *f, float *out, const cs__g2d_sel *sel);

/* One tile's forward: writes the tile's pixels of out (when non-NULL, row stride = window width)
 * and of sel (when non-NULL, TOPK). scratch: the worker's kscratch (used by the SIMD kernels). */
typedef void (*cs__g2d_tile_fn)(const cs__g2d_frame *f, int tile, float *out,
                                const cs__g2d_sel *sel, float *scratch);
/* The kernel in use: the best the CPU has (AVX-512, AVX2, scalar) within the cap of
 * cs__g2d_force_level, or else of the environment (CSPLAT_SCALAR starting with 1: scalar;
 * CSPLAT_SIMD=avx2: AVX2 at most), read at each call. */
cs__g2d_tile_fn cs__g2d_tile_kernel(void);
void cs__g2d_tile_scalar(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                         float *scratch);
/* Defined in cpu/image2d_avx2.c; call only when the CPU has AVX2 and FMA, after
 * cs__g2d_avx2_init() (cs__g2d_tile_kernel does both). */
void cs__g2d_tile_avx2(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                       float *scratch);
void cs__g2d_avx2_init(void);
/* Defined in cpu/image2d_avx512.c; call only when the CPU has AVX-512 F/BW/DQ/VL, AVX2 and FMA
 * (cs__g2d_tile_kernel checks). Bit-identical to the scalar and AVX2 kernels. */
void cs__g2d_tile_avx512(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                         float *scratch);
bool cs__cpu_has_avx2(void);
/* Test and benchmark hook: cap the kernels at a cs_simd_level (render.h: 0 scalar, 1 AVX2,
 * 2 AVX-512), or follow the environment (-1). */
void cs__g2d_force_level(int level);
/* True when the scalar kernels are to be used (the hook's cap, else CSPLAT_SCALAR=1). */
bool cs__g2d_scalar_forced(void);

/* Inputs of one tile's backward (image2d_backward.c, cpu/image2d_backward_avx2.c): writes the
 * records rec[pos] (6 + C floats: d gx, d gy, d ca, d cb, d cc, d colour, mass) of the tile's
 * Gaussian-tile instances. The two kernels give bit-identical records. */
typedef struct cs__g2d_bwd {
    const cs__g2d_frame *f;
    const cs__g2d_sel *sel;   /* TOPK */
    const float *d_out, *out; /* [height, width, C] */
    float *rec;               /* [n_inst, 6 + C] */
} cs__g2d_bwd;
typedef void (*cs__g2d_bwd_fn)(const cs__g2d_bwd *b, int tile);
void cs__g2d_bwd_tile_scalar(const cs__g2d_bwd *b, int tile);
void cs__g2d_bwd_tile_avx2(const cs__g2d_bwd *b, int tile);

/* Backward (image2d_backward.c) of a frame prepared at scale (sx, sy) without footprint: given
 * dL/dout [height, width, C], the forward output and (TOPK) its selection, writes dL/d(params)
 * into d_xy [N,2], d_chol [N,3], d_colour [N,C] (overwritten) and, when mass is non-NULL, each
 * Gaussian's mass [N] (image2d_backward.c). inst_grad is scratch of n_inst * (6 + C) floats.
 * Deterministic for any thread count. */
void cs__g2d_backward(cs_context *ctx, const cs__g2d_frame *f, const cs_gimage_params *p, float sx,
                      float sy, const float *d_out, const float *out, const cs__g2d_sel *sel,
                      float *inst_grad, float *d_xy, float *d_chol, float *d_colour, float *mass);

/* ---------------------------------------------------------------------------------------------
 * Shared scalar pieces (the AVX2 kernel mirrors them operation for operation).
 */

/* The unscaled weight exp(-q/2) for q in [0, 9] (a little beyond is fine): 2^t with
 * t = q * (-log2(e)/2), evaluated exactly as cs_exp2_ps (cpu/simd_avx2.h) evaluates it in the
 * AVX2 kernels: t clamped to >= -126, t = n + f with n = round-to-nearest-even(t), |f| <= 1/2,
 * 2^f = 1 + f P(f) by the Cephes exp2f polynomial in fused multiply-adds (relative error ~2e-7),
 * 2^n through the exponent bits. fmaf is correctly rounded like the FMA instruction, and rintf
 * rounds to nearest-even in the default rounding mode, like _MM_FROUND_TO_NEAREST_INT, so the
 * scalar and AVX2 weights are bit-identical. */
#define CS_G2D_QSCALE (-0.72134752044448170f) /* -log2(e) / 2 */
static inline float cs__g2d_expq(float q) {
    float t = fmaxf(q * CS_G2D_QSCALE, -126.0f);
    float n = rintf(t);
    float x = t - n;
    float y = 1.535336188319500e-4f;
    y = fmaf(y, x, 1.339887440266574e-3f);
    y = fmaf(y, x, 9.618437357674640e-3f);
    y = fmaf(y, x, 5.550332471162809e-2f);
    y = fmaf(y, x, 2.402264791363012e-1f);
    y = fmaf(y, x, 6.931472028550421e-1f);
    y = fmaf(y, x, 1.0f);
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* Does a Gaussian's q <= 9 ellipse reach a pixel centre in [xl, xr] of row py? Branch-free.
 * (Outside the ellipse's rows hw2 < 0 and the test fails but for the margin; a false positive
 * only costs a candidate whose weights are all 0.) */
static inline int cs__g2d_reaches(const cs__g2d_cull *c, float py, float xl, float xr) {
    float dy = py - c->gy;
    float hw2 = (CS_G2D_CUTOFF - dy * dy * c->inv_syy) * c->cvar;
    float cx = c->gx + c->slope * dy;
    float d = xl - cx > cx - xr ? xl - cx : cx - xr;
    d = d > 0.0f ? d : 0.0f;
    return d * d <= hw2 + c->margin;
}

/* Sum of 8 lane partials in the order the AVX2 reduction uses:
 * ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). */
static inline float cs__g2d_hsum8(const float *l) {
    float a0 = l[0] + l[4], a1 = l[1] + l[5], a2 = l[2] + l[6], a3 = l[3] + l[7];
    return (a0 + a2) + (a1 + a3);
}

/* q = ca dx^2 + 2 cb dx dy + cc dy^2 in the kernels' fixed order, (ca dx + 2 cb dy) dx + cc dy^2:
 * the terms in dy alone (b2 = 2 cb dy, c = cc dy^2) are per Gaussian and pixel row, so the AVX2
 * kernels compute them once as scalars and spend four vector operations per 8 pixels. */
static inline float cs__g2d_q(float ca, float cb, float cc, float dx, float dy) {
    float b2 = cb * dy;
    b2 = b2 + b2;
    float c = cc * dy;
    c = c * dy;
    float e = ca * dx;
    e = e + b2;
    e = e * dx;
    return e + c;
}

/* Output clamp to [0, 1] of the public render, as the AVX2 kernel's min(max(v, 0), 1): NaN and
 * -0 become +0. */
static inline float cs__g2d_clamp01(float v) {
    float x = v > 0.0f ? v : 0.0f;
    return x < 1.0f ? x : 1.0f;
}

/* Top-K selection, in two passes over a pixel's Gaussians in index order (both kernels):
 *   pass 1 keeps the K largest weight *values* in kw (descending; an incoming weight swaps with
 *          every smaller entry on its way down: max/min in the AVX2 kernel);
 *   pass 2 includes a weight w > 0 when w > thr, or when w == thr while fewer than quota equal
 *          weights have been included, so ties go to the lower index exactly as sorting by
 *          (w descending, index ascending) would, and accumulates the included weights and
 *          colours in index order. Canonically (both kernels store it so for the backward): with
 *          more than K positive weights, thr = kw[K-1] and quota = K - #{kw[k] > thr}; else
 *          thr = 0 and quota = K - (number of positive weights). */
static inline void cs__g2d_topk_insert(float *kw, float w) {
    for (int k = 0; k < CS_G2D_K; k++) {
        float hi = kw[k] > w ? kw[k] : w, lo = kw[k] > w ? w : kw[k];
        kw[k] = hi;
        w = lo;
    }
}

/* quota of pass 2 (see above) */
static inline int cs__g2d_topk_quota(const float *kw) {
    int gt = 0;
    for (int k = 0; k < CS_G2D_K; k++) gt += kw[k] > kw[CS_G2D_K - 1];
    return CS_G2D_K - gt;
}

#endif /* CSPLAT_IMAGE2D_H */
