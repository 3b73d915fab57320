/*
 * test_adam.c - Adam (src/adam.c) against steps computed by hand from torch.optim.Adam's
 * formulas in double, the reference's learning-rate schedule, per-group skipping, the inactive
 * SH bands, and the consumed gradient.
 */
#include "test.h"
#include "trainer.h"

#include <math.h>
#include <string.h>

/* torch.optim.Adam, one element, t = 1, 2, ...: returns p after `steps` steps with the given
 * gradients. */
static double hand_adam(double p, const double *g, int steps, double lr) {
    double m = 0, v = 0;
    for (int t = 1; t <= steps; t++) {
        m = 0.9 * m + 0.1 * g[t - 1];
        v = 0.999 * v + 0.001 * g[t - 1] * g[t - 1];
        double mhat = m / (1 - pow(0.9, t)), vhat = v / (1 - pow(0.999, t));
        p -= lr * mhat / (sqrt(vhat) + 1e-15);
    }
    return p;
}

TEST(adam_matches_hand_computed_steps) {
    cs_context *ctx = test_context(2);
    cs__gset g;
    CHECK_OK(ctx, cs__gset_create(ctx, 3, 1, &g)); /* K = 4 */
    cs_scene *grads;
    CHECK_OK(ctx, cs__scene_zeros(ctx, 3, 1, &grads));
    cs_scene_params p = g.params->p, d = grads->p;
    cs__adam adam = {0};
    cs__adam_schedule(&adam, 1, 2.0f, 30000);
    const double gv[2][2] = {{0.5, -0.25}, {-3e-3, 7e-3}}; /* two elements' gradients per step */
    for (int step = 0; step < 2; step++) {
        d.means[4] = (float)gv[0][step];       /* Gaussian 1, y */
        d.opacities[2] = (float)gv[1][step];   /* Gaussian 2 */
        d.sh[12 * 1 + 0] = (float)gv[0][step]; /* Gaussian 1, DC red */
        d.sh[12 * 1 + 5] = (float)gv[1][step]; /* Gaussian 1, coefficient 1, blue (f_rest) */
        d.quats[4 * 0 + 2] = (float)gv[1][step];
        d.log_scales[3 * 2 + 1] = (float)gv[0][step];
        cs__adam_step(ctx, &adam, &g, grads, 0, 4);
    }
    double g0[2] = {gv[0][0], gv[0][1]}, g1[2] = {gv[1][0], gv[1][1]};
    /* Position lr at iteration 1: one 30,000th of the way from 1.6e-4 to 1.6e-6 (x extent 2). */
    double lr_pos = exp((1 - 1 / 30000.0) * log(3.2e-4) + (1 / 30000.0) * log(3.2e-6));
    CHECK_NEAR(p.means[4], hand_adam(0.0, g0, 2, lr_pos), 1e-10);
    CHECK_NEAR(p.opacities[2], hand_adam(0.0, g1, 2, 0.025), 1e-7);
    CHECK_NEAR(p.sh[12 + 0], hand_adam(0.0, g0, 2, 2.5e-3), 1e-8);
    CHECK_NEAR(p.sh[12 + 5], hand_adam(0.0, g1, 2, 2.5e-3 / 20), 1e-9);
    CHECK_NEAR(p.quats[2], hand_adam(0.0, g1, 2, 1e-3), 1e-8);
    CHECK_NEAR(p.log_scales[7], hand_adam(0.0, g0, 2, 5e-3), 1e-8);
    /* Untouched elements stay exactly where they were; quaternion w stays 1. */
    CHECK(p.means[0] == 0.0f && p.quats[0] == 1.0f && p.opacities[0] == 0.0f);
    for (int k = 0; k < CS_GROUPS; k++) CHECK(adam.steps[k] == 2);
    /* The gradient was consumed. */
    for (int i = 0; i < 3 * 3; i++) CHECK(d.means[i] == 0.0f && d.log_scales[i] == 0.0f);
    CHECK(d.sh[12 + 0] == 0.0f && d.sh[12 + 5] == 0.0f && d.opacities[2] == 0.0f);

    /* A third step with momentum only: zero gradient still moves the parameter (dense Adam). */
    float before = p.means[4];
    cs__adam_step(ctx, &adam, &g, grads, 0, 4);
    CHECK(p.means[4] != before);

    /* Skipped groups keep parameters, moments, step counts and their gradient. */
    d.opacities[2] = 1.0f;
    float op = p.opacities[2], mo = g.m->p.opacities[2];
    cs__adam_step(ctx, &adam, &g, grads, 1u << CS_GROUP_OPACITY, 4);
    CHECK(p.opacities[2] == op && g.m->p.opacities[2] == mo && d.opacities[2] == 1.0f);
    CHECK(adam.steps[CS_GROUP_OPACITY] == 3 && adam.steps[CS_GROUP_MEANS] == 4);

    /* Bands above the active ones are not touched even with a (stray) gradient. */
    d.sh[12 * 2 + 9] = 1.0f; /* Gaussian 2, coefficient 3 */
    cs__adam_step(ctx, &adam, &g, grads, 0, 1);
    CHECK(p.sh[12 * 2 + 9] == 0.0f && d.sh[12 * 2 + 9] == 1.0f);
    cs_scene_destroy(grads);
    cs__gset_destroy(&g);
    cs_context_destroy(ctx);
}

TEST(adam_schedule_follows_the_reference) {
    cs__adam a = {0};
    cs__adam_schedule(&a, 0, 3.0f, 30000);
    CHECK_NEAR(a.lr[CS_GROUP_MEANS], 1.6e-4 * 3.0, 1e-9);
    cs__adam_schedule(&a, 15000, 3.0f, 30000);
    CHECK_NEAR(a.lr[CS_GROUP_MEANS], 1.6e-5 * 3.0, 1e-10); /* geometric mean */
    cs__adam_schedule(&a, 30000, 3.0f, 30000);
    CHECK_NEAR(a.lr[CS_GROUP_MEANS], 1.6e-6 * 3.0, 1e-11);
    cs__adam_schedule(&a, 45000, 3.0f, 30000);
    CHECK_NEAR(a.lr[CS_GROUP_MEANS], 1.6e-6 * 3.0, 1e-11);
    CHECK(a.lr[CS_GROUP_SH_DC] == 2.5e-3f && a.lr[CS_GROUP_SH_REST] == 2.5e-3f / 20.0f);
    CHECK(a.lr[CS_GROUP_OPACITY] == 0.025f && a.lr[CS_GROUP_SCALES] == 5e-3f &&
          a.lr[CS_GROUP_QUATS] == 1e-3f);
    CHECK(a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-15f);
    cs__adam_schedule(&a, 100, 0.0f, 30000); /* one camera: no NaN */
    CHECK(a.lr[CS_GROUP_MEANS] == 0.0f);
}

TEST(adam_avx2_kernel_is_bit_identical_to_scalar) {
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        SKIP("the CPU has no AVX2+FMA");
    enum { N = 1003 };
    static float p[2][N], m[2][N], v[2][N], g[2][N];
    test_rng r = test_rng_seed(21);
    for (int i = 0; i < N; i++) {
        p[0][i] = (float)test_rng_normal(&r);
        m[0][i] = (float)(1e-3 * test_rng_normal(&r));
        v[0][i] = (float)(1e-6 * test_rng_uniform(&r));
        g[0][i] = (float)(i % 7 == 0 ? 0.0 : 1e-2 * test_rng_normal(&r));
    }
    memcpy(p[1], p[0], sizeof p[0]), memcpy(m[1], m[0], sizeof m[0]);
    memcpy(v[1], v[0], sizeof v[0]), memcpy(g[1], g[0], sizeof g[0]);
    float p5 = p[0][5];
    cs__adam_consts c = {1.3e-3f, 0.0447f, 0.9f, 0.999f, 1e-15f};
    cs__adam_update_scalar(p[0], m[0], v[0], g[0], N, &c);
    cs__adam_update_avx2(p[1], m[1], v[1], g[1], N, &c);
    CHECK(memcmp(p[0], p[1], sizeof p[0]) == 0 && memcmp(m[0], m[1], sizeof m[0]) == 0);
    CHECK(memcmp(v[0], v[1], sizeof v[0]) == 0 && memcmp(g[0], g[1], sizeof g[0]) == 0);
    CHECK(g[1][5] == 0.0f && p[1][5] != p5); /* consumed the gradient, moved the parameter */
#else
    SKIP("not an x86-64 build");
#endif
}

TEST(adam_sh_block_kernels_match_two_group_updates) {
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        SKIP("the CPU has no AVX2+FMA");
    /* 37 Gaussians of stride 48 (degree 3), every active length the degree warm-up uses. Copy 0:
     * the element kernel per group, as adam.c did before the block kernels; 1: the scalar block
     * kernel; 2: the AVX2 one. All three must agree bit for bit, and leave the floats past
     * len untouched. */
    enum { COUNT = 37, STRIDE = 48, N = COUNT * STRIDE };
    static float p[3][N], m[3][N], v[3][N], g[3][N];
    const int lens[] = {3, 12, 27, 48};
    const cs__adam_consts dc = {2.1e-3f, 0.0447f, 0.9f, 0.999f, 1e-15f};
    const cs__adam_consts rest = {1.1e-4f, 0.0447f, 0.9f, 0.999f, 1e-15f};
    for (int l = 0; l < 4; l++) {
        int len = lens[l];
        test_rng r = test_rng_seed(33 + (uint64_t)l);
        for (int i = 0; i < N; i++) {
            p[0][i] = (float)test_rng_normal(&r);
            m[0][i] = (float)(1e-3 * test_rng_normal(&r));
            v[0][i] = (float)(1e-6 * test_rng_uniform(&r));
            g[0][i] = (float)(i % 11 == 0 ? 0.0 : 1e-2 * test_rng_normal(&r));
        }
        for (int k = 1; k < 3; k++) {
            memcpy(p[k], p[0], sizeof p[0]), memcpy(m[k], m[0], sizeof m[0]);
            memcpy(v[k], v[0], sizeof v[0]), memcpy(g[k], g[0], sizeof g[0]);
        }
        float untouched = g[0][STRIDE - 1];
        for (int i = 0; i < COUNT; i++) {
            int o = i * STRIDE;
            cs__adam_update_scalar(p[0] + o, m[0] + o, v[0] + o, g[0] + o, 3, &dc);
            cs__adam_update_scalar(p[0] + o + 3, m[0] + o + 3, v[0] + o + 3, g[0] + o + 3, len - 3,
                                   &rest);
        }
        cs__adam_update_sh_scalar(p[1], m[1], v[1], g[1], COUNT, STRIDE, len, &dc, &rest);
        cs__adam_update_sh_avx2(p[2], m[2], v[2], g[2], COUNT, STRIDE, len, &dc, &rest);
        for (int k = 1; k < 3; k++) {
            CHECK(memcmp(p[0], p[k], sizeof p[0]) == 0 && memcmp(m[0], m[k], sizeof m[0]) == 0);
            CHECK(memcmp(v[0], v[k], sizeof v[0]) == 0 && memcmp(g[0], g[k], sizeof g[0]) == 0);
        }
        CHECK(g[2][STRIDE + 1] == 0.0f); /* consumed */
        if (len < STRIDE) CHECK(g[2][STRIDE - 1] == untouched && untouched != 0.0f);
    }
#else
    SKIP("not an x86-64 build");
#endif
}
