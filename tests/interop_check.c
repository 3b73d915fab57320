/*
 * interop_check.c - random scenes and decoded-versus-source comparison for the interchange
 * format tests (see interop_check.h). Matching is brute force (O(n^2)); tests keep n small.
 */
#include "interop_check.h"

#include <math.h>
#include <stdlib.h>

cs_scene *ix_random_scene(cs_context *ctx, int64_t n, int degree, unsigned long long seed) {
    cs_scene *s;
    if (cs_scene_create(ctx, n, degree, &s) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(s);
    test_rng r = test_rng_seed(seed);
    /* Jittered grid: 16^3 cells of 0.25 in [-2, 2]^3, a random permutation of cells, +-0.1. */
    int64_t cells = 16 * 16 * 16;
    int64_t *perm = malloc((size_t)cells * sizeof *perm);
    for (int64_t i = 0; i < cells; i++) perm[i] = i;
    for (int64_t i = cells - 1; i > 0; i--) {
        int64_t j = (int64_t)(test_rng_uniform(&r) * (double)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = perm[i % cells];
        int g[3] = {(int)(c % 16), (int)(c / 16 % 16), (int)(c / 256)};
        for (int a = 0; a < 3; a++) {
            p.means[3 * i + a] =
                (float)(-2.0 + 0.25 * (g[a] + 0.5) + 0.2 * (test_rng_uniform(&r) - 0.5));
            p.log_scales[3 * i + a] = (float)(-5.0 + 4.0 * test_rng_uniform(&r));
        }
        for (int a = 0; a < 4; a++) p.quats[4 * i + a] = (float)test_rng_normal(&r);
        p.opacities[i] = (float)(-4.0 + 8.0 * test_rng_uniform(&r));
        for (int k = 0; k < p.sh_coeffs; k++)
            for (int c3 = 0; c3 < 3; c3++)
                p.sh[((size_t)i * p.sh_coeffs + k) * 3 + c3] =
                    k == 0 ? (float)(-1.5 + 3.0 * test_rng_uniform(&r))
                           : (float)(-0.8 + 1.6 * test_rng_uniform(&r));
    }
    free(perm);
    return s;
}

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

static double max_d(double a, double b) {
    return a > b ? a : b;
}

int64_t ix_nearest(const cs_scene_params *p, const float mean[3]) {
    int64_t nearest = 0;
    double best = INFINITY;
    for (int64_t c = 0; c < p->count; c++) {
        double d = 0;
        for (int x = 0; x < 3; x++) {
            double t = (double)p->means[3 * c + x] - (double)mean[x];
            d += t * t;
        }
        if (d < best) {
            best = d;
            nearest = c;
        }
    }
    return nearest;
}

ix_errors ix_compare(const cs_scene *source, const cs_scene *decoded, bool reordered) {
    ix_errors e = {0};
    cs_scene_params a = cs_scene_get_params((cs_scene *)source);
    cs_scene_params b = cs_scene_get_params((cs_scene *)decoded);
    if (a.count != b.count) {
        e.unmatched = a.count > b.count ? a.count - b.count : b.count - a.count;
        return e;
    }
    int64_t n = a.count;
    bool *taken = calloc((size_t)n + 1, 1);
    int kc = a.sh_coeffs < b.sh_coeffs ? a.sh_coeffs : b.sh_coeffs;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = reordered ? ix_nearest(&a, b.means + 3 * j) : j;
        if (taken[i]) e.unmatched++;
        taken[i] = true;
        for (int x = 0; x < 3; x++) {
            e.pos = max_d(e.pos, fabs((double)a.means[3 * i + x] - (double)b.means[3 * j + x]));
            e.log_scale = max_d(e.log_scale, fabs((double)a.log_scales[3 * i + x] -
                                                  (double)b.log_scales[3 * j + x]));
        }
        double na = 0, nb = 0, dot = 0;
        for (int x = 0; x < 4; x++) {
            double qa = a.quats[4 * i + x], qb = b.quats[4 * j + x];
            na += qa * qa;
            nb += qb * qb;
            dot += qa * qb;
        }
        e.quat = max_d(e.quat, 1.0 - fabs(dot) / sqrt(na * nb));
        e.opacity = max_d(e.opacity, fabs(sigmoid(a.opacities[i]) - sigmoid(b.opacities[j])));
        for (int k = 0; k < kc; k++)
            for (int c3 = 0; c3 < 3; c3++) {
                double d = fabs((double)a.sh[((size_t)i * a.sh_coeffs + k) * 3 + c3] -
                                (double)b.sh[((size_t)j * b.sh_coeffs + k) * 3 + c3]);
                if (k == 0)
                    e.dc = max_d(e.dc, d);
                else
                    e.sh = max_d(e.sh, d);
            }
    }
    free(taken);
    return e;
}

void ix_check(const char *what, const ix_errors *e, const ix_errors *bound) {
    CHECK_MSG(e->unmatched == 0, "%s: %lld Gaussians unmatched", what, (long long)e->unmatched);
#define IX_FIELD(f)                                                                                \
    if (bound->f >= 0)                                                                             \
        CHECK_MSG(e->f <= bound->f, "%s: " #f " error %.3g exceeds %.3g", what, e->f, bound->f);
    IX_FIELD(pos)
    IX_FIELD(log_scale)
    IX_FIELD(quat)
    IX_FIELD(opacity)
    IX_FIELD(dc)
    IX_FIELD(sh)
#undef IX_FIELD
}
