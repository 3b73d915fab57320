/*
 * trainer.c - cs_trainer: the training loop of 3D Gaussian splatting, iteration by iteration as
 * the reference train.py runs it with its default arguments:
 *
 *   1. learning rates for iteration it (1-based): position decays exponentially (adam.c);
 *   2. every 1,000 iterations the SH degree in use goes up by one, up to the scene's;
 *   3. the next training view: a random permutation of the training views per epoch (the
 *      reference pops random entries from a copy of the list, which is the same distribution);
 *   4. forward render over the dataset's background, loss 0.8 L1 + 0.2 (1 - SSIM) and its
 *      gradient (loss.c), analytic backward into the gradient scene (train_render.h);
 *   5. before iteration 15,000: densification statistics of the visible Gaussians; at
 *      iterations 600, 700, ..., 14,900 densify and prune (screen/world-size pruning after
 *      iteration 3,000); opacity reset at 3,000, 6,000, 9,000, 12,000 and, on a white
 *      background, at 500 (the reference's white_background rule);
 *   6. Adam step. As in the reference, a group whose tensor was just replaced (all of them after
 *      densification, the opacity after a reset) has no gradient and takes no step this
 *      iteration.
 *
 * The scene is allocated with the largest SH degree from the start (coefficients above the
 * degree in use stay exactly 0: their gradients and moments are 0, so Adam leaves them).
 *
 * The scene extent (the position learning rate's scale and the densification thresholds) is
 * 3DGS's getNerfppNorm over the training cameras: 1.1 times the largest distance of a training
 * camera centre from their mean (the dataset's own extent counts every view, held-out ones too;
 * the reference with --eval uses the training views only).
 *
 * Memory: the parameters, their gradients and two moment sets (4 blocks of (11 + 3K) N floats),
 * three densification arrays [N], the renderer's scratch and two images of the largest view.
 */
#include "train_render.h"
#include "trainer.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define LAMBDA_DSSIM 0.2f
#define DEFAULT_RANDOM_POINTS 100000

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

cs_status cs__trainer_size_view_stats(cs_trainer *t) {
    size_t n = (size_t)t->g.params->p.count;
    cs__free(t->grad_norm);
    cs__free(t->radii);
    t->grad_norm = cs__calloc(n, sizeof(float));
    t->radii = cs__calloc(n, sizeof(int32_t));
    if (!t->grad_norm || !t->radii) return cs__alloc_error(t->ctx, "training statistics", n * 8);
    return CS_OK;
}

static void training_extent(cs_trainer *t) {
    double mean[3] = {0, 0, 0}, far = 0.0;
    for (int64_t i = 0; i < t->n_train; i++) {
        float c[3];
        cs_camera_center(cs_dataset_camera(t->ds, t->train[i]), c);
        for (int k = 0; k < 3; k++) mean[k] += (double)c[k] / (double)t->n_train;
    }
    for (int64_t i = 0; i < t->n_train; i++) {
        float c[3];
        cs_camera_center(cs_dataset_camera(t->ds, t->train[i]), c);
        double d2 = 0.0;
        for (int k = 0; k < 3; k++) d2 += ((double)c[k] - mean[k]) * ((double)c[k] - mean[k]);
        if (d2 > far) far = d2;
    }
    for (int k = 0; k < 3; k++) t->centre[k] = (float)mean[k];
    t->extent = (float)(1.1 * sqrt(far));
}

void cs_trainer_destroy(cs_trainer *t) {
    if (!t) return;
    cs__gset_destroy(&t->g);
    cs_scene_destroy(t->grads);
    cs__free(t->train);
    cs__free(t->perm);
    cs_renderer_destroy(t->renderer);
    cs__loss_destroy(t->loss);
    cs__free(t->rgb);
    cs__free(t->d_rgb);
    cs__free(t->grad_norm);
    cs__free(t->radii);
    cs__free(t);
}

/* The initial Gaussians, with their moments and statistics. */
static cs_status initialise(cs_trainer *t, int degree) {
    cs_context *ctx = t->ctx;
    const float *xyz;
    const uint8_t *rgb;
    int64_t n_points = cs_dataset_points(t->ds, &xyz, &rgb);
    cs_camera *cams = cs__malloc((size_t)t->n_train * sizeof *cams);
    if (!cams) return cs__alloc_error(ctx, "training cameras", (size_t)t->n_train * sizeof *cams);
    for (int64_t i = 0; i < t->n_train; i++) cams[i] = *cs_dataset_camera(t->ds, t->train[i]);
    cs__init_args ia = {
        .points = n_points > 0 ? xyz : NULL,
        .colors = n_points > 0 ? rgb : NULL,
        .n = n_points,
        .random_count = t->desc.random_points,
        .cameras = cams,
        .n_cameras = t->n_train,
        .centre = {t->centre[0], t->centre[1], t->centre[2]},
        .extent = t->extent,
        .sh_degree = degree,
    };
    cs_scene *init;
    cs_status st = cs__init_gaussians(ctx, &ia, &t->rng, &init);
    cs__free(cams);
    if (st != CS_OK) return st;
    int64_t n = init->p.count;
    st = cs__gset_create(ctx, n, degree, &t->g);
    if (st == CS_OK) {
        cs_scene_destroy(t->g.params);
        t->g.params = init;
        init = NULL;
        st = cs__scene_zeros(ctx, n, degree, &t->grads);
    }
    cs_scene_destroy(init);
    return st;
}

cs_status cs_trainer_create(cs_context *ctx, const cs_dataset *ds, const cs_trainer_desc *desc,
                            cs_trainer **out) {
    *out = NULL;
    cs_trainer_desc d = desc ? *desc : (cs_trainer_desc){0};
    if (!ds) return cs__error(ctx, CS_ERR_ARGUMENT, "trainer: no dataset");
    if (d.max_gaussians < 0 || d.random_points < 0 || d.sh_bands < 0 || d.sh_bands > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "trainer: negative max_gaussians or random_points, or sh_bands %d not in "
                         "0..4",
                         d.sh_bands);
    if (d.random_points == 0) d.random_points = DEFAULT_RANDOM_POINTS;
    if (d.sh_bands == 0) d.sh_bands = 4;
    cs_trainer *t = cs__calloc(1, sizeof *t);
    if (!t) return cs__alloc_error(ctx, "trainer", sizeof *t);
    t->ctx = ctx;
    t->ds = ds;
    t->desc = d;
    t->schedule = cs__schedule_reference;
    t->rng = cs__rng_seed(d.seed, 0x63737370u /* "cssp" */);
    cs_dataset_background(ds, t->background);
    t->white = t->background[0] == 1.0f && t->background[1] == 1.0f && t->background[2] == 1.0f;

    cs_status st = CS_OK;
    int64_t n_views = cs_dataset_count(ds), max_pixels = 0;
    t->train = cs__malloc((size_t)(n_views > 0 ? n_views : 1) * sizeof(int64_t));
    t->perm = cs__malloc((size_t)(n_views > 0 ? n_views : 1) * sizeof(int64_t));
    if (!t->train || !t->perm) {
        st = cs__alloc_error(ctx, "trainer views", (size_t)n_views * 16);
        goto fail;
    }
    for (int64_t i = 0; i < n_views; i++) {
        if (cs_dataset_is_held_out(ds, i)) continue;
        t->train[t->n_train++] = i;
        const cs_camera *c = cs_dataset_camera(ds, i);
        int64_t px = (int64_t)c->width * c->height;
        if (px > max_pixels) max_pixels = px;
    }
    if (t->n_train == 0) {
        st = cs__error(ctx, CS_ERR_ARGUMENT, "trainer: the dataset has no training views");
        goto fail;
    }
    t->perm_pos = t->n_train;
    training_extent(t);
    t->rgb = cs__malloc((size_t)max_pixels * 3 * sizeof(float));
    t->d_rgb = cs__malloc((size_t)max_pixels * 3 * sizeof(float));
    if (!t->rgb || !t->d_rgb) {
        st = cs__alloc_error(ctx, "training images", (size_t)max_pixels * 24);
        goto fail;
    }
    if ((st = cs_renderer_create(ctx, NULL, &t->renderer)) != CS_OK ||
        (st = cs__loss_create(ctx, &t->loss)) != CS_OK ||
        (st = initialise(t, d.sh_bands - 1)) != CS_OK ||
        (st = cs__trainer_size_view_stats(t)) != CS_OK)
        goto fail;
    *out = t;
    return CS_OK;
fail:
    cs_trainer_destroy(t);
    return st;
}

const cs__schedule cs__schedule_reference = {
    .position_lr_steps = 30000,
    .densify_from = 500,
    .densify_interval = 100,
    .densify_until = 15000,
    .opacity_reset_interval = 3000,
    .sh_up_interval = 1000,
};

void cs__trainer_set_schedule(cs_trainer *t, const cs__schedule *s) {
    t->schedule = *s;
}

const cs_scene *cs_trainer_scene(const cs_trainer *t) {
    return t->g.params;
}

int64_t cs_trainer_iteration(const cs_trainer *t) {
    return t->iteration;
}

/* The next training view: a new random order at the start of each epoch (Fisher-Yates). */
static int64_t next_view(cs_trainer *t) {
    if (t->perm_pos >= t->n_train) {
        memcpy(t->perm, t->train, (size_t)t->n_train * sizeof(int64_t));
        for (int64_t i = t->n_train - 1; i > 0; i--) {
            int64_t j = cs__rng_below(&t->rng, (uint32_t)(i + 1));
            int64_t tmp = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = tmp;
        }
        t->perm_pos = 0;
    }
    return t->perm[t->perm_pos++];
}

/* Densification and opacity reset of iteration it (after its backward); returns the Adam
 * groups that must skip this iteration's step. */
static cs_status densify(cs_trainer *t, int64_t it, unsigned *skip, cs_train_step_info *info) {
    *skip = 0;
    const cs__schedule *s = &t->schedule;
    if (it >= s->densify_until) return CS_OK;
    cs__densify_accumulate(t->ctx, &t->g, t->grad_norm, t->radii);
    if (it > s->densify_from && it % s->densify_interval == 0) {
        cs__densify_args da = {
            .grad_threshold = 0.0002f,
            .percent_dense = 0.01f,
            .extent = t->extent,
            .min_opacity = 0.005f,
            .prune_large = it > s->opacity_reset_interval,
            .max_screen_radius = 20.0f,
            .screen_prune = t->desc.prune_screen_size != 0,
            .max_gaussians = t->desc.max_gaussians,
        };
        cs__densify_result dr;
        cs_scene *grads = NULL;
        cs_status st = cs__densify_and_prune(t->ctx, &t->g, &da, &t->rng, &dr);
        if (st == CS_OK)
            st = cs__scene_zeros(t->ctx, t->g.params->p.count, t->g.params->p.sh_degree, &grads);
        if (st == CS_OK) {
            cs_scene_destroy(t->grads);
            t->grads = grads;
            st = cs__trainer_size_view_stats(t);
        }
        if (st != CS_OK) return st;
        info->cloned = dr.cloned;
        info->split = dr.split;
        info->pruned = dr.pruned;
        *skip = (1u << CS_GROUPS) - 1;
    }
    if (it % s->opacity_reset_interval == 0 || (t->white && it == s->densify_from)) {
        cs__opacity_reset(&t->g, 0.01f);
        *skip |= 1u << CS_GROUP_OPACITY;
    }
    return CS_OK;
}

cs_status cs_trainer_step(cs_trainer *t, cs_train_step_info *info_out) {
    cs_context *ctx = t->ctx;
    cs_train_step_info info = {0};
    double t0 = now_ms();
    int64_t it = t->iteration + 1;
    cs__adam_schedule(&t->adam, it, t->extent, t->schedule.position_lr_steps);
    if (it % t->schedule.sh_up_interval == 0 && t->active_degree < t->g.params->p.sh_degree)
        t->active_degree++;
    int64_t view = next_view(t);
    const cs_camera *cam = cs_dataset_camera(t->ds, view);
    const cs_image *truth = cs_dataset_image(t->ds, view);
    cs_image rgb = {cam->width, cam->height, 3, t->rgb};
    cs_image d_rgb = {cam->width, cam->height, 3, t->d_rgb};
    cs_render_options ro = {
        .background = {t->background[0], t->background[1], t->background[2]},
        .sh_bands = t->active_degree + 1,
    };
    cs_status st = cs__train_forward(t->renderer, t->g.params, cam, &ro, &rgb);
    if (st != CS_OK) return st;
    double t1 = now_ms();

    cs__loss_value lv;
    st = cs__loss_eval(ctx, t->loss, rgb.data, truth->data, cam->width, cam->height, LAMBDA_DSSIM,
                       d_rgb.data, &lv);
    if (st != CS_OK) return st;
    double t2 = now_ms();

    /* The gradient scene is zero here: Adam consumed the last one (or it is new). */
    cs_train_view_stats vs = {.mean2d_grad_norm = t->grad_norm, .radii = t->radii};
    st = cs__train_backward(t->renderer, t->g.params, cam, &ro, &d_rgb, t->grads, &vs);
    if (st != CS_OK) return st;
    double t3 = now_ms();

    unsigned skip;
    st = densify(t, it, &skip, &info);
    if (st != CS_OK) return st;
    double t4 = now_ms();
    cs__adam_step(ctx, &t->adam, &t->g, t->grads, skip,
                  (t->active_degree + 1) * (t->active_degree + 1));
    /* A skipped group keeps its gradient; only the opacity can be skipped alone (after a
     * reset), and a densification replaced the gradient scene by a zero one. */
    if (skip == 1u << CS_GROUP_OPACITY)
        memset(t->grads->p.opacities, 0, (size_t)t->grads->p.count * sizeof(float));
    double t5 = now_ms();

    t->iteration = it;
    info.iteration = it;
    info.view = view;
    info.loss = lv.total;
    info.l1 = lv.l1;
    info.ssim = lv.ssim;
    info.psnr = lv.mse > 0.0 ? -10.0 * log10(lv.mse) : 100.0;
    info.gaussians = t->g.params->p.count;
    info.ms_forward = t1 - t0;
    info.ms_loss = t2 - t1;
    info.ms_backward = t3 - t2;
    info.ms_densify = t4 - t3;
    info.ms_optimizer = t5 - t4;
    info.ms_total = t5 - t0;
    if (info_out) *info_out = info;
    return CS_OK;
}
