/*
 * loss.c - (1 - lambda) L1 + lambda (1 - SSIM) and its gradient (definitions in loss.h).
 *
 * One threaded pass over the rows computes |x - y| and (x - y)^2 sums per row (double, reduced
 * in row order afterwards, so the value does not depend on the thread count) and writes the L1
 * part of the gradient; the SSIM module then adds -lambda dSSIM/dx to the same buffer.
 *
 * The SSIM scratch is kept across calls and rebuilt only when the image size changes (datasets
 * with cameras of different sizes alternate; the reference's statistics are recomputed per call
 * anyway because the target changes every iteration).
 */
#include "loss.h"

#include <math.h>

struct cs__loss {
    cs__ssim *ssim;
    int width, height;
    double *row_l1, *row_se; /* [height] per-row sums */
};

cs_status cs__loss_create(cs_context *ctx, cs__loss **out) {
    *out = cs__calloc(1, sizeof **out);
    if (!*out) return cs__alloc_error(ctx, "loss", sizeof **out);
    return CS_OK;
}

void cs__loss_destroy(cs__loss *loss) {
    if (!loss) return;
    cs__ssim_destroy(loss->ssim);
    cs__free(loss->row_l1);
    cs__free(loss->row_se);
    cs__free(loss);
}

static cs_status resize(cs_context *ctx, cs__loss *l, int w, int h) {
    if (l->ssim && l->width == w && l->height == h) return CS_OK;
    cs__ssim_destroy(l->ssim);
    cs__free(l->row_l1);
    cs__free(l->row_se);
    l->ssim = NULL;
    l->width = l->height = 0;
    l->row_l1 = cs__calloc((size_t)h, sizeof(double));
    l->row_se = cs__calloc((size_t)h, sizeof(double));
    if (!l->row_l1 || !l->row_se) return cs__alloc_error(ctx, "loss rows", 2 * (size_t)h * 8);
    cs_status st = cs__ssim_create(ctx, w, h, 3, &l->ssim);
    if (st != CS_OK) return st;
    l->width = w;
    l->height = h;
    return CS_OK;
}

typedef struct l1_job {
    cs__loss *l;
    const float *x, *y;
    float *d_x;
    float k; /* (1 - lambda) / n */
} l1_job;

static void l1_rows(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const l1_job *job = user;
    size_t row = 3 * (size_t)job->l->width;
    for (int64_t r = begin; r < end; r++) {
        const float *x = job->x + (size_t)r * row, *y = job->y + (size_t)r * row;
        float *d = job->d_x ? job->d_x + (size_t)r * row : NULL;
        double a = 0.0, s = 0.0;
        for (size_t i = 0; i < row; i++) {
            float e = x[i] - y[i];
            a += (double)fabsf(e);
            s += (double)e * (double)e;
            if (d) d[i] = e > 0.0f ? job->k : e < 0.0f ? -job->k : 0.0f;
        }
        job->l->row_l1[r] = a;
        job->l->row_se[r] = s;
    }
}

cs_status cs__loss_eval(cs_context *ctx, cs__loss *loss, const float *x, const float *y, int w,
                        int h, float lambda, float *d_x, cs__loss_value *out) {
    if (w < 1 || h < 1 || !(lambda >= 0.0f && lambda <= 1.0f))
        return cs__error(ctx, CS_ERR_ARGUMENT, "loss: bad image size %dx%d or lambda %g", w, h,
                         (double)lambda);
    cs_status st = resize(ctx, loss, w, h);
    if (st != CS_OK) return st;
    double n = 3.0 * (double)w * (double)h;
    l1_job job = {loss, x, y, d_x, (float)((1.0 - (double)lambda) / n)};
    /* ~16k floats per task: a 400 px row is 1200 floats. */
    int64_t grain = 16384 / (3 * (int64_t)w);
    cs__parallel_for(ctx, h, grain < 1 ? 1 : grain, l1_rows, &job);
    double l1 = 0.0, se = 0.0;
    for (int r = 0; r < h; r++) {
        l1 += loss->row_l1[r];
        se += loss->row_se[r];
    }
    cs__ssim_set_reference(ctx, loss->ssim, y);
    double ssim = cs__ssim_eval(ctx, loss->ssim, x, d_x, -lambda);
    out->l1 = l1 / n;
    out->mse = se / n;
    out->ssim = ssim;
    out->total = (1.0 - (double)lambda) * out->l1 + (double)lambda * (1.0 - ssim);
    return CS_OK;
}
