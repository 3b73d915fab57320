/*
 * test_render_bwd.c - the backward pass (src/train_render.c and its stages) against the float64
 * reference backward (tests/ref/ref_render_bwd.c), and that reference against central finite
 * differences of the float64 reference forward (tests/ref/ref_render.c).
 *
 * Loss: L = sum w . rgb over pixels and channels with random weights w in [-1, 1] (a random
 * projection of the output), so dL/drgb = w.
 *
 * Finite-difference scenes are kept clear of every cut-off, by construction and measured
 * (ref_margins) before use, so that no perturbation of h flips a discrete decision:
 *   near plane      view depths in [2, 6], far from z = 0.2;
 *   Jacobian clamp  means inside the middle half of the view, |x/z| <= 0.5 tan(fov/2), or (some
 *                   scenes, to test the clamped derivative) beyond it at 1.6..2 tan(fov/2); the
 *                   clamp is at 1.3 tan(fov/2);
 *   3-sigma radius  every projected Gaussian is broader than the image (standard deviations
 *                   0.6..2 image diagonals), so its radius square covers the whole tile grid with
 *                   a tile to spare and no rounding of the radius can change which pixels it
 *                   reaches;
 *   alpha floor     for the same reason o G >= 0.25 o >= 0.025 at every pixel, 6x the 1/255 floor;
 *   alpha clamp     opacities <= 0.45, far below 0.99;
 *   T stop          at most 10 Gaussians of alpha <= 0.45: T >= 0.55^10 = 2.5e-3, 25x the stop;
 *   SH clamp        DC colour 0.5 +- 0.25 and small higher bands: SH + 0.5 > 0.05;
 *   depth order     depths at least 0.2 apart, the perturbations move them by 1e-3.
 * The production comparison also uses ordinary random scenes (tests/render_fixture.c: tiny, huge,
 * off-screen, nearly opaque and clamped Gaussians, many tiles), where float32 and float64 take the
 * same discrete decisions except within rounding of a cut-off.
 */
#include "../src/train_render.h"
#include "ref/ref_render_bwd.h"
#include "render_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- scenes ---- */

static float logit(double o) {
    return (float)log(o / (1 - o));
}

/* n Gaussians clear of every cut-off for cam (see the header comment); degree 0..3. Every
 * `outside`-th Gaussian (0: none) sits beyond the Jacobian clamp, |x/z| or |y/z| = 1.6..2
 * tan(fov/2) (1.23..1.54 times the clamp), and is broad enough (1.5..3 diagonals) to still cover
 * the image. */
static cs_scene *clear_scene(cs_context *ctx, const cs_camera *cam, int n, int degree, int outside,
                             unsigned long long seed) {
    cs_scene *scene;
    if (cs_scene_create(ctx, n, degree, &scene) != CS_OK) return NULL;
    cs_scene_params p = cs_scene_get_params(scene);
    test_rng rng = test_rng_seed(seed);
    double tanx = 0.5 * cam->width / (double)cam->fx, tany = 0.5 * cam->height / (double)cam->fy;
    double diag = sqrt((double)cam->width * cam->width + (double)cam->height * cam->height);
    for (int i = 0; i < n; i++) {
        double pv[3];
        pv[2] = 2 + 4 * (i + 0.5 + 0.3 * (test_rng_uniform(&rng) - 0.5)) / n;
        pv[0] = (2 * test_rng_uniform(&rng) - 1) * 0.5 * tanx * pv[2];
        pv[1] = (2 * test_rng_uniform(&rng) - 1) * 0.5 * tany * pv[2];
        bool out = outside > 0 && i % outside == outside - 1;
        if (out) { /* beyond the clamp on x, y or both */
            double side = test_rng_uniform(&rng) < 0.5 ? -1 : 1;
            int axis = (i / outside) % 3; /* 0: x, 1: y, 2: both */
            if (axis != 1) pv[0] = side * (1.6 + 0.4 * test_rng_uniform(&rng)) * tanx * pv[2];
            if (axis != 0) pv[1] = -side * (1.6 + 0.4 * test_rng_uniform(&rng)) * tany * pv[2];
        }
        for (int k = 0; k < 3; k++) {
            double w = 0;
            for (int row = 0; row < 3; row++)
                w += (double)cam->R[3 * row + k] * (pv[row] - (double)cam->t[row]);
            p.means[3 * i + k] = (float)w;
        }
        for (int k = 0; k < 3; k++) /* world sizes whose projection spans 0.6..2 diagonals */
            p.log_scales[3 * i + k] = (float)log(
                pv[2] * diag / (double)cam->fx *
                (out ? 1.5 + 1.5 * test_rng_uniform(&rng) : 0.6 + 1.4 * test_rng_uniform(&rng)));
        for (int k = 0; k < 4; k++) p.quats[4 * i + k] = (float)test_rng_normal(&rng);
        p.opacities[i] = logit(0.1 + 0.35 * test_rng_uniform(&rng));
        float *sh = p.sh + (size_t)i * 3 * (size_t)p.sh_coeffs;
        for (int c = 0; c < 3 * p.sh_coeffs; c++)
            sh[c] = c < 3 ? (float)((0.5 * test_rng_uniform(&rng) - 0.25) / 0.28209479177387814)
                          : (float)(0.03 * test_rng_normal(&rng));
    }
    return scene;
}

static double *random_weights(int64_t n, unsigned long long seed) {
    double *w = malloc((size_t)n * sizeof *w);
    test_rng rng = test_rng_seed(seed);
    for (int64_t k = 0; w && k < n; k++) w[k] = 2 * test_rng_uniform(&rng) - 1;
    return w;
}

/* L = sum w . rgb of the float64 reference forward. */
static double ref_loss(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                       const double *w, double *rgb) {
    int64_t n = 3 * (int64_t)cam->width * cam->height;
    if (!ref_render(p, cam, o, rgb, NULL, NULL)) return NAN;
    double l = 0;
    for (int64_t k = 0; k < n; k++) l += w[k] * rgb[k];
    return l;
}

/* ---- parameter groups ---- */

enum { G_MEANS, G_SCALES, G_QUATS, G_OPAC, G_SH0, G_SH1, G_SH2, G_SH3, G_COUNT };
static const char *const group_name[G_COUNT] = {"means",    "log_scales", "quats",    "opacities",
                                                "sh deg 0", "sh deg 1",   "sh deg 2", "sh deg 3"};

/* Group of float k of the scene block (means | log_scales | quats | opacities | sh). */
static int group_of(const cs_scene_params *p, int64_t k) {
    int64_t n = p->count;
    if (k < 3 * n) return G_MEANS;
    if (k < 6 * n) return G_SCALES;
    if (k < 10 * n) return G_QUATS;
    if (k < 11 * n) return G_OPAC;
    int coeff = (int)(((k - 11 * n) / 3) % p->sh_coeffs);
    return coeff < 1 ? G_SH0 : coeff < 4 ? G_SH1 : coeff < 9 ? G_SH2 : G_SH3;
}

/* The float block index k as a pointer into p, and the reference gradient's value there. */
static float *param_at(const cs_scene_params *p, int64_t k) {
    return p->means + k; /* the block is contiguous in this order (scene.c) */
}

static double ref_grad_at(const ref_grads *g, const cs_scene_params *p, int64_t k) {
    int64_t n = p->count;
    if (k < 3 * n) return g->means[k];
    if (k < 6 * n) return g->log_scales[k - 3 * n];
    if (k < 10 * n) return g->quats[k - 6 * n];
    if (k < 11 * n) return g->opacities[k - 10 * n];
    return g->sh[k - 11 * n];
}

static int64_t block_floats(const cs_scene_params *p) {
    return p->count * (11 + 3 * (int64_t)p->sh_coeffs);
}

/* Relative L2 error per group: ||a - b|| / ||b||; -1 for groups where b is all zero. */
typedef struct group_err {
    double num[G_COUNT], den[G_COUNT], max_abs[G_COUNT];
} group_err;

static void group_add(group_err *e, int g, double a, double b) {
    e->num[g] += (a - b) * (a - b);
    e->den[g] += b * b;
    if (fabs(a - b) > e->max_abs[g]) e->max_abs[g] = fabs(a - b);
}

static double group_rel(const group_err *e, int g) {
    return e->den[g] > 0 ? sqrt(e->num[g] / e->den[g]) : -1;
}

/* Note every group's error; fail any above tol. A group whose reference is all zero (SH bands
 * above the evaluated degree) must be exactly zero. */
static void group_check(const group_err *e, double tol, const char *label) {
    char line[512];
    int len = 0;
    for (int g = 0; g < G_COUNT; g++) {
        double r = group_rel(e, g);
        CHECK_MSG(r >= 0 || e->num[g] == 0, "%s: %s should be zero, differs by up to %g", label,
                  group_name[g], e->max_abs[g]);
        if (r < 0) continue;
        len += snprintf(line + len, sizeof line - (size_t)len, "%s%s %.2e", len ? ", " : "",
                        group_name[g], r);
        CHECK_MSG(r < tol, "%s: %s relative L2 error %.3g >= %g", label, group_name[g], r, tol);
    }
    test_note("%s: %s", label, line);
}

/* ---- the reference backward against finite differences ---- */

static void check_margins(const cs_scene_params *p, const cs_camera *cam, const ref_options *o) {
    ref_margins m;
    CHECK(ref_margins_measure(p, cam, o, &m));
    test_note("margins: depth >= %.2f, ||x/z|/lim - 1| >= %.2f (%d clamped), rect slack %.1f px, "
              "alpha in "
              "[%.4f, %.3f], T >= %.2e, SH+0.5 >= %.3f, depth gap %.3f",
              m.min_depth, m.jac_gap, m.clamped, m.rect_slack, m.min_alpha, m.max_alpha, m.min_t,
              m.min_sh, m.min_depth_gap);
    CHECK(m.visible == p->count);
    CHECK(m.min_depth > 1.0);
    CHECK(m.jac_gap > 0.15);
    CHECK(m.rect_slack > 4);
    CHECK(m.min_alpha > 2.0 / 255.0);
    CHECK(m.max_alpha < 0.9);
    CHECK(m.min_t * (1 - m.max_alpha) > 2e-4); /* no Gaussian is ever refused by the stop */
    CHECK(m.min_sh > 0.03);
    CHECK(m.min_depth_gap > 0.05);
}

typedef struct fd_case {
    int width, height, n, degree;
    float scale_modifier;
    int outside; /* every outside-th Gaussian beyond the Jacobian clamp (clear scenes) */
    unsigned long long seed;
} fd_case;

TEST(render_bwd_reference_matches_finite_differences) {
    static const fd_case cases[] = {
        {40, 32, 8, 3, 1.0f, 4, 11},
        {37, 23, 6, 1, 1.0f, 0, 12},
        {48, 40, 10, 2, 0.8f, 3, 13},
        {33, 17, 5, 0, 1.0f, 2, 14},
    };
    cs_context *ctx = test_context(1);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const fd_case *k = &cases[c];
        float eye[3] = {0.5f, -5, 1.5f}, target[3] = {0, 0.2f, 0};
        cs_camera cam =
            fixture_camera(k->width, k->height, 1.1f * (float)k->width, eye, target, 1.5f, -0.75f);
        cs_scene *scene = clear_scene(ctx, &cam, k->n, k->degree, k->outside, k->seed);
        CHECK(scene != NULL);
        if (!scene) continue;
        cs_scene_params p = cs_scene_get_params(scene);
        ref_options ro = {.background = {0.2, 0.4, 0.7},
                          .sh_degree = k->degree,
                          .scale_modifier = k->scale_modifier,
                          .tile_support = 1};
        check_margins(&p, &cam, &ro);
        int64_t nout = 3 * (int64_t)k->width * k->height;
        double *w = random_weights(nout, 100 + k->seed), *rgb = malloc((size_t)nout * 8);
        ref_grads g;
        CHECK(w && rgb && ref_grads_alloc(&g, &p));
        if (!w || !rgb || !g.means) continue;
        CHECK(ref_render_bwd(&p, &cam, &ro, w, &g));
        CHECK_MSG(g.dual_mismatch < 1e-12, "dual forward differs from ref_project by %g",
                  g.dual_mismatch);

        /* Central differences at float-representable points; h is the realised step. */
        group_err e = {0};
        for (int64_t q = 0; q < block_floats(&p); q++) {
            float *x = param_at(&p, q), x0 = *x;
            float hi = (float)((double)x0 + 1e-3), lo = (float)((double)x0 - 1e-3);
            *x = hi;
            double lp = ref_loss(&p, &cam, &ro, w, rgb);
            *x = lo;
            double lm = ref_loss(&p, &cam, &ro, w, rgb);
            *x = x0;
            double fd = (lp - lm) / ((double)hi - (double)lo);
            group_add(&e, group_of(&p, q), ref_grad_at(&g, &p, q), fd);
        }
        char label[96];
        snprintf(label, sizeof label, "%dx%d N=%d deg %d: reference vs finite differences",
                 k->width, k->height, k->n, k->degree);
        group_check(&e, 1e-5, label);
        ref_grads_free(&g);
        free(w);
        free(rgb);
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

/* ---- production against the reference ---- */

/* A gradient scene of p's shape, all zero (create sets quaternions to w = 1). */
static cs_scene *zero_grads(cs_context *ctx, const cs_scene_params *p) {
    cs_scene *g;
    if (cs_scene_create(ctx, p->count, p->sh_degree, &g) != CS_OK) return NULL;
    cs_scene_params gp = cs_scene_get_params(g);
    memset(gp.means, 0, (size_t)block_floats(p) * sizeof(float));
    return g;
}

typedef struct prod_result {
    cs_scene *grads;
    float *norm;
    int32_t *radii;
    int simd; /* the forward's kernel set (cs_render_stats.simd) */
} prod_result;

static void prod_free(prod_result *r) {
    cs_scene_destroy(r->grads);
    free(r->norm);
    free(r->radii);
}

/* Forward + backward with the production code; d_rgb = w. */
/* The forward and backward with the kernels of `level` (CS_SIMD_SCALAR: the scalar pair, as
 * CSPLAT_SCALAR=1; higher: the best the CPU has up to it), or the renderer's default with -1. */
static prod_result prod_backward_at(cs_context *ctx, const cs_scene *scene, const cs_camera *cam,
                                    const cs_render_options *opt, const double *w, int level) {
    cs_scene_params p = cs_scene_get_params((cs_scene *)scene);
    prod_result res = {zero_grads(ctx, &p), malloc((size_t)p.count * sizeof(float) + 4),
                       malloc((size_t)p.count * sizeof(int32_t) + 4), -1};
    cs_image rgb = fixture_image(cam->width, cam->height, 3);
    cs_image d_rgb = fixture_image(cam->width, cam->height, 3);
    CHECK(res.grads && res.norm && res.radii && rgb.data && d_rgb.data);
    if (!res.grads || !res.norm || !res.radii || !rgb.data || !d_rgb.data) return res;
    for (int64_t k = 0; k < 3 * (int64_t)cam->width * cam->height; k++) d_rgb.data[k] = (float)w[k];
    cs_renderer *r;
    cs_renderer_desc desc = {.force_scalar = level == CS_SIMD_SCALAR};
    CHECK_OK(ctx, cs_renderer_create(ctx, &desc, &r));
    if (level > CS_SIMD_SCALAR) cs__renderer_set_backend(r, cs__render_backend_cpu(level));
    CHECK_OK(ctx, cs__train_forward(r, scene, cam, opt, &rgb));
    cs_render_stats rs;
    cs_renderer_get_stats(r, &rs);
    res.simd = rs.simd;
    cs_train_view_stats stats = {.mean2d_grad_norm = res.norm, .radii = res.radii};
    CHECK_OK(ctx, cs__train_backward(r, scene, cam, opt, &d_rgb, res.grads, &stats));
    cs_renderer_destroy(r);
    fixture_image_free(&rgb);
    fixture_image_free(&d_rgb);
    return res;
}

static prod_result prod_backward(cs_context *ctx, const cs_scene *scene, const cs_camera *cam,
                                 const cs_render_options *opt, const double *w, int force_scalar) {
    return prod_backward_at(ctx, scene, cam, opt, w, force_scalar ? CS_SIMD_SCALAR : -1);
}

/* Compare production gradients and view stats with the reference; tol on every group. */
static void compare_with_reference(cs_context *ctx, const cs_scene *scene, const cs_camera *cam,
                                   int degree, float scale_modifier, int force_scalar, double tol,
                                   unsigned long long seed, const char *label) {
    cs_scene_params p = cs_scene_get_params((cs_scene *)scene);
    int64_t nout = 3 * (int64_t)cam->width * cam->height;
    double *w = random_weights(nout, seed);
    ref_grads g;
    CHECK(w && ref_grads_alloc(&g, &p));
    if (!w || !g.means) return;
    ref_options ro = {.background = {0.25, 0.5, 1.0},
                      .sh_degree = degree,
                      .scale_modifier = scale_modifier,
                      .tile_support = 1};
    CHECK(ref_render_bwd(&p, cam, &ro, w, &g));
    cs_render_options opt = {.background = {0.25f, 0.5f, 1.0f},
                             .sh_bands = degree + 1,
                             .scale_modifier = scale_modifier};
    prod_result res = prod_backward(ctx, scene, cam, &opt, w, force_scalar);
    if (res.grads) {
        cs_scene_params gp = cs_scene_get_params(res.grads);
        group_err e = {0};
        for (int64_t q = 0; q < block_floats(&p); q++)
            group_add(&e, group_of(&p, q), (double)gp.means[q], ref_grad_at(&g, &p, q));
        /* View stats: radii exactly; the NDC mean2D gradient norm like any gradient. */
        int64_t radius_off = 0, visible = 0;
        double num = 0, den = 0;
        for (int64_t i = 0; i < p.count; i++) {
            radius_off += res.radii[i] != (int32_t)g.radius[i];
            visible += res.radii[i] > 0;
            double gx = g.mean2d[2 * i] * 0.5 * cam->width;
            double gy = g.mean2d[2 * i + 1] * 0.5 * cam->height;
            double ref_norm = sqrt(gx * gx + gy * gy);
            num += ((double)res.norm[i] - ref_norm) * ((double)res.norm[i] - ref_norm);
            den += ref_norm * ref_norm;
        }
        char full[160];
        snprintf(full, sizeof full, "%s %dx%d N=%lld deg %d of %d (%lld visible)", label,
                 cam->width, cam->height, (long long)p.count, degree, p.sh_degree,
                 (long long)visible);
        group_check(&e, tol, full);
        double norm_err = den > 0 ? sqrt(num / den) : 0;
        test_note("  mean2D NDC gradient norm rel L2 %.2e; radii differing %lld", norm_err,
                  (long long)radius_off);
        CHECK_MSG(norm_err < tol, "mean2D norm error %g", norm_err);
        CHECK_MSG(radius_off == 0, "%lld radii differ from the reference", (long long)radius_off);
    }
    prod_free(&res);
    ref_grads_free(&g);
    free(w);
}

TEST(render_bwd_matches_reference_clear) {
    static const fd_case cases[] = {
        {40, 32, 8, 3, 1.0f, 3, 21},
        {64, 48, 10, 2, 1.0f, 2, 22},
        {37, 53, 6, 1, 0.8f, 0, 23},
        {50, 20, 7, 0, 1.0f, 4, 24},
    };
    cs_context *ctx = test_context(2);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const fd_case *k = &cases[c];
        float eye[3] = {-0.5f, -5, 1}, target[3] = {0.1f, 0, 0.2f};
        cs_camera cam =
            fixture_camera(k->width, k->height, 1.2f * (float)k->width, eye, target, -2.0f, 1.25f);
        cs_scene *scene = clear_scene(ctx, &cam, k->n, k->degree, k->outside, k->seed);
        CHECK(scene != NULL);
        if (!scene) continue;
        compare_with_reference(ctx, scene, &cam, k->degree, k->scale_modifier, 0, 1e-3,
                               200 + k->seed, "clear");
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

TEST(render_bwd_matches_reference_random) {
    static const fd_case cases[] = {
        {160, 120, 1500, 3, 1.0f, 0, 31},
        {131, 77, 800, 1, 1.0f, 0, 32},
        {96, 96, 1200, 2, 1.0f, 0, 33},
        {64, 48, 400, 0, 1.0f, 0, 34},
    };
    cs_context *ctx = test_context(2);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const fd_case *k = &cases[c];
        float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
        cs_camera cam =
            fixture_camera(k->width, k->height, 0.9f * (float)k->width, eye, target, 3.5f, -2.25f);
        cs_scene *scene = fixture_random_scene(ctx, &cam, k->n, k->degree, k->seed);
        CHECK(scene != NULL);
        if (!scene) continue;
        /* Both forward kernels (SIMD when the CPU has it, and scalar), and once with fewer SH
         * bands than the scene holds: the higher bands must get exactly zero. */
        compare_with_reference(ctx, scene, &cam, k->degree, 1.0f, 0, 1e-3, 300 + k->seed, "random");
        compare_with_reference(ctx, scene, &cam, k->degree, 1.0f, 1, 1e-3, 300 + k->seed,
                               "random, scalar forward");
        if (k->degree > 0)
            compare_with_reference(ctx, scene, &cam, k->degree - 1, 1.0f, 0, 1e-3, 400 + k->seed,
                                   "random, fewer bands");
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

/* ---- determinism, accumulation, arguments ---- */

TEST(render_bwd_thread_count_invariant) {
    float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
    cs_camera cam = fixture_camera(250, 170, 220.0f, eye, target, 3.5f, -2.25f);
    cs_context *ctx1 = test_context(1);
    cs_scene *scene = fixture_random_scene(ctx1, &cam, 5000, 3, 41);
    CHECK(scene != NULL);
    if (!scene) {
        cs_context_destroy(ctx1);
        return;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    double *w = random_weights(3 * (int64_t)cam.width * cam.height, 42);
    cs_render_options opt = {.background = {0.1f, 0.2f, 0.3f}};
    for (int scalar = 0; scalar < 2; scalar++) {
        prod_result one = prod_backward(ctx1, scene, &cam, &opt, w, scalar);
        for (int threads = 2; threads <= 4; threads += 2) {
            cs_context *ctx = test_context(threads);
            prod_result many = prod_backward(ctx, scene, &cam, &opt, w, scalar);
            if (one.grads && many.grads) {
                cs_scene_params a = cs_scene_get_params(one.grads);
                cs_scene_params b = cs_scene_get_params(many.grads);
                size_t bytes = (size_t)block_floats(&p) * sizeof(float);
                CHECK_MSG(memcmp(a.means, b.means, bytes) == 0,
                          "%d threads (scalar %d): gradients differ from 1 thread", threads,
                          scalar);
                CHECK(memcmp(one.norm, many.norm, (size_t)p.count * sizeof(float)) == 0);
                CHECK(memcmp(one.radii, many.radii, (size_t)p.count * sizeof(int32_t)) == 0);
            }
            prod_free(&many);
            cs_context_destroy(ctx);
        }
        prod_free(&one);
    }
    free(w);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx1);
}

TEST(render_bwd_accumulates_and_checks_arguments) {
    cs_context *ctx = test_context(2);
    float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
    cs_camera cam = fixture_camera(64, 48, 60.0f, eye, target, 0, 0);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 300, 2, 51);
    CHECK(scene != NULL);
    if (!scene) {
        cs_context_destroy(ctx);
        return;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    cs_scene *g1 = zero_grads(ctx, &p), *g2 = zero_grads(ctx, &p), *bad = NULL;
    CHECK_OK(ctx, cs_scene_create(ctx, p.count, 1, &bad));
    cs_image rgb = fixture_image(64, 48, 3), d_rgb = fixture_image(64, 48, 3);
    cs_image d_small = fixture_image(32, 48, 3);
    for (int k = 0; k < 64 * 48 * 3; k++) d_rgb.data[k] = (float)((k % 7) - 3) * 0.25f;
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs_render_options opt = {.background = {1, 1, 1}};

    /* No forward yet. */
    CHECK(cs__train_backward(r, scene, &cam, &opt, &d_rgb, g1, NULL) == CS_ERR_ARGUMENT);
    CHECK_OK(ctx, cs__train_forward(r, scene, &cam, &opt, &rgb));
    CHECK_OK(ctx, cs__train_backward(r, scene, &cam, &opt, &d_rgb, g1, NULL));
    /* Twice into g2: exactly twice g1 (the backward adds). */
    CHECK_OK(ctx, cs__train_backward(r, scene, &cam, &opt, &d_rgb, g2, NULL));
    CHECK_OK(ctx, cs__train_backward(r, scene, &cam, &opt, &d_rgb, g2, NULL));
    cs_scene_params a = cs_scene_get_params(g1), b = cs_scene_get_params(g2);
    int64_t off = 0, nonzero = 0;
    for (int64_t k = 0; k < block_floats(&p); k++) {
        off += b.means[k] != 2.0f * a.means[k];
        nonzero += a.means[k] != 0.0f;
    }
    CHECK_MSG(off == 0, "%lld values are not doubled", (long long)off);
    CHECK(nonzero > 1000);

    /* Shapes that do not match the frame. */
    CHECK(cs__train_backward(r, scene, &cam, &opt, &d_small, g1, NULL) == CS_ERR_ARGUMENT);
    CHECK(cs__train_backward(r, scene, &cam, &opt, &d_rgb, bad, NULL) == CS_ERR_ARGUMENT);
    cs_camera moved = cam;
    moved.t[0] += 0.1f;
    CHECK(cs__train_backward(r, scene, &moved, &opt, &d_rgb, g1, NULL) == CS_ERR_ARGUMENT);
    cs_render_options black = {.background = {0, 0, 0}};
    CHECK(cs__train_backward(r, scene, &cam, &black, &d_rgb, g1, NULL) == CS_ERR_ARGUMENT);
    CHECK(cs__train_backward(r, scene, &cam, &opt, NULL, g1, NULL) == CS_ERR_ARGUMENT);
    test_note("error message: %s", cs_context_last_error(ctx));

    cs_renderer_destroy(r);
    fixture_image_free(&rgb);
    fixture_image_free(&d_rgb);
    fixture_image_free(&d_small);
    cs_scene_destroy(g1);
    cs_scene_destroy(g2);
    cs_scene_destroy(bad);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

/* The AVX2 backward (after the AVX2 forward) and the AVX-512 one (after the AVX-512 forward)
 * against the scalar pair: the same gradients up to rounding, and a contribution within rounding
 * of a cut-off that flips (about 1e-7 relative, see cpu/raster_bwd_avx2.c). Tolerance: relative
 * L2 1e-4 per group. */
TEST(render_bwd_simd_matches_scalar) {
    if (!cs__cpu_has_avx2_fma()) SKIP("this CPU has no AVX2+FMA: only the scalar kernels run");
    cs_context *ctx = test_context(2);
    static const fd_case cases[] = {{250, 170, 5000, 3, 1.0f, 0, 61},
                                    {97, 131, 2000, 1, 1.0f, 0, 62}};
    static const int levels[] = {CS_SIMD_AVX2, CS_SIMD_AVX512};
    for (int l = 0; l < 2; l++) {
        if (levels[l] == CS_SIMD_AVX512 && !cs__cpu_has_avx512()) {
            test_note("this CPU has no AVX-512: its backward is not compared");
            continue;
        }
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const fd_case *k = &cases[c];
            float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
            cs_camera cam = fixture_camera(k->width, k->height, 0.9f * (float)k->width, eye, target,
                                           3.5f, -2.25f);
            cs_scene *scene = fixture_random_scene(ctx, &cam, k->n, k->degree, k->seed);
            CHECK(scene != NULL);
            if (!scene) continue;
            cs_scene_params p = cs_scene_get_params(scene);
            double *w = random_weights(3 * (int64_t)cam.width * cam.height, 500 + k->seed);
            cs_render_options opt = {.background = {0.3f, 0.3f, 0.3f}};
            prod_result simd = prod_backward_at(ctx, scene, &cam, &opt, w, levels[l]);
            CHECK(simd.simd == levels[l]); /* the kernels asked for did run */
            prod_result scalar = prod_backward_at(ctx, scene, &cam, &opt, w, CS_SIMD_SCALAR);
            if (simd.grads && scalar.grads) {
                cs_scene_params a = cs_scene_get_params(simd.grads);
                cs_scene_params b = cs_scene_get_params(scalar.grads);
                group_err e = {0};
                for (int64_t q = 0; q < block_floats(&p); q++)
                    group_add(&e, group_of(&p, q), (double)a.means[q], (double)b.means[q]);
                char label[96];
                snprintf(label, sizeof label, "%s vs scalar %dx%d N=%d deg %d",
                         levels[l] == CS_SIMD_AVX512 ? "avx512" : "avx2", k->width, k->height, k->n,
                         k->degree);
                group_check(&e, 1e-4, label);
            }
            prod_free(&simd);
            prod_free(&scalar);
            free(w);
            cs_scene_destroy(scene);
        }
    }
    cs_context_destroy(ctx);
}

/* Every allocation of the backward scratch can fail: CS_ERR_NOMEM with a message, nothing
 * leaked (the sanitizer build checks), and the next call succeeds. An empty scene works. */
TEST(render_bwd_allocation_failures_and_empty_scene) {
    cs_context *ctx = test_context(2);
    float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
    cs_camera cam = fixture_camera(48, 40, 50.0f, eye, target, 0, 0);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 200, 1, 71);
    CHECK(scene != NULL);
    if (!scene) {
        cs_context_destroy(ctx);
        return;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    cs_image rgb = fixture_image(48, 40, 3), d_rgb = fixture_image(48, 40, 3);
    for (int k = 0; k < 48 * 40 * 3; k++) d_rgb.data[k] = 0.5f;
    cs_render_options opt = {0};
    int failures = 0;
    for (long n = 1; n <= 8; n++) {
        cs_scene *g = zero_grads(ctx, &p);
        cs_renderer *r;
        CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
        CHECK_OK(ctx, cs__train_forward(r, scene, &cam, &opt, &rgb));
        cs__test_fail_alloc_after(n);
        cs_status st = cs__train_backward(r, scene, &cam, &opt, &d_rgb, g, NULL);
        cs__test_fail_alloc_after(0);
        if (st != CS_OK) {
            failures++;
            CHECK(st == CS_ERR_NOMEM);
            CHECK_OK(ctx, cs__train_backward(r, scene, &cam, &opt, &d_rgb, g, NULL));
        }
        cs_renderer_destroy(r);
        cs_scene_destroy(g);
    }
    test_note("%d injected allocation failures reported as CS_ERR_NOMEM", failures);
    CHECK(failures >= 4); /* the scratch record and its four arrays */

    cs_scene *empty = NULL, *g0 = NULL;
    CHECK_OK(ctx, cs_scene_create(ctx, 0, 0, &empty));
    CHECK_OK(ctx, cs_scene_create(ctx, 0, 0, &g0));
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, cs__train_forward(r, empty, &cam, &opt, &rgb));
    cs_train_view_stats stats = {0};
    CHECK_OK(ctx, cs__train_backward(r, empty, &cam, &opt, &d_rgb, g0, &stats));
    cs_renderer_destroy(r);
    cs_scene_destroy(empty);
    cs_scene_destroy(g0);
    fixture_image_free(&rgb);
    fixture_image_free(&d_rgb);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}
