/*
 * trainer.h - the trainer's pieces inside libcsplat: the random number generator, the Gaussian
 * set under optimisation (parameters, Adam moments, densification statistics), Adam with the
 * reference's per-group learning rates (adam.c), densification and pruning (densify.c), initial
 * Gaussians (init.c), checkpoints (checkpoint.c), and the cs_trainer object (trainer.c).
 *
 * The reference is the 3DGS training code (graphdeco-inria/gaussian-splatting: train.py,
 * arguments/__init__.py, scene/gaussian_model.py); each file says where it follows it and where
 * it deliberately differs.
 *
 * Layout: every per-Gaussian array shares the cs_scene block layout (means [N,3] | log_scales
 * [N,3] | quats [N,4] | opacities [N] | sh [N,K,3]), so gradients and moments are cs_scene
 * objects of the same shape and Adam is one loop over the block.
 */
#ifndef CSPLAT_TRAINER_H
#define CSPLAT_TRAINER_H

#include "internal.h"
#include "loss.h"

/* ---------------------------------------------------------------------------------------------
 * PCG32 (O'Neill, pcg-random.org: XSH-RR output, 64-bit LCG state). Deterministic for a seed;
 * its whole state is two integers, which checkpoints store.
 */
typedef struct cs__rng {
    uint64_t state, inc;
} cs__rng;

static inline uint32_t cs__rng_u32(cs__rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

static inline cs__rng cs__rng_seed(uint64_t seed, uint64_t stream) {
    cs__rng r = {0, (stream << 1u) | 1u};
    cs__rng_u32(&r);
    r.state += seed;
    cs__rng_u32(&r);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double cs__rng_uniform(cs__rng *r) {
    uint64_t hi = cs__rng_u32(r) >> 5, lo = cs__rng_u32(r) >> 6;
    return ((double)hi * 67108864.0 + (double)lo) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's method would need 64-bit
 * multiplies of 32-bit draws; rejection of the short last block is simpler and as exact). */
static inline uint32_t cs__rng_below(cs__rng *r, uint32_t n) {
    uint32_t limit = (uint32_t)(-n) % n; /* 2^32 mod n */
    for (;;) {
        uint32_t x = cs__rng_u32(r);
        if (x >= limit) return x % n;
    }
}

/* Standard normal (Box-Muller, one value per call; the second is dropped so the draw count per
 * value is fixed, which keeps the stream easy to reason about). */
double cs__rng_normal(cs__rng *r);

/* ---------------------------------------------------------------------------------------------
 * Parameter groups of the optimiser, as the reference's Adam param_groups.
 */
enum {
    CS_GROUP_MEANS,   /* "xyz": lr 1.6e-4 -> 1.6e-6 times the scene extent, exponential */
    CS_GROUP_SH_DC,   /* "f_dc": 2.5e-3 */
    CS_GROUP_SH_REST, /* "f_rest": 2.5e-3 / 20 */
    CS_GROUP_OPACITY, /* "opacity": 0.025 */
    CS_GROUP_SCALES,  /* "scaling": 5e-3 */
    CS_GROUP_QUATS,   /* "rotation": 1e-3 */
    CS_GROUPS
};

/* The Gaussians under optimisation. */
typedef struct cs__gset {
    cs_scene *params;  /* [N] */
    cs_scene *m, *v;   /* Adam first and second moments, the same shape (quats start at 0) */
    float *grad_accum; /* [N] sum over views where visible of |dL/d mean2D| (NDC units) */
    float *denom;      /* [N] number of those views */
    float *max_radii;  /* [N] largest screen radius (pixels) since the last densification */
} cs__gset;

/* An empty set of n Gaussians of SH degree `degree`: parameters as cs_scene_create makes them,
 * moments and statistics zero. */
cs_status cs__gset_create(cs_context *ctx, int64_t n, int degree, cs__gset *out);
void cs__gset_destroy(cs__gset *g);
/* A scene of the same shape with every value zero (gradients, moments). */
cs_status cs__scene_zeros(cs_context *ctx, int64_t n, int degree, cs_scene **out);

/* ---------------------------------------------------------------------------------------------
 * Adam (adam.c): torch.optim.Adam's update (no weight decay, no AMSGrad) per element,
 *     m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
 * every element of a group every step, seen or not (the reference's dense gradients), with t
 * counted per group. Groups whose bit is set in skip are left untouched and keep their t: the
 * reference skips a step for parameters it has just replaced (they have no .grad yet).
 * sh_active: SH coefficients per channel in use ((degree + 1)^2); the others must have zero
 * gradients and moments. The gradients of the updated groups are zeroed (consumed); those of
 * skipped groups are left as they are.
 */
typedef struct cs__adam {
    float lr[CS_GROUPS];
    float beta1, beta2, eps;
    int64_t steps[CS_GROUPS]; /* t of each group: steps taken so far */
} cs__adam;

void cs__adam_step(cs_context *ctx, cs__adam *adam, cs__gset *g, cs_scene *grads, unsigned skip,
                   int sh_active);

/* The element kernel: p, m, v updated and g zeroed over n elements of one group. The AVX2 twin
 * (cpu/adam_avx2.c, used when the CPU has AVX2 and CSPLAT_SCALAR is not set) performs the same
 * operations in the same order, so the two are bit-identical. */
typedef struct cs__adam_consts {
    float step; /* lr / (1 - b1^t) */
    float bc2s; /* sqrt(1 - b2^t) */
    float beta1, beta2, eps;
} cs__adam_consts;

typedef void (*cs__adam_kernel)(float *p, float *m, float *v, float *g, int64_t n,
                                const cs__adam_consts *c);
void cs__adam_update_scalar(float *p, float *m, float *v, float *g, int64_t n,
                            const cs__adam_consts *c);
void cs__adam_update_avx2(float *p, float *m, float *v, float *g, int64_t n,
                          const cs__adam_consts *c);
/* The SH block of `count` Gaussians, `stride` floats apart: in each, elements [0, 3) with dc
 * (f_dc) and [3, len) with rest (f_rest), as the element kernel would update them in two calls,
 * bit for bit. The AVX2 twin covers each Gaussian's len floats with 8-lane vectors (the first
 * holding both groups' constants, the last masked), so no element goes through scalar code:
 * per-Gaussian calls with 3 and 3 (K - 1) elements spent about a third of the step there. */
typedef void (*cs__adam_sh_kernel)(float *p, float *m, float *v, float *g, int64_t count,
                                   int64_t stride, int len, const cs__adam_consts *dc,
                                   const cs__adam_consts *rest);
void cs__adam_update_sh_scalar(float *p, float *m, float *v, float *g, int64_t count,
                               int64_t stride, int len, const cs__adam_consts *dc,
                               const cs__adam_consts *rest);
void cs__adam_update_sh_avx2(float *p, float *m, float *v, float *g, int64_t count, int64_t stride,
                             int len, const cs__adam_consts *dc, const cs__adam_consts *rest);

/* The reference's learning rates at iteration `it` (1-based, as train.py counts): fixed ones,
 * and the position rate exp((1 - s) ln(1.6e-4 extent) + s ln(1.6e-6 extent)) with s =
 * min(it / max_steps, 1). */
void cs__adam_schedule(cs__adam *adam, int64_t it, float extent, int64_t max_steps);

/* ---------------------------------------------------------------------------------------------
 * Densification (densify.c): gaussian_model.py's add_densification_stats, densify_and_prune
 * (clone, split, prune) and reset_opacity.
 */
/* Where radii[i] > 0: grad_accum[i] += grad_norm[i], denom[i] += 1, max_radii[i] = max(.). */
void cs__densify_accumulate(cs_context *ctx, cs__gset *g, const float *grad_norm,
                            const int32_t *radii);

typedef struct cs__densify_args {
    float grad_threshold;    /* densify where the mean gradient norm >= this (2e-4) */
    float percent_dense;     /* clone when the largest scale <= this times extent, else split */
    float extent;            /* scene extent (3DGS's cameras_extent) */
    float min_opacity;       /* prune below (0.005) */
    int prune_large;         /* also prune world scale > 0.1 extent (after the first reset) */
    float max_screen_radius; /* with prune_large and screen_prune: prune max_radii > this */
    int screen_prune;        /* apply the screen-radius test; the reference's never fires */
    int64_t max_gaussians;   /* cap on the count after densification; 0 = none */
} cs__densify_args;

typedef struct cs__densify_result {
    int64_t cloned, split, pruned; /* split: Gaussians replaced by two */
} cs__densify_result;

/* Replace g by its densified and pruned successor (new allocations; on failure g is unchanged).
 * Split samples come from rng. Statistics are zeroed; new Gaussians get zero moments. */
cs_status cs__densify_and_prune(cs_context *ctx, cs__gset *g, const cs__densify_args *a,
                                cs__rng *rng, cs__densify_result *out);

/* opacity = min(opacity, max_opacity) through the logit; the opacity moments are zeroed. */
void cs__opacity_reset(cs__gset *g, float max_opacity);

/* ---------------------------------------------------------------------------------------------
 * Initial Gaussians (init.c).
 */
typedef struct cs__init_args {
    const float *points;   /* [n, 3] world points, or NULL: random ones (below) */
    const uint8_t *colors; /* [n, 3] or NULL (random colours as the reference) */
    int64_t n;
    /* Random points: `random_count` samples inside the region seen by many training cameras. */
    int64_t random_count;
    const cs_camera *cameras; /* [n_cameras] the training cameras */
    int64_t n_cameras;
    float centre[3], extent; /* the scene's sphere: candidates are drawn in its bounding box */
    int sh_degree;           /* of the scene allocated (coefficients above 0 start at 0) */
} cs__init_args;

cs_status cs__init_gaussians(cs_context *ctx, const cs__init_args *a, cs__rng *rng, cs_scene **out);

/* Mean squared distance of each point to its 3 nearest other points (3DGS's distCUDA2, here
 * exact through a uniform grid), clamped below at 1e-7. dist2 [n]. */
cs_status cs__knn3_mean_dist2(cs_context *ctx, const float *xyz, int64_t n, float *dist2);

/* ---------------------------------------------------------------------------------------------
 * The iteration schedule: the reference's (train.py and arguments/__init__.py defaults) in every
 * trainer; tests shorten it with cs__trainer_set_schedule to reach densification in a few dozen
 * iterations.
 */
typedef struct cs__schedule {
    int64_t position_lr_steps;      /* 30,000: the position learning rate's decay length */
    int64_t densify_from;           /* 500: densify at iterations > this ... */
    int64_t densify_interval;       /* 100: ... that are multiples of this ... */
    int64_t densify_until;          /* 15,000: ... and < this (statistics and resets too) */
    int64_t opacity_reset_interval; /* 3,000 (plus densify_from on a white background) */
    int64_t sh_up_interval;         /* 1,000 */
} cs__schedule;

extern const cs__schedule cs__schedule_reference;

/* ---------------------------------------------------------------------------------------------
 * The trainer (trainer.c; checkpoint.c saves and restores everything below that is state).
 */
struct cs_trainer {
    cs_context *ctx;
    const cs_dataset *ds;
    cs_trainer_desc desc; /* defaults resolved */
    cs__schedule schedule;
    cs__gset g;
    cs_scene *grads; /* same shape as g.params */
    cs__adam adam;
    cs__rng rng;
    int64_t iteration; /* iterations done */
    int active_degree; /* SH degree in use */
    int64_t n_train;
    int64_t *train;   /* [n_train] dataset indices of the training views */
    int64_t *perm;    /* [n_train] this epoch's order */
    int64_t perm_pos; /* next entry of perm; n_train = start a new epoch */
    float centre[3], extent;
    bool white; /* the background is white (the reference's white_background) */
    float background[3];
    cs_renderer *renderer;
    cs__loss *loss;
    float *rgb, *d_rgb; /* [largest view, 3] */
    float *grad_norm;   /* [N] per-view statistics of the backward */
    int32_t *radii;     /* [N] */
};

/* (Re)size the per-view statistics arrays to the current Gaussian count. */
cs_status cs__trainer_size_view_stats(cs_trainer *t);
/* Test hook: replace the schedule (before the first step). */
void cs__trainer_set_schedule(cs_trainer *t, const cs__schedule *s);

#endif /* CSPLAT_TRAINER_H */
