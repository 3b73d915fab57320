/*
 * project.c - the projection stage: each Gaussian's world mean, log-scales, quaternion and
 * opacity logit to a screen-space splat (mean2D, conic, opacity, depth, radius, tile rectangle),
 * exactly as the reference 3DGS preprocess does it (see gmath.h for each step):
 *
 *   cull when view z <= 0.2 (near plane);
 *   Sigma = R(q) S^2 R(q)^T with S = exp(log_scale) * scale_modifier;
 *   cov2D = J W Sigma W^T J^T (J with clamped x/z, y/z) + 0.3 I; cull when det == 0;
 *   conic = cov2D^-1; radius = ceil(3 sqrt(lambda_max)); cull when the tile rectangle is empty;
 *   mean2D = (fx X/Z + cx, fy Y/Z + cy).
 *
 * Then the part of the reference's rule that decides which pixels a splat can change (see
 * bin.c): the pixel box of its alpha >= 1/255 ellipse, and the rectangle narrowed to it
 * (cs_support_box). A splat that can draw nothing keeps its radius (the reference counts it as
 * visible) but gets an empty rectangle.
 *
 * Beyond the reference: Gaussians whose projected values are not finite (NaN/Inf parameters, or
 * an overflowing covariance) are culled instead of poisoning every pixel they would touch.
 *
 * Shapes: means/log_scales [N, 3], quats [N, 4], opacities [N] -> splats [N]. The scalar kernel
 * here is the reference for the AVX2 twin (cpu/project_avx2.c), which handles groups of 8 and
 * calls this one for the rest.
 */
#include "gmath.h"
#include "render.h"

#include <math.h>
#include <string.h>

void cs__view_init(cs_view *view, const cs_camera *cam) {
    memset(view, 0, sizeof *view);
    memcpy(view->R, cam->R, sizeof view->R);
    memcpy(view->t, cam->t, sizeof view->t);
    view->fx = cam->fx;
    view->fy = cam->fy;
    view->cx = cam->cx;
    view->cy = cam->cy;
    view->width = cam->width;
    view->height = cam->height;
    view->tiles_x = (cam->width + CS_TILE - 1) / CS_TILE;
    view->tiles_y = (cam->height + CS_TILE - 1) / CS_TILE;
    /* tan(fov/2) of the reference's symmetric frustum: half the image over the focal length. */
    view->limx = CS_FRUSTUM_CLAMP * (0.5f * (float)cam->width / cam->fx);
    view->limy = CS_FRUSTUM_CLAMP * (0.5f * (float)cam->height / cam->fy);
    cs_camera_center(cam, view->campos);
}

/* Projection of one Gaussian; writes a culled splat (radius 0) when it draws nothing. */
static void project_one(const cs_project_args *a, int64_t i, cs_splat *s) {
    const cs_view *v = a->view;
    s->radius = 0;
    float pv[3];
    cs_world_to_view(v->R, v->t, a->means + 3 * i, pv);
    if (!(pv[2] > CS_NEAR_Z)) return; /* also drops a NaN depth */

    const float *ls = a->log_scales + 3 * i;
    float scale[3] = {expf(ls[0]) * a->scale_modifier, expf(ls[1]) * a->scale_modifier,
                      expf(ls[2]) * a->scale_modifier};
    float Rq[9], cov3d[6], T[6], cov2d[3], conic[3], radius;
    cs_quat_to_rot(a->quats + 4 * i, Rq);
    cs_cov3d(scale, Rq, cov3d);
    cs_ewa_cov2d(pv, v->fx, v->fy, v->limx, v->limy, v->R, cov3d, T, cov2d);
    if (!cs_conic_radius(cov2d, conic, &radius)) return;

    float inv_z = 1.0f / pv[2];
    float u = v->fx * pv[0] * inv_z + v->cx;
    float w = v->fy * pv[1] * inv_z + v->cy;
    if (!isfinite(u) || !isfinite(w) || !isfinite(conic[0]) || !isfinite(conic[1]) ||
        !isfinite(conic[2]) || !isfinite(radius))
        return;
    int rect[4];
    cs_tile_rect(u, w, radius, v->tiles_x, v->tiles_y, rect);
    if ((rect[1] - rect[0]) * (rect[3] - rect[2]) == 0) return;

    s->x = u;
    s->y = w;
    s->conic[0] = conic[0];
    s->conic[1] = conic[1];
    s->conic[2] = conic[2];
    s->opacity = cs_sigmoid(a->opacities[i]);
    s->support = cs_alpha_support(s->opacity);
    s->depth = pv[2];
    s->radius = (int32_t)cs_minf(radius, (float)(1 << 30));
    cs__splat_support(v, s, rect);
}

void cs__splat_support(const cs_view *v, cs_splat *s, int rect[4]) {
    int box[4];
    if (!cs_support_box(s->x, s->y, s->conic, s->support, v->width, v->height, rect, box)) {
        rect[1] = rect[0]; /* draws no pixel: bin lists it nowhere */
        box[0] = 1;
        box[1] = box[2] = box[3] = 0;
    }
    for (int k = 0; k < 4; k++) {
        s->rect[k] = (uint16_t)rect[k];
        s->box[k] = (uint16_t)box[k];
    }
}

void cs__project_range(const cs_project_args *a, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) project_one(a, i, &a->splats[i]);
}

typedef struct project_job {
    const cs_project_args *args;
    cs_project_kernel kernel;
} project_job;

static void project_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const project_job *job = user;
    job->kernel(job->args, begin, end);
}

void cs__project_cpu(cs_context *ctx, const cs_project_args *a, cs_project_kernel kernel) {
    project_job job = {a, kernel};
    /* 4096 Gaussians per chunk: ~0.2 MB of parameters, small enough to balance two cores. */
    cs__parallel_for(ctx, a->count, 4096, project_task, &job);
}
