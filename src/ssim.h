/*
 * ssim.h - mean SSIM of an image against a fixed reference, and its gradient, for training
 * losses (2D Gaussian images now, the 3D trainer later) and for metrics.
 *
 * Definition (Wang et al. 2004, as the 3DGS / pytorch-ssim code computes it): per channel, with
 * G the 11x11 Gaussian window (sigma 1.5, normalised to sum 1) applied by 2D convolution with
 * zero padding (outside the image counts as 0, the window is not renormalised at borders),
 *     mu_x = G*x, mu_y = G*y, s_xx = G*(x^2) - mu_x^2, s_yy = G*(y^2) - mu_y^2,
 *     s_xy = G*(x y) - mu_x mu_y,
 *     S = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2)),
 *     C1 = 0.01^2, C2 = 0.03^2 (values in [0, 1]),
 * and mean SSIM = the mean of S over every pixel and channel.
 *
 * Gradient: S at each pixel depends on x only through A = G*x, B = G*(x^2), X = G*(x y), so
 *     d(mean S)/dx = (1/n) [ G*(dS/dA) + 2 x G*(dS/dB) + y G*(dS/dX) ]
 * (the zero-padded convolution with a symmetric window is its own adjoint), with
 *     dS/dA = [2 mu_y (n2 - n1) - 2 mu_x S (d2 - d1)] / (d1 d2),  dS/dB = -S / d2,
 *     dS/dX = 2 n1 / (d1 d2),   n1, n2, d1, d2 the four factors of S above.
 *
 * Cost: G is separable, so each filtered map is an 11-tap horizontal pass and an 11-tap vertical
 * pass; a forward takes 3 maps (the reference's 2 are cached), a backward 3 more. Rows are
 * processed in parallel on the context's pool and the sum is reduced per row in row order, so
 * the result does not depend on the thread count. The row kernels have an AVX2 version
 * (cpu/ssim_avx2.c) that gives bit-identical results to the scalar one here (same operations,
 * unfused); CSPLAT_SCALAR=1 forces scalar.
 *
 * Not here: other windows, multi-scale SSIM, data ranges other than [0, 1].
 */
#ifndef CSPLAT_SSIM_H
#define CSPLAT_SSIM_H

#include "internal.h"

typedef struct cs__ssim cs__ssim;

/* Scratch for images of width x height x channels (interleaved [H, W, C] floats), sized for the
 * context's thread count; about 8 maps of the image's size. */
cs_status cs__ssim_create(cs_context *ctx, int width, int height, int channels, cs__ssim **out);
void cs__ssim_destroy(cs__ssim *s);

/* Fix the reference y [H, W, C]: its filtered statistics are computed once here. y is borrowed
 * and must stay valid and unchanged while cs__ssim_eval is used. */
void cs__ssim_set_reference(cs_context *ctx, cs__ssim *s, const float *y);

/* Mean SSIM of x [H, W, C] against the reference. When d_x is non-NULL, scale * d(mean SSIM)/dx
 * is added to it, so a caller minimising L + w (1 - SSIM) passes dL/dx and -w. */
double cs__ssim_eval(cs_context *ctx, cs__ssim *s, const float *x, float *d_x, float scale);

/* Test hook: force the scalar row kernels (1), the best ones (0), or follow CSPLAT_SCALAR (-1). */
void cs__ssim_force_scalar(int mode);

/* ---------------------------------------------------------------------------------------------
 * Row kernels (scalar in ssim.c, AVX2 in cpu/ssim_avx2.c; identical results).
 */
#define CS_SSIM_TAPS 11
#define CS_SSIM_RADIUS 5
#define CS_SSIM_C1 (0.01f * 0.01f)
#define CS_SSIM_C2 (0.03f * 0.03f)

typedef struct cs__ssim_kernels {
    /* out[i] = sum_k g[k] pad[i + k stride], i in [0, len): pad starts 5 strides before the row */
    void (*hfilt)(const float *pad, float *out, int len, int stride, const float *g);
    /* out[i] = sum_k g[k] rows[k][i] */
    void (*vfilt)(const float *const *rows, float *out, int len, const float *g);
    /* Per element: S and its partials dS/dA, dS/dB, dS/dX from A, B, X, mu_y, E[y^2]. */
    void (*pixel)(const float *A, const float *B, const float *X, const float *M, const float *Y,
                  float *S, float *dA, float *dB, float *dX, int len);
    /* d[i] += k (GA + 2 x GB + y GX) */
    void (*combine)(const float *x, const float *y, const float *GA, const float *GB,
                    const float *GX, float k, float *d, int len);
} cs__ssim_kernels;

extern const cs__ssim_kernels cs__ssim_kernels_scalar;
/* Defined in cpu/ssim_avx2.c; use only when cs__cpu_has_avx2(). */
extern const cs__ssim_kernels cs__ssim_kernels_avx2;
bool cs__cpu_has_avx2(void);

#endif /* CSPLAT_SSIM_H */
