/*
 * ref_image2d.h - float64 naive reference of 2D Gaussian images and of mean SSIM, written
 * independently of src/: no tiles, no culling, no threads, no shared code.
 *
 * Model (include/csplat.h): L = [[exp(c0), 0], [c1, exp(c2)]], Sigma = L L^T; rendered at scale
 * (sx, sy) the Gaussian has mean S mu and covariance S Sigma S (+ F = diag(fx, fy),
 * f = (1 - s^2)/12 for an axis with s < 1, when footprint is set, with the weight multiplied by
 * sqrt(det(S Sigma S) / det(S Sigma S + F))). w = exp(-q/2) for q = d^T Sigma'^-1 d <= 9, else 0.
 * TOPK: the 10 largest w per pixel (ties: lower index), out = sum(w c) / (sum(w) + 1e-6).
 * SUM:  out = sum(w c).
 */
#ifndef CSPLAT_REF_IMAGE2D_H
#define CSPLAT_REF_IMAGE2D_H

typedef struct ref_g2d {
    int n, channels;
    int rule;              /* 0 = top-K, 1 = sum (as cs_gimage_rule) */
    const double *xy;      /* [n, 2] */
    const double *chol;    /* [n, 3] */
    const double *colour;  /* [n, channels] */
} ref_g2d;

/* out [H, W, C], unclamped. */
void ref_g2d_render(const ref_g2d *m, int W, int H, double sx, double sy, int footprint,
                    double *out);

/* Gradient of L = sum(d_out * out) (render without footprint) into d_xy [n,2], d_chol [n,3],
 * d_colour [n,C] (overwritten). */
void ref_g2d_backward(const ref_g2d *m, int W, int H, double sx, double sy, const double *d_out,
                      double *d_xy, double *d_chol, double *d_colour);

/* Mean SSIM of x against y, [H, W, C], direct 11x11 windows with zero padding. */
double ref_ssim(const double *x, const double *y, int W, int H, int C);

#endif
