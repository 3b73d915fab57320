/*
 * test_loss.c - the training loss (1 - lambda) L1 + lambda (1 - SSIM) of src/loss.c: its value
 * against a float64 reference written here from the definition (naive 11x11 zero-padded
 * Gaussian-window SSIM, no separable filters, no threads), its gradient against central finite
 * differences of that reference (per element and along a random direction), and thread
 * independence.
 */
#include "loss.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* float64 reference of the loss of x against y, [h, w, 3]. */
static double ref_loss(const double *x, const double *y, int w, int h, double lambda) {
    double g[11], gs = 0.0;
    for (int k = 0; k < 11; k++) {
        g[k] = exp(-(double)((k - 5) * (k - 5)) / (2.0 * 1.5 * 1.5));
        gs += g[k];
    }
    for (int k = 0; k < 11; k++) g[k] /= gs;
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double l1 = 0.0, ssim = 0.0;
    int n = 3 * w * h;
    for (int i = 0; i < n; i++) l1 += fabs(x[i] - y[i]);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            for (int ch = 0; ch < 3; ch++) {
                double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                for (int dy = -5; dy <= 5; dy++)
                    for (int dx = -5; dx <= 5; dx++) {
                        int rr = r + dy, cc = c + dx;
                        if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue; /* zero padding */
                        double wgt = g[dy + 5] * g[dx + 5];
                        double a = x[(rr * w + cc) * 3 + ch], b = y[(rr * w + cc) * 3 + ch];
                        mx += wgt * a;
                        my += wgt * b;
                        xx += wgt * a * a;
                        yy += wgt * b * b;
                        xy += wgt * a * b;
                    }
                double sx = xx - mx * mx, sy = yy - my * my, sxy = xy - mx * my;
                ssim += (2 * mx * my + c1) * (2 * sxy + c2) /
                        ((mx * mx + my * my + c1) * (sx + sy + c2));
            }
    return (1.0 - lambda) * l1 / n + lambda * (1.0 - ssim / n);
}

/* Random images whose pixels differ by at least 0.05 (away from the L1 kink). */
static void make_pair(test_rng *r, float *x, float *y, int n) {
    for (int i = 0; i < n; i++) {
        y[i] = (float)test_rng_uniform(r);
        float d = (float)(0.05 + 0.25 * test_rng_uniform(r));
        x[i] = test_rng_uniform(r) < 0.5 ? y[i] + d : y[i] - d;
    }
}

TEST(loss_matches_float64_reference) {
    cs_context *ctx = test_context(2);
    const int w = 37, h = 23, n = 3 * w * h;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd);
    test_rng r = test_rng_seed(11);
    make_pair(&r, x, y, n);
    for (int i = 0; i < n; i++) xd[i] = x[i], yd[i] = y[i];
    cs__loss *loss;
    CHECK_OK(ctx, cs__loss_create(ctx, &loss));
    cs__loss_value v;
    for (int pass = 0; pass < 2; pass++) { /* the second call reuses the scratch */
        CHECK_OK(ctx, cs__loss_eval(ctx, loss, x, y, w, h, 0.2f, NULL, &v));
        double want = ref_loss(xd, yd, w, h, 0.2);
        CHECK_NEAR(v.total, want, 2e-6 * want);
        CHECK_NEAR(ref_loss(xd, yd, w, h, 0.0), v.l1, 1e-6);
        CHECK_NEAR(1.0 - (ref_loss(xd, yd, w, h, 1.0)), v.ssim, 2e-6);
    }
    double mse = 0.0;
    for (int i = 0; i < n; i++) mse += (xd[i] - yd[i]) * (xd[i] - yd[i]) / n;
    CHECK_NEAR(v.mse, mse, 1e-9);
    test_note("loss %.9f, reference %.9f", v.total, ref_loss(xd, yd, w, h, 0.2));
    /* A different size re-sizes the scratch. */
    CHECK_OK(ctx, cs__loss_eval(ctx, loss, x, y, 20, 10, 0.2f, NULL, &v));
    CHECK_NEAR(v.total, ref_loss(xd, yd, 20, 10, 0.2), 1e-6);
    CHECK(cs__loss_eval(ctx, loss, x, y, 0, 10, 0.2f, NULL, &v) == CS_ERR_ARGUMENT);
    CHECK(cs__loss_eval(ctx, loss, x, y, 20, 10, 1.5f, NULL, &v) == CS_ERR_ARGUMENT);
    cs__loss_destroy(loss);
    free(x), free(y), free(xd), free(yd);
    cs_context_destroy(ctx);
}

TEST(loss_gradient_matches_finite_differences) {
    cs_context *ctx = test_context(2);
    const int w = 12, h = 9, n = 3 * w * h;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *d = malloc(n * sizeof *d);
    double *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd);
    test_rng r = test_rng_seed(5);
    make_pair(&r, x, y, n);
    for (int i = 0; i < n; i++) xd[i] = x[i], yd[i] = y[i];
    cs__loss *loss;
    CHECK_OK(ctx, cs__loss_create(ctx, &loss));
    cs__loss_value v;
    memset(d, 0x7f, n * sizeof *d); /* overwritten, not added to */
    CHECK_OK(ctx, cs__loss_eval(ctx, loss, x, y, w, h, 0.2f, d, &v));
    const double eps = 1e-4;
    /* Every element: L1 kinks are >= 0.05 away, so central differences are exact to O(eps^2). */
    double max_err = 0.0, max_g = 0.0;
    for (int i = 0; i < n; i++) {
        double keep = xd[i];
        xd[i] = keep + eps;
        double lp = ref_loss(xd, yd, w, h, 0.2);
        xd[i] = keep - eps;
        double lm = ref_loss(xd, yd, w, h, 0.2);
        xd[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        max_err = fmax(max_err, fabs(fd - (double)d[i]));
        max_g = fmax(max_g, fabs(fd));
    }
    CHECK_MSG(max_err < 1e-3 * max_g, "max error %g of max gradient %g", max_err, max_g);
    /* A random direction: the projection of the whole gradient. */
    double dot = 0.0, *dir = malloc(n * sizeof *dir), *xp = malloc(n * sizeof *xp);
    for (int i = 0; i < n; i++) {
        dir[i] = test_rng_normal(&r);
        dot += dir[i] * (double)d[i];
    }
    double h2 = 1e-5, lpm[2];
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < n; i++) xp[i] = xd[i] + (s ? -h2 : h2) * dir[i];
        lpm[s] = ref_loss(xp, yd, w, h, 0.2);
    }
    double fd = (lpm[0] - lpm[1]) / (2 * h2);
    CHECK_NEAR(dot, fd, 1e-4 * fabs(fd));
    test_note("per-element max error %.3g (max |g| %.3g); projection %.9g vs %.9g", max_err, max_g,
              dot, fd);
    cs__loss_destroy(loss);
    free(x), free(y), free(d), free(xd), free(yd), free(dir), free(xp);
    cs_context_destroy(ctx);
}

TEST(loss_is_identical_for_any_thread_count) {
    const int w = 61, h = 47, n = 3 * w * h;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    float *d1 = malloc(n * sizeof *d1), *d2 = malloc(n * sizeof *d2);
    test_rng r = test_rng_seed(9);
    make_pair(&r, x, y, n);
    cs__loss_value v1, v2;
    for (int t = 1; t <= 2; t++) {
        cs_context *ctx = test_context(t == 1 ? 1 : 3);
        cs__loss *loss;
        CHECK_OK(ctx, cs__loss_create(ctx, &loss));
        CHECK_OK(ctx,
                 cs__loss_eval(ctx, loss, x, y, w, h, 0.2f, t == 1 ? d1 : d2, t == 1 ? &v1 : &v2));
        cs__loss_destroy(loss);
        cs_context_destroy(ctx);
    }
    CHECK(v1.total == v2.total && v1.ssim == v2.ssim && v1.l1 == v2.l1);
    CHECK(memcmp(d1, d2, n * sizeof *d1) == 0);
    free(x), free(y), free(d1), free(d2);
}
