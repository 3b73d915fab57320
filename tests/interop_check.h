/*
 * interop_check.h - shared by the interchange-format tests (test_spz.c, test_sog.c,
 * test_plycompressed.c): random scenes inside every format's representable range, and the
 * attribute-by-attribute comparison of a decoded scene with its source.
 *
 * Formats that reorder Gaussians (SOG, compressed PLY store them in Morton or sorted order) are
 * compared after matching each decoded Gaussian to the source Gaussian with the nearest mean;
 * the random scenes space means far apart (>= 0.05) compared with every format's position error
 * (<= 1e-3), so the match is unambiguous.
 */
#ifndef CSPLAT_INTEROP_CHECK_H
#define CSPLAT_INTEROP_CHECK_H

#include "test.h"

/* Largest errors found, per attribute. */
typedef struct ix_errors {
    double pos;        /* |mean difference| per coordinate */
    double log_scale;  /* per axis */
    double quat;       /* 1 - |dot| of the normalised quaternions */
    double opacity;    /* |sigmoid difference| */
    double dc;         /* SH degree-0 coefficient */
    double sh;         /* SH degree >= 1 coefficients present in both */
    int64_t unmatched; /* decoded Gaussians whose nearest source Gaussian was already taken */
} ix_errors;

/* n Gaussians with SH degree `degree`: means in [-2, 2]^3 on a jittered grid (spacing >= 0.05),
 * log-scales in [-5, -1], random rotations, opacity logits in [-4, 4], DC in [-1.5, 1.5], higher
 * SH in [-0.8, 0.8]. */
cs_scene *ix_random_scene(cs_context *ctx, int64_t n, int degree, unsigned long long seed);

/* Index of the Gaussian of p whose mean is nearest `mean` (the first of equals). */
int64_t ix_nearest(const cs_scene_params *p, const float mean[3]);

/* Compare decoded with source; `reordered` matches Gaussians by nearest mean first. */
ix_errors ix_compare(const cs_scene *source, const cs_scene *decoded, bool reordered);

/* Report (as test failures) every error above its bound; a negative bound skips the check. */
void ix_check(const char *what, const ix_errors *e, const ix_errors *bound);

#endif
