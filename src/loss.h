/*
 * loss.h - the photometric training loss of 3D Gaussian splatting and its gradient:
 *
 *     L = (1 - lambda) L1 + lambda (1 - SSIM),   lambda = 0.2 in the reference,
 *     L1 = mean |x - y| over every pixel and channel,
 *     SSIM = mean SSIM with the 11x11 Gaussian window, sigma 1.5 (src/ssim.h).
 *
 * dL/dx = (1 - lambda) sign(x - y) / n - lambda dSSIM/dx, with sign(0) = 0 as torch's abs
 * gradient gives. The rendered image x is not clamped (3DGS trains on the raw render).
 *
 * Images are [H, W, 3] floats. The mean squared error comes out of the same pass so the
 * trainer can report a training PSNR without another sweep.
 */
#ifndef CSPLAT_LOSS_H
#define CSPLAT_LOSS_H

#include "internal.h"
#include "ssim.h"

typedef struct cs__loss cs__loss;

typedef struct cs__loss_value {
    double total; /* (1 - lambda) l1 + lambda (1 - ssim) */
    double l1;    /* mean |x - y| */
    double ssim;  /* mean SSIM */
    double mse;   /* mean (x - y)^2 */
} cs__loss_value;

cs_status cs__loss_create(cs_context *ctx, cs__loss **out);
void cs__loss_destroy(cs__loss *loss);

/* The loss of x against y (both [h, w, 3]) with weight lambda in [0, 1]; when d_x is non-NULL
 * it is overwritten with dL/dx. Scratch is resized when the image size changes (the only
 * allocation; a failure returns CS_ERR_NOMEM). Results do not depend on the thread count. */
cs_status cs__loss_eval(cs_context *ctx, cs__loss *loss, const float *x, const float *y, int w,
                        int h, float lambda, float *d_x, cs__loss_value *out);

#endif /* CSPLAT_LOSS_H */
