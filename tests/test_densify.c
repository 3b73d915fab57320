/*
 * test_densify.c - adaptive density control (src/densify.c) on hand-made sets: statistics
 * accumulation, clone, split (children drawn from the parent's Gaussian, scale / 1.6), prune by
 * opacity, world size and (optionally) screen size, the cap on the count, the resulting order
 * and moments, and the opacity reset; plus the initial Gaussians' nearest-neighbour scales.
 */
#include "gmath.h"
#include "test.h"
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A set of n Gaussians: Gaussian i at (i, 0, 0), log-scale ls[i], opacity 0.5, SH DC = i,
 * moments m = i + 1, v = 2 (i + 1), gradient statistics grad[i] over one view. */
static void make_set(cs_context *ctx, cs__gset *g, int n, const float *ls, const float *grad) {
    CHECK_OK(ctx, cs__gset_create(ctx, n, 1, g));
    cs_scene_params p = g->params->p;
    for (int i = 0; i < n; i++) {
        p.means[3 * i] = (float)i;
        for (int k = 0; k < 3; k++) p.log_scales[3 * i + k] = ls[i];
        p.sh[12 * i] = (float)i;
        g->m->p.means[3 * i] = (float)(i + 1);
        g->v->p.means[3 * i] = (float)(2 * (i + 1));
        g->grad_accum[i] = grad[i];
        g->denom[i] = 1.0f;
    }
}

static cs__densify_args default_args(void) {
    return (cs__densify_args){.grad_threshold = 2e-4f,
                              .percent_dense = 0.01f,
                              .extent = 10.0f,
                              .min_opacity = 0.005f,
                              .max_screen_radius = 20.0f};
}

TEST(densify_accumulates_visible_gaussians_only) {
    cs_context *ctx = test_context(2);
    cs__gset g;
    CHECK_OK(ctx, cs__gset_create(ctx, 3, 0, &g));
    float norm[3] = {1.0f, 2.0f, 3.0f};
    int32_t radii[3] = {4, 0, 7};
    cs__densify_accumulate(ctx, &g, norm, radii);
    radii[0] = 2;
    cs__densify_accumulate(ctx, &g, norm, radii);
    CHECK(g.grad_accum[0] == 2.0f && g.denom[0] == 2.0f && g.max_radii[0] == 4.0f);
    CHECK(g.grad_accum[1] == 0.0f && g.denom[1] == 0.0f && g.max_radii[1] == 0.0f);
    CHECK(g.grad_accum[2] == 6.0f && g.denom[2] == 2.0f && g.max_radii[2] == 7.0f);
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(densify_clones_small_and_splits_large_gaussians) {
    cs_context *ctx = test_context(2);
    cs__gset g;
    /* 0: low gradient, kept; 1: small (0.05 <= 0.1) with gradient: cloned;
     * 2: large (0.5 > 0.1) with gradient: split; 3: exactly at the threshold, small: cloned. */
    float ls[4] = {logf(0.05f), logf(0.05f), logf(0.5f), logf(0.02f)};
    float grad[4] = {1e-4f, 3e-4f, 5e-4f, 2e-4f};
    make_set(ctx, &g, 4, ls, grad);
    /* Gaussian 2 rotated 90 degrees about z and anisotropic, to check the sample's rotation. */
    cs_scene_params p = g.params->p;
    float q[4] = {cosf(0.7853982f), 0.0f, 0.0f, sinf(0.7853982f)};
    memcpy(p.quats + 8, q, sizeof q);
    p.log_scales[6] = logf(0.5f), p.log_scales[7] = logf(0.01f), p.log_scales[8] = logf(0.02f);
    cs__rng rng = cs__rng_seed(42, 1), copy = rng;
    cs__densify_args a = default_args();
    cs__densify_result r;
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.cloned == 2 && r.split == 1 && r.pruned == 0);
    p = g.params->p;
    CHECK(p.count == 4 - 1 + 2 + 2);
    /* Order: parents 0, 1, 3; clones of 1, 3; children of 2 (first draws, second draws). */
    const float want_x[5] = {0, 1, 3, 1, 3};
    for (int i = 0; i < 5; i++) CHECK(p.means[3 * i] == want_x[i] && p.sh[12 * i] == want_x[i]);
    /* Parents keep their moments, new Gaussians start at zero. */
    CHECK(g.m->p.means[0] == 1.0f && g.m->p.means[3] == 2.0f && g.m->p.means[6] == 4.0f);
    CHECK(g.v->p.means[6] == 8.0f);
    for (int i = 3; i < 7; i++) CHECK(g.m->p.means[3 * i] == 0.0f && g.v->p.means[3 * i] == 0.0f);
    for (int i = 0; i < 7; i++) CHECK(g.grad_accum[i] == 0.0f && g.denom[i] == 0.0f);
    /* Children: scale / 1.6 and mean = parent + R(q) (scale * normal draws), as drawn here. */
    float R[9];
    cs_quat_to_rot(q, R);
    const float s2[3] = {0.5f, 0.01f, 0.02f};
    for (int c = 0; c < 2; c++) {
        float x[3], w[3];
        for (int k = 0; k < 3; k++) x[k] = (float)cs__rng_normal(&copy) * s2[k];
        for (int k = 0; k < 3; k++)
            w[k] = R[3 * k] * x[0] + R[3 * k + 1] * x[1] + R[3 * k + 2] * x[2] + (k == 0 ? 2 : 0);
        int j = 5 + c;
        for (int k = 0; k < 3; k++) {
            CHECK_NEAR(p.means[3 * j + k], w[k], 1e-6);
            CHECK_NEAR(expf(p.log_scales[3 * j + k]), s2[k] / 1.6f, 1e-6);
        }
        CHECK(p.quats[4 * j] == q[0] && p.quats[4 * j + 3] == q[3] && p.sh[12 * j] == 2.0f);
        /* Rotated 90 degrees about z: the sample's large x axis becomes the world's y. */
        CHECK(fabsf(p.means[3 * j] - 2.0f) < 5.0f * 0.01f + 1e-6f);
    }
    CHECK(memcmp(&copy, &rng, sizeof rng) == 0); /* exactly 6 normal draws */
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(densify_prunes_transparent_and_oversized_gaussians) {
    cs_context *ctx = test_context(1);
    cs__gset g;
    float ls[5] = {logf(0.05f), logf(0.05f), logf(2.0f), logf(0.05f), logf(0.05f)};
    float grad[5] = {0, 0, 0, 0, 0};
    make_set(ctx, &g, 5, ls, grad);
    cs_scene_params p = g.params->p;
    p.opacities[1] = logf(0.004f / 0.996f); /* below 0.005 */
    p.opacities[4] = logf(0.006f / 0.994f); /* above */
    g.max_radii[3] = 25.0f;                 /* larger than 20 px on screen */
    cs__rng rng = cs__rng_seed(1, 1);
    cs__densify_args a = default_args();
    cs__densify_result r;
    /* Before the first reset: only the opacity rule. */
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.pruned == 1 && g.params->p.count == 4);
    CHECK(g.params->p.means[3] == 2.0f); /* Gaussian 1 went */

    /* After it: world size > 0.1 extent (2 > 1) goes; the screen rule only when asked (the
     * densification above restarted the radii at zero, so they are set again here). */
    g.max_radii[2] = 25.0f; /* old Gaussian 3, now at 2 */
    a.prune_large = 1;
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.pruned == 1 && g.params->p.count == 3);
    const float after[3] = {0, 3, 4};
    for (int i = 0; i < 3; i++) CHECK(g.params->p.means[3 * i] == after[i]);
    g.max_radii[1] = 25.0f;
    a.screen_prune = 1;
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.pruned == 1 && g.params->p.count == 2);
    CHECK(g.params->p.means[0] == 0.0f && g.params->p.means[3] == 4.0f);
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(densify_respects_the_gaussian_cap) {
    cs_context *ctx = test_context(1);
    cs__gset g;
    float ls[4] = {logf(0.05f), logf(0.05f), logf(0.5f), logf(0.05f)};
    float grad[4] = {3e-4f, 9e-4f, 6e-4f, 3e-4f};
    make_set(ctx, &g, 4, ls, grad);
    cs__rng rng = cs__rng_seed(1, 1);
    cs__densify_args a = default_args();
    a.max_gaussians = 6; /* room for 2 more: the two largest gradients (1 clones, 2 splits) */
    cs__densify_result r;
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.cloned == 1 && r.split == 1 && g.params->p.count == 6);
    const float want[4] = {0, 1, 3, 1}; /* parents 0, 1, 3, clone of 1, then 2's children */
    for (int i = 0; i < 4; i++) CHECK(g.params->p.means[3 * i] == want[i]);
    /* At the cap nothing densifies. */
    for (int i = 0; i < 6; i++) g.grad_accum[i] = 1.0f, g.denom[i] = 1.0f;
    CHECK_OK(ctx, cs__densify_and_prune(ctx, &g, &a, &rng, &r));
    CHECK(r.cloned == 0 && r.split == 0 && g.params->p.count == 6);
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(densify_opacity_reset_caps_and_clears_moments) {
    cs_context *ctx = test_context(1);
    cs__gset g;
    CHECK_OK(ctx, cs__gset_create(ctx, 2, 0, &g));
    g.params->p.opacities[0] = 3.0f;  /* 0.95 */
    g.params->p.opacities[1] = -6.0f; /* 0.0025 */
    g.m->p.opacities[0] = g.v->p.opacities[1] = 1.0f;
    g.m->p.means[0] = 5.0f;
    cs__opacity_reset(&g, 0.01f);
    CHECK_NEAR(cs_sigmoid(g.params->p.opacities[0]), 0.01, 1e-7);
    CHECK_NEAR(g.params->p.opacities[1], -6.0, 1e-5);
    CHECK(g.m->p.opacities[0] == 0.0f && g.v->p.opacities[1] == 0.0f && g.m->p.means[0] == 5.0f);
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(init_nearest_neighbour_scales_are_exact) {
    cs_context *ctx = test_context(2);
    const int n = 1500;
    float *xyz = malloc(3 * n * sizeof *xyz), *d2 = malloc(n * sizeof *d2);
    test_rng r = test_rng_seed(3);
    /* A clustered, anisotropic cloud (a slab plus a dense blob) and duplicate points. */
    for (int i = 0; i < n; i++) {
        bool blob = i % 3 == 0;
        xyz[3 * i] = (float)(blob ? 0.01 * test_rng_normal(&r) : 4 * test_rng_uniform(&r));
        xyz[3 * i + 1] = (float)(blob ? 0.01 * test_rng_normal(&r) : 2 * test_rng_uniform(&r));
        xyz[3 * i + 2] = (float)(blob ? 0.01 * test_rng_normal(&r) : 0.05 * test_rng_uniform(&r));
    }
    memcpy(xyz + 3, xyz, 3 * sizeof *xyz);
    CHECK_OK(ctx, cs__knn3_mean_dist2(ctx, xyz, n, d2));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float best[3] = {INFINITY, INFINITY, INFINITY};
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            float dx = xyz[3 * j] - xyz[3 * i], dy = xyz[3 * j + 1] - xyz[3 * i + 1];
            float dz = xyz[3 * j + 2] - xyz[3 * i + 2], d = dx * dx + dy * dy + dz * dz;
            if (d < best[2]) {
                best[2] = d;
                for (int k = 2; k > 0 && best[k] < best[k - 1]; k--) {
                    float t = best[k];
                    best[k] = best[k - 1];
                    best[k - 1] = t;
                }
            }
        }
        float want = fmaxf((best[0] + best[1] + best[2]) / 3.0f, 1e-7f);
        if (fabsf(d2[i] - want) > 1e-6f * want) bad++;
    }
    CHECK_MSG(bad == 0, "%d of %d points differ from brute force", bad, n);
    CHECK(d2[0] >= 1e-7f && d2[1] >= 1e-7f);
    free(xyz);
    free(d2);
    cs_context_destroy(ctx);
}
