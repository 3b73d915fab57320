/*
 * adam.c - Adam over the Gaussian parameter block with the reference 3DGS learning rates.
 *
 * The update is torch.optim.Adam's single-tensor path (no weight decay, no AMSGrad), element by
 * element in float32 with the step scalars in double as torch computes them:
 *     m += (1 - b1) (g - m)                      (exp_avg.lerp_(grad, 1 - b1))
 *     v  = b2 v + (1 - b2) g g                   (exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2))
 *     p += -(lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * b1 = 0.9, b2 = 0.999, eps = 1e-15 (3DGS passes eps=1e-15). Every element of a group is
 * updated every step, including Gaussians the current view did not see: the reference's
 * gradients are dense tensors with zeros there, so their momentum keeps moving them.
 *
 * Learning rates (arguments/__init__.py OptimizationParams, gaussian_model.py training_setup):
 * position 1.6e-4 -> 1.6e-6 (times spatial_lr_scale = the scene extent) by get_expon_lr_func over
 * position_lr_max_steps = 30,000 (delay steps 0, so the delay multiplier has no effect); f_dc
 * 2.5e-3; f_rest 2.5e-3 / 20; opacity 0.025; scaling 5e-3; rotation 1e-3.
 *
 * The SH block interleaves the two colour groups per Gaussian: its first 3 floats (the DC term,
 * RGB) are f_dc, the other 3 (K - 1) are f_rest. Coefficients of bands above the degree in use
 * are skipped: their gradient, moments and so their update are exactly 0 until the band is
 * switched on, so skipping them changes no bit and saves most of the work early in a run.
 * Threads split the Gaussians; each element is independent, so results do not depend on the
 * thread count.
 *
 * The step consumes the gradient: each element read is set to 0, so the next backward (which
 * adds) starts from zero without a separate clearing pass over the block.
 */
#include "render.h"
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The per-group constants of one step. */
typedef struct group_step {
    cs__adam_consts c;
    int active; /* 0: skipped this step */
} group_step;

typedef struct adam_job {
    const cs__adam *adam;
    cs__adam_kernel kernel;
    cs__adam_sh_kernel sh_kernel;
    group_step gs[CS_GROUPS];
    cs_scene_params p, m, v;
    float *g_block; /* grads, same layout as p */
    const float *p_block;
    int sh_active; /* SH coefficients per channel in use */
} adam_job;

void cs__adam_update_scalar(float *p, float *m, float *v, float *g, int64_t n,
                            const cs__adam_consts *c) {
    float b1 = c->beta1, b2 = c->beta2, w1 = 1.0f - b1, w2 = 1.0f - b2;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        g[i] = 0.0f;
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] * b2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / c->bc2s + c->eps;
        p[i] = p[i] + -c->step * (mi / denom);
    }
}

void cs__adam_update_sh_scalar(float *p, float *m, float *v, float *g, int64_t count,
                               int64_t stride, int len, const cs__adam_consts *dc,
                               const cs__adam_consts *rest) {
    for (int64_t i = 0; i < count; i++) {
        int64_t o = i * stride;
        cs__adam_update_scalar(p + o, m + o, v + o, g + o, len < 3 ? len : 3, dc);
        if (len > 3)
            cs__adam_update_scalar(p + o + 3, m + o + 3, v + o + 3, g + o + 3, len - 3, rest);
    }
}

static void pick_kernels(cs__adam_kernel *elements, cs__adam_sh_kernel *sh) {
    const char *env = getenv("CSPLAT_SCALAR");
    bool scalar = env && *env && strcmp(env, "0") != 0;
    *elements = cs__adam_update_scalar;
    *sh = cs__adam_update_sh_scalar;
#if defined(__x86_64__)
    if (!scalar && cs__cpu_has_avx2_fma()) {
        *elements = cs__adam_update_avx2;
        *sh = cs__adam_update_sh_avx2;
    }
#endif
    (void)scalar;
}

static void adam_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const adam_job *j = user;
    const cs_scene_params *p = &j->p, *m = &j->m, *v = &j->v;
    /* The gradient arrays sit at the same offsets in their block as the parameters in theirs. */
#define GRAD(field) (j->g_block + (p->field - j->p_block))
    int64_t n = end - begin;
    cs__adam_kernel update = j->kernel;
    if (j->gs[CS_GROUP_MEANS].active)
        update(p->means + 3 * begin, m->means + 3 * begin, v->means + 3 * begin,
               GRAD(means) + 3 * begin, 3 * n, &j->gs[CS_GROUP_MEANS].c);
    if (j->gs[CS_GROUP_SCALES].active)
        update(p->log_scales + 3 * begin, m->log_scales + 3 * begin, v->log_scales + 3 * begin,
               GRAD(log_scales) + 3 * begin, 3 * n, &j->gs[CS_GROUP_SCALES].c);
    if (j->gs[CS_GROUP_QUATS].active)
        update(p->quats + 4 * begin, m->quats + 4 * begin, v->quats + 4 * begin,
               GRAD(quats) + 4 * begin, 4 * n, &j->gs[CS_GROUP_QUATS].c);
    if (j->gs[CS_GROUP_OPACITY].active)
        update(p->opacities + begin, m->opacities + begin, v->opacities + begin,
               GRAD(opacities) + begin, n, &j->gs[CS_GROUP_OPACITY].c);
    int64_t k3 = 3 * (int64_t)p->sh_coeffs, rest = 3 * (int64_t)j->sh_active - 3;
    float *gsh = GRAD(sh);
#undef GRAD
    if (j->gs[CS_GROUP_SH_DC].active && j->gs[CS_GROUP_SH_REST].active) {
        j->sh_kernel(p->sh + k3 * begin, m->sh + k3 * begin, v->sh + k3 * begin, gsh + k3 * begin,
                     n, k3, 3 + (int)rest, &j->gs[CS_GROUP_SH_DC].c, &j->gs[CS_GROUP_SH_REST].c);
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float *ps = p->sh + k3 * i, *ms = m->sh + k3 * i, *vs = v->sh + k3 * i;
        float *g = gsh + k3 * i;
        if (j->gs[CS_GROUP_SH_DC].active) update(ps, ms, vs, g, 3, &j->gs[CS_GROUP_SH_DC].c);
        if (j->gs[CS_GROUP_SH_REST].active && rest > 0)
            update(ps + 3, ms + 3, vs + 3, g + 3, rest, &j->gs[CS_GROUP_SH_REST].c);
    }
}

void cs__adam_step(cs_context *ctx, cs__adam *adam, cs__gset *g, cs_scene *grads, unsigned skip,
                   int sh_active) {
    CS_ASSERT(grads->p.count == g->params->p.count && grads->p.sh_coeffs == g->params->p.sh_coeffs);
    CS_ASSERT(sh_active >= 1 && sh_active <= g->params->p.sh_coeffs);
    adam_job job = {.adam = adam,
                    .p = g->params->p,
                    .m = g->m->p,
                    .v = g->v->p,
                    .g_block = grads->block,
                    .p_block = g->params->block,
                    .sh_active = sh_active};
    pick_kernels(&job.kernel, &job.sh_kernel);
    for (int k = 0; k < CS_GROUPS; k++) {
        if (skip & (1u << k)) continue;
        int64_t t = ++adam->steps[k];
        double bc1 = 1.0 - pow((double)adam->beta1, (double)t);
        double bc2 = 1.0 - pow((double)adam->beta2, (double)t);
        job.gs[k].c = (cs__adam_consts){(float)((double)adam->lr[k] / bc1), (float)sqrt(bc2),
                                        adam->beta1, adam->beta2, adam->eps};
        job.gs[k].active = 1;
    }
    cs__parallel_for(ctx, g->params->p.count, 4096, adam_range, &job);
}

void cs__adam_schedule(cs__adam *adam, int64_t it, float extent, int64_t max_steps) {
    double s = max_steps > 0 ? (double)it / (double)max_steps : 1.0;
    s = s < 0.0 ? 0.0 : s > 1.0 ? 1.0 : s;
    double lr0 = 1.6e-4 * (double)extent, lr1 = 1.6e-6 * (double)extent;
    /* A zero extent (one camera) would give log(0) and, at s = 1, 0 * -inf. */
    adam->lr[CS_GROUP_MEANS] =
        extent > 0.0f ? (float)exp((1.0 - s) * log(lr0) + s * log(lr1)) : 0.0f;
    adam->lr[CS_GROUP_SH_DC] = 2.5e-3f;
    adam->lr[CS_GROUP_SH_REST] = 2.5e-3f / 20.0f;
    adam->lr[CS_GROUP_OPACITY] = 0.025f;
    adam->lr[CS_GROUP_SCALES] = 5e-3f;
    adam->lr[CS_GROUP_QUATS] = 1e-3f;
    adam->beta1 = 0.9f;
    adam->beta2 = 0.999f;
    adam->eps = 1e-15f;
}
