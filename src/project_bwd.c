/*
 * project_bwd.c - the backward of the projection stage (project.c): per visible Gaussian, from
 * dL/d(mean2D, conic, opacity) of its splat to dL/d(mean, log-scales, quaternion, opacity logit).
 * The forward's intermediates are recomputed with the same gmath.h functions rather than stored
 * (about 150 flops, cheaper than 100 bytes of memory traffic per Gaussian), and the chain is the
 * forward's, reversed, through the gmath_bwd.h twins:
 *
 *   o = sigmoid(logit)                                    -> d logit
 *   conic = (cov2D + 0.3 I)^-1                            -> d cov2D
 *   cov2D = J W Sigma W^T J^T  (J clamped; J depends on pv) -> d Sigma, d pv
 *   mean2D = (fx x / z + cx, fy y / z + cy)               -> d pv
 *   pv = W mean + t                                       -> d mean
 *   Sigma = R(q) S S^T R(q)^T, S = exp(log_scale) m       -> d scale -> d log_scale, d R -> d q
 *
 * The radius, the tile rectangle and the near-plane test are discrete: no gradient. Gaussians
 * the forward culled (radius 0) get none. The mean's gradient through the SH view direction comes
 * from sh_bwd.c (d_dir) and joins this one before the single add into d_means, so that adding
 * the gradients of two views is exactly their sum.
 *
 * Shapes: splats/d_splats [N] -> d_means, d_log_scales [N, 3], d_quats [N, 4], d_opacities [N].
 */
#include "gmath_bwd.h"
#include "train_render.h"

#include <math.h>

static void project_bwd_one(const cs_project_bwd_args *a, int64_t i) {
    const cs_view *v = a->view;
    const cs_splat *s = &a->splats[i];
    const cs_splat_grad *g = &a->d_splats[i];

    /* The forward, recomputed (project.c, project_one). */
    float pv[3];
    cs_world_to_view(v->R, v->t, a->means + 3 * i, pv);
    const float *ls = a->log_scales + 3 * i;
    const float *q = a->quats + 4 * i;
    float scale[3] = {expf(ls[0]) * a->scale_modifier, expf(ls[1]) * a->scale_modifier,
                      expf(ls[2]) * a->scale_modifier};
    float Rq[9], cov3d[6], T[6], cov2d[3];
    cs_quat_to_rot(q, Rq);
    cs_cov3d(scale, Rq, cov3d);
    cs_ewa_cov2d(pv, v->fx, v->fy, v->limx, v->limy, v->R, cov3d, T, cov2d);

    a->d_opacities[i] += cs_sigmoid_bwd(s->opacity, g->opacity);

    float d_cov2d[3] = {0.0f, 0.0f, 0.0f}, d_pv[3] = {0.0f, 0.0f, 0.0f};
    float d_cov3d[6] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    cs_conic_bwd(cov2d, g->conic, d_cov2d);
    cs_ewa_cov2d_bwd(pv, v->fx, v->fy, v->limx, v->limy, v->R, cov3d, d_cov2d, d_pv, d_cov3d);
    float d_uv[2] = {g->x, g->y};
    cs_project_point_bwd(pv, v->fx, v->fy, d_uv, d_pv);
    float d_mean[3] = {a->d_dir[3 * i], a->d_dir[3 * i + 1], a->d_dir[3 * i + 2]};
    cs_world_to_view_bwd(v->R, d_pv, d_mean);
    for (int k = 0; k < 3; k++) a->d_means[3 * i + k] += d_mean[k];

    float d_scale[3] = {0.0f, 0.0f, 0.0f};
    float d_R[9] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    cs_cov3d_bwd(scale, Rq, d_cov3d, d_scale, d_R);
    /* scale = exp(log_scale) m: dscale/dlog_scale = scale. */
    for (int k = 0; k < 3; k++) a->d_log_scales[3 * i + k] += d_scale[k] * scale[k];
    cs_quat_to_rot_bwd(q, d_R, a->d_quats + 4 * i);
}

void cs__project_bwd_range(const cs_project_bwd_args *a, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++)
        if (a->splats[i].radius) project_bwd_one(a, i);
}
