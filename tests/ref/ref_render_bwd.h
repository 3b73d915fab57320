/*
 * ref_render_bwd.h - the float64 reference BACKWARD of the 3DGS forward pass in ref_render.c,
 * written independently of src/ (no tiles lists, no recursion over T, no hand-derived chain):
 *
 * - Compositing: every pixel walks all Gaussians in depth order with the forward's rules
 *   (tile-rectangle rule, power > 0 and alpha < 1/255 skipped, stop before T < 1e-4), keeps its
 *   list of drawn Gaussians and differentiates C = sum_i c_i alpha_i T_i + T_N bg directly:
 *   dC/dalpha_i = c_i T_i - (sum_{j>i} c_j alpha_j T_j + T_N bg) / (1 - alpha_i) (suffix sums),
 *   dC/dc_i = alpha_i T_i; alpha = min(0.99, o G) with no gradient where clamped; G = exp(power).
 * - Projection and colour: the Jacobian of (mean2D, conic, opacity, rgb) w.r.t. each parameter of
 *   a Gaussian by forward-mode dual numbers through a second, dual-valued copy of ref_project's
 *   formulas (full 3x3 matrices); exact derivatives of the piecewise formulas (the Jacobian
 *   clamp, max(0, .)), no finite differences, no hand-derived chain rule.
 *
 * The results are checked against central finite differences of ref_render (test_render_bwd.c)
 * on scenes kept clear of the cut-offs, which ref_margins measures.
 */
#ifndef CSPLAT_REF_RENDER_BWD_H
#define CSPLAT_REF_RENDER_BWD_H

#include "ref_render.h"

/* Gradients in the scene block layout, float64, plus per-Gaussian screen data. */
typedef struct ref_grads {
    int64_t count;
    int sh_coeffs;
    double *means;        /* [N, 3] */
    double *log_scales;   /* [N, 3] */
    double *quats;        /* [N, 4] w.r.t. the stored (unnormalised) quaternion */
    double *opacities;    /* [N] w.r.t. the logit */
    double *sh;           /* [N, K, 3] */
    double *mean2d;       /* [N, 2] dL/d(u, v), pixels */
    double *radius;       /* [N] ref_project's radius, 0 when not visible */
    double dual_mismatch; /* largest relative difference between the dual-number forward values
                             and ref_project's (a self-check; ~1e-15 expected) */
} ref_grads;

/* Zeroed arrays for p's shape; 0 when out of memory. Free with ref_grads_free. */
int ref_grads_alloc(ref_grads *g, const cs_scene_params *p);
void ref_grads_free(ref_grads *g);

/* g = dL/d(parameters) for L = sum over pixels and channels of d_rgb [H, W, 3] * rgb. Returns 0
 * when out of memory. */
int ref_render_bwd(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                   const double *d_rgb, ref_grads *g);

/* How far a scene is from each cut-off of the forward, for finite-difference tests (a
 * perturbation must not cross any). */
typedef struct ref_margins {
    int visible;          /* Gaussians past the near plane with a non-empty rectangle */
    double min_depth;     /* smallest view z of every Gaussian (near plane at 0.2) */
    double jac_gap;       /* smallest | |x/z| / limx - 1 |, | |y/z| / limy - 1 | (the Jacobian
                             clamp is where the ratio crosses 1) */
    int clamped;          /* visible Gaussians with a clamped axis */
    double rect_slack;    /* pixels by which every visible Gaussian's 3-sigma radius square passes
                             the image on every side, rounded to tiles (rectangle = whole grid);
                             negative when some rectangle is not the whole grid */
    double min_alpha;     /* smallest o G over all (pixel, Gaussian) pairs (floor 1/255) */
    double max_alpha;     /* largest o G (clamp 0.99) */
    double min_t;         /* smallest transmittance reached, final T included (stop 1e-4) */
    double min_sh;        /* smallest SH + 0.5 over Gaussians and channels (clamp at 0) */
    double min_depth_gap; /* smallest depth difference between two visible Gaussians (order) */
} ref_margins;

/* Measure the margins of p seen through cam; 0 when out of memory. */
int ref_margins_measure(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                        ref_margins *m);

#endif
