/*
 * train_render.c - the training render pass (train_render.h): forward through the renderer, and
 * the backward that runs the stages raster_bwd -> reduce -> sh_bwd + project_bwd on the
 * renderer's last frame (cs_render_frame: splats, tile lists, final T, last contributors).
 *
 * Scratch (cs_train_scratch, hung on the renderer and freed with it): the per-entry gradients
 * d_list [M], the per-tile last contributor [tiles], the per-splat sums d_splats [N] and the
 * colour's gradient to the mean d_dir [N, 3]. Each
 * grows to the largest frame and is reused; d_list gets a quarter of headroom since M changes
 * every frame. Memory: 36 bytes per tile-list entry plus 48 per Gaussian.
 *
 * Checks: the backward needs the frame of the same scene, camera and options; the shapes that
 * can be checked are (count, camera, background, image and gradient shapes), the parameter
 * values cannot: the caller must not change the scene in between.
 */
#include "train_render.h"

#include <math.h>
#include <string.h>
#include <time.h>

struct cs_train_scratch {
    void *d_list; /* cs_splat_grad [M] */
    size_t d_list_bytes;
    void *tile_last; /* uint32_t [tiles] */
    size_t tile_last_bytes;
    void *d_splats; /* cs_splat_grad [N] */
    size_t d_splats_bytes;
    void *d_dir; /* float [N, 3] */
    size_t d_dir_bytes;
};

void cs__train_scratch_destroy(cs_train_scratch *s) {
    if (!s) return;
    cs__free(s->d_list);
    cs__free(s->tile_last);
    cs__free(s->d_splats);
    cs__free(s->d_dir);
    cs__free(s);
}

/* Make *p hold count elements of elem bytes (contents not kept); headroom adds 25%. */
static cs_status grow(cs_context *ctx, void **p, size_t *bytes, int64_t count, size_t elem,
                      bool headroom, const char *what) {
    size_t need, want;
    if (count < 0 || !cs__mul_size((size_t)count, elem, &need))
        return cs__error(ctx, CS_ERR_NOMEM, "train backward: %s: %lld elements overflow", what,
                         (long long)count);
    if (need == 0) need = elem; /* keep pointers valid for empty frames */
    if (*p && need <= *bytes) return CS_OK;
    want = need;
    if (headroom && !cs__add_size(need, need / 4, &want)) want = need;
    void *q = cs__malloc(want);
    if (!q) return cs__alloc_error(ctx, what, want);
    cs__free(*p);
    *p = q;
    *bytes = want;
    return CS_OK;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

cs_status cs__train_forward(cs_renderer *r, const cs_scene *scene, const cs_camera *cam,
                            const cs_render_options *opts, cs_image *rgb) {
    return cs_renderer_render(r, scene, cam, opts, rgb, NULL, NULL);
}

/* The per-Gaussian part: SH and projection backward, then the view statistics. */
typedef struct gauss_job {
    const cs_sh_bwd_args *sh;
    const cs_project_bwd_args *proj;
    cs_train_view_stats *stats;
    float half_w, half_h;
} gauss_job;

static bool all_zero(const cs_splat_grad *g) {
    return g->x == 0.0f && g->y == 0.0f && g->conic[0] == 0.0f && g->conic[1] == 0.0f &&
           g->conic[2] == 0.0f && g->opacity == 0.0f && g->rgb[0] == 0.0f && g->rgb[1] == 0.0f &&
           g->rgb[2] == 0.0f;
}

static void gauss_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const gauss_job *job = user;
    const cs_splat *splats = job->proj->splats;
    const cs_splat_grad *d = job->proj->d_splats;
    /* Runs of Gaussians with a non-zero splat gradient. The chain is linear in it, so a zero
     * one (culled, or hidden behind others in every pixel) gives exactly zero: skipped. */
    for (int64_t i = begin; i < end;) {
        while (i < end && (!splats[i].radius || all_zero(&d[i]))) i++;
        int64_t j = i;
        while (j < end && splats[j].radius && !all_zero(&d[j])) j++;
        if (j > i) {
            cs__sh_bwd_range(job->sh, i, j);
            cs__project_bwd_range(job->proj, i, j);
        }
        i = j;
    }
    if (!job->stats) return;
    for (int64_t i = begin; i < end; i++) {
        int32_t radius = splats[i].radius;
        if (job->stats->radii) job->stats->radii[i] = radius;
        if (job->stats->mean2d_grad_norm) {
            /* NDC spans the image in 2 units: d/dndc = d/dpixel * (W/2, H/2). */
            float gx = d[i].x * job->half_w, gy = d[i].y * job->half_h;
            job->stats->mean2d_grad_norm[i] = radius ? sqrtf(gx * gx + gy * gy) : 0.0f;
        }
    }
}

static bool same_view(const cs_view *a, const cs_view *b) {
    return memcmp(a->R, b->R, sizeof a->R) == 0 && memcmp(a->t, b->t, sizeof a->t) == 0 &&
           a->fx == b->fx && a->fy == b->fy && a->cx == b->cx && a->cy == b->cy &&
           a->width == b->width && a->height == b->height;
}

cs_status cs__train_backward(cs_renderer *r, const cs_scene *scene, const cs_camera *cam,
                             const cs_render_options *opts, const cs_image *d_rgb, cs_scene *grads,
                             cs_train_view_stats *stats) {
    cs_context *ctx = cs__renderer_context(r);
    double t0 = now_ms();
    if (!scene || !cam || !d_rgb || !grads)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "train backward: scene, camera, d_rgb or grads is NULL");
    cs_render_options o = opts ? *opts : (cs_render_options){0};
    cs_render_frame f;
    cs__renderer_frame(r, &f);
    cs_view view;
    cs__view_init(&view, cam);
    const cs_scene_params *p = &scene->p;
    if (!f.splats || f.count != p->count || !same_view(&f.view, &view) ||
        memcmp(f.background, o.background, sizeof f.background) != 0)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "train backward: the renderer's last frame is not this scene (%lld "
                         "Gaussians), camera and background",
                         (long long)p->count);
    if (grads->p.count != p->count || grads->p.sh_degree != p->sh_degree)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "train backward: gradient scene has %lld Gaussians of SH degree %d, the "
                         "scene %lld of degree %d",
                         (long long)grads->p.count, grads->p.sh_degree, (long long)p->count,
                         p->sh_degree);
    if (!d_rgb->data || d_rgb->width != cam->width || d_rgb->height != cam->height ||
        d_rgb->channels != 3)
        return cs__error(ctx, CS_ERR_ARGUMENT, "train backward: d_rgb is %dx%dx%d, need %dx%dx3",
                         d_rgb->width, d_rgb->height, d_rgb->channels, cam->width, cam->height);
    if (o.sh_bands < 0 || o.sh_bands > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT, "train backward: sh_bands %d is not in 0..4",
                         o.sh_bands);

    cs_train_scratch **slot = cs__renderer_train_scratch(r);
    if (!*slot) {
        *slot = cs__calloc(1, sizeof **slot);
        if (!*slot) return cs__alloc_error(ctx, "train backward scratch", sizeof **slot);
    }
    cs_train_scratch *s = *slot;
    int64_t tiles = (int64_t)view.tiles_x * view.tiles_y;
    cs_status st;
    if ((st = grow(ctx, &s->d_list, &s->d_list_bytes, f.intersections, sizeof(cs_splat_grad), true,
                   "train backward list gradients")) ||
        (st = grow(ctx, &s->tile_last, &s->tile_last_bytes, tiles, sizeof(uint32_t), false,
                   "train backward tile counts")) ||
        (st = grow(ctx, &s->d_splats, &s->d_splats_bytes, p->count, sizeof(cs_splat_grad), false,
                   "train backward splat gradients")) ||
        (st = grow(ctx, &s->d_dir, &s->d_dir_bytes, p->count, 3 * sizeof(float), false,
                   "train backward direction gradients")))
        return st;

    double t1 = now_ms();
    cs_raster_bwd_args ra = {
        .view = &view,
        .splats = f.splats,
        .ranges = f.ranges,
        .list = f.list,
        .final_t = f.final_t,
        .n_contrib = f.n_contrib,
        .background = {f.background[0], f.background[1], f.background[2]},
        .d_rgb = d_rgb->data,
        .d_list = s->d_list,
        .tile_last = s->tile_last,
    };
    /* The backward kernel of the forward's kind, so both take the same skip decisions. */
    cs_render_stats rs;
    cs_renderer_get_stats(r, &rs);
    cs_raster_bwd_kernel kernel = cs__raster_bwd_tile;
    if (rs.simd == CS_SIMD_AVX512 && cs__cpu_has_avx512() && cs__cpu_has_avx2_fma())
        kernel = cs__raster_bwd_tile_avx512;
    else if (rs.simd >= CS_SIMD_AVX2 && cs__cpu_has_avx2_fma())
        kernel = cs__raster_bwd_tile_avx2;
    cs__raster_bwd_cpu(ctx, &ra, kernel);
    double t2 = now_ms();

    cs_reduce_args re = {
        .view = &view,
        .ranges = f.ranges,
        .list = f.list,
        .tile_last = s->tile_last,
        .d_list = s->d_list,
        .count = p->count,
        .d_splats = s->d_splats,
    };
    cs__raster_bwd_reduce_cpu(ctx, &re);
    double t3 = now_ms();

    int degree = o.sh_bands > 0 ? o.sh_bands - 1 : p->sh_degree;
    if (degree > p->sh_degree) degree = p->sh_degree;
    cs_sh_bwd_args sa = {
        .view = &view,
        .count = p->count,
        .means = p->means,
        .sh = p->sh,
        .sh_coeffs = p->sh_coeffs,
        .degree = degree,
        .splats = f.splats,
        .d_splats = s->d_splats,
        .d_sh = grads->p.sh,
        .d_dir = s->d_dir,
    };
    cs_project_bwd_args pa = {
        .view = &view,
        .count = p->count,
        .means = p->means,
        .log_scales = p->log_scales,
        .quats = p->quats,
        .scale_modifier = o.scale_modifier > 0.0f ? o.scale_modifier : 1.0f,
        .splats = f.splats,
        .d_splats = s->d_splats,
        .d_dir = s->d_dir,
        .d_means = grads->p.means,
        .d_log_scales = grads->p.log_scales,
        .d_quats = grads->p.quats,
        .d_opacities = grads->p.opacities,
    };
    gauss_job job = {&sa, &pa, stats, 0.5f * (float)cam->width, 0.5f * (float)cam->height};
    cs__parallel_for(ctx, p->count, 4096, gauss_task, &job);
    double t4 = now_ms();
    if (stats) {
        stats->ms_raster = t2 - t1;
        stats->ms_reduce = t3 - t2;
        stats->ms_gaussians = t4 - t3;
        stats->ms_total = t4 - t0;
    }
    return CS_OK;
}
