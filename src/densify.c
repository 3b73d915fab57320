/*
 * densify.c - adaptive density control of 3D Gaussian splatting, as the reference's
 * gaussian_model.py does it (add_densification_stats, densify_and_prune with densify_and_clone,
 * densify_and_split and prune_points, reset_opacity), plus the Gaussian set's storage.
 *
 * densify_and_prune, with g = grad_accum / denom (0 where denom = 0, the reference's NaN -> 0)
 * and s = the largest scale exp(max log-scale):
 *   clone  g >= threshold and s <= percent_dense extent: a copy is appended;
 *   split  g >= threshold and s >  percent_dense extent: two children are appended, each with
 *          mean = R(q) x + mean, x ~ N(0, diag(scale^2)) drawn per axis, and scale = scale / 1.6
 *          (0.8 N with N = 2); the parent is removed. Clones never split (the reference pads
 *          their gradient with 0);
 *   prune  opacity < min_opacity; after the first opacity reset also world scale s > 0.1 extent
 *          and, when screen_prune is set, screen radius > max_screen_radius.
 * The resulting order is the reference's: surviving parents in order, clones, first children,
 * second children; random draws are taken in the order torch.normal fills its [2S, 3] tensor.
 *
 * Deliberate choices:
 * - The reference zeroes max_radii2D in densification_postfix before its screen-size test, so
 *   that test never fires (graphdeco-inria/gaussian-splatting issues #123, #544: the authors keep
 *   it so published results stay reproducible). screen_prune = 0 reproduces that; 1 applies the
 *   test to the radii seen since the previous densification, as the paper describes.
 * - A cap on the count (max_gaussians): when clones and splits would pass it, only the
 *   candidates with the largest gradients densify (ties by index), each adding one Gaussian.
 * - New Gaussians get zero Adam moments and every statistic restarts at zero, as in the
 *   reference (densification_postfix, cat_tensors_to_optimizer).
 */
#include "gmath.h"
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Storage
 */
static size_t block_floats(const cs_scene_params *p) {
    return (size_t)p->count * (11 + 3 * (size_t)p->sh_coeffs);
}

cs_status cs__scene_zeros(cs_context *ctx, int64_t n, int degree, cs_scene **out) {
    cs_status st = cs_scene_create(ctx, n, degree, out);
    if (st == CS_OK) memset((*out)->block, 0, block_floats(&(*out)->p) * sizeof(float));
    return st;
}

void cs__gset_destroy(cs__gset *g) {
    cs_scene_destroy(g->params);
    cs_scene_destroy(g->m);
    cs_scene_destroy(g->v);
    cs__free(g->grad_accum);
    cs__free(g->denom);
    cs__free(g->max_radii);
    memset(g, 0, sizeof *g);
}

cs_status cs__gset_create(cs_context *ctx, int64_t n, int degree, cs__gset *out) {
    memset(out, 0, sizeof *out);
    cs_status st = cs_scene_create(ctx, n, degree, &out->params);
    if (st == CS_OK) st = cs__scene_zeros(ctx, n, degree, &out->m);
    if (st == CS_OK) st = cs__scene_zeros(ctx, n, degree, &out->v);
    if (st == CS_OK) {
        out->grad_accum = cs__calloc((size_t)n, sizeof(float));
        out->denom = cs__calloc((size_t)n, sizeof(float));
        out->max_radii = cs__calloc((size_t)n, sizeof(float));
        if (!out->grad_accum || !out->denom || !out->max_radii)
            st = cs__alloc_error(ctx, "densification statistics", 3 * (size_t)n * sizeof(float));
    }
    if (st != CS_OK) cs__gset_destroy(out);
    return st;
}

/* Copy every parameter of Gaussian i of s into Gaussian j of d (same SH degree). */
static void copy_gaussian(cs_scene_params *d, int64_t j, const cs_scene_params *s, int64_t i) {
    memcpy(d->means + 3 * j, s->means + 3 * i, 3 * sizeof(float));
    memcpy(d->log_scales + 3 * j, s->log_scales + 3 * i, 3 * sizeof(float));
    memcpy(d->quats + 4 * j, s->quats + 4 * i, 4 * sizeof(float));
    d->opacities[j] = s->opacities[i];
    size_t k3 = 3 * (size_t)s->sh_coeffs;
    memcpy(d->sh + k3 * (size_t)j, s->sh + k3 * (size_t)i, k3 * sizeof(float));
}

/* ---------------------------------------------------------------------------------------------
 * Statistics and opacity reset
 */
typedef struct acc_job {
    cs__gset *g;
    const float *grad_norm;
    const int32_t *radii;
} acc_job;

static void acc_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const acc_job *j = user;
    for (int64_t i = begin; i < end; i++) {
        if (j->radii[i] <= 0) continue;
        j->g->grad_accum[i] += j->grad_norm[i];
        j->g->denom[i] += 1.0f;
        float r = (float)j->radii[i];
        if (r > j->g->max_radii[i]) j->g->max_radii[i] = r;
    }
}

void cs__densify_accumulate(cs_context *ctx, cs__gset *g, const float *grad_norm,
                            const int32_t *radii) {
    acc_job job = {g, grad_norm, radii};
    cs__parallel_for(ctx, g->params->p.count, 16384, acc_range, &job);
}

void cs__opacity_reset(cs__gset *g, float max_opacity) {
    cs_scene_params *p = &g->params->p;
    for (int64_t i = 0; i < p->count; i++) {
        /* inverse_sigmoid(min(sigmoid(x), max)) for every Gaussian, as the reference: those
         * already below take the float round trip too. */
        float o = fminf(cs_sigmoid(p->opacities[i]), max_opacity);
        p->opacities[i] = logf(o / (1.0f - o));
        g->m->p.opacities[i] = 0.0f;
        g->v->p.opacities[i] = 0.0f;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Densify and prune
 */
enum { KEEP, CLONE, SPLIT };

/* One Gaussian of the sequence before pruning: where it comes from. */
typedef struct entry {
    int64_t src;   /* Gaussian of the old set */
    int64_t child; /* index into the children's arrays, or -1 */
    int64_t dst;   /* index in the new set, or -1 when pruned */
} entry;

typedef struct candidate {
    float grad;
    int64_t index;
} candidate;

static int cmp_candidate(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->grad != y->grad) return x->grad > y->grad ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static float max_log_scale(const cs_scene_params *p, int64_t i) {
    const float *s = p->log_scales + 3 * i;
    return fmaxf(s[0], fmaxf(s[1], s[2]));
}

typedef struct copy_job {
    const cs__gset *old;
    cs__gset *new_;
    const entry *entries;
    const float *child_means, *child_scales; /* [2S, 3] */
    int64_t parents;                         /* entries [0, parents) are the surviving parents */
} copy_job;

static void copy_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const copy_job *j = user;
    for (int64_t e = begin; e < end; e++) {
        const entry *en = &j->entries[e];
        if (en->dst < 0) continue;
        copy_gaussian(&j->new_->params->p, en->dst, &j->old->params->p, en->src);
        if (en->child >= 0) {
            memcpy(j->new_->params->p.means + 3 * en->dst, j->child_means + 3 * en->child,
                   3 * sizeof(float));
            memcpy(j->new_->params->p.log_scales + 3 * en->dst, j->child_scales + 3 * en->child,
                   3 * sizeof(float));
        }
        /* Surviving parents keep their moments; clones and children start at zero (the new
         * set is zeroed). */
        if (e < j->parents) {
            copy_gaussian(&j->new_->m->p, en->dst, &j->old->m->p, en->src);
            copy_gaussian(&j->new_->v->p, en->dst, &j->old->v->p, en->src);
        }
    }
}

cs_status cs__densify_and_prune(cs_context *ctx, cs__gset *g, const cs__densify_args *a,
                                cs__rng *rng, cs__densify_result *out) {
    const cs_scene_params *p = &g->params->p;
    int64_t n = p->count;
    memset(out, 0, sizeof *out);
    unsigned char *kind = cs__calloc((size_t)n, 1);
    candidate *cand = cs__calloc((size_t)n, sizeof *cand);
    entry *entries = NULL;
    float *child_means = NULL, *child_scales = NULL;
    cs__gset ng = {0};
    cs_status st = CS_OK;
    if (!kind || !cand) {
        st = cs__alloc_error(ctx, "densification", (size_t)n * (1 + sizeof *cand));
        goto done;
    }

    /* Selection, in float32 as the reference compares. */
    float scale_limit = a->percent_dense * a->extent;
    int64_t n_cand = 0;
    for (int64_t i = 0; i < n; i++) {
        float grad = g->denom[i] > 0.0f ? g->grad_accum[i] / g->denom[i] : 0.0f;
        if (!(grad >= a->grad_threshold)) continue;
        kind[i] = expf(max_log_scale(p, i)) <= scale_limit ? CLONE : SPLIT;
        cand[n_cand++] = (candidate){grad, i};
    }
    if (a->max_gaussians > 0) {
        int64_t budget = a->max_gaussians > n ? a->max_gaussians - n : 0;
        if (n_cand > budget) {
            qsort(cand, (size_t)n_cand, sizeof *cand, cmp_candidate);
            for (int64_t c = budget; c < n_cand; c++) kind[cand[c].index] = KEEP;
        }
    }
    int64_t n_clone = 0, n_split = 0;
    for (int64_t i = 0; i < n; i++) {
        n_clone += kind[i] == CLONE;
        n_split += kind[i] == SPLIT;
    }

    /* The sequence before pruning: parents (split ones removed), clones, children. */
    int64_t n_entries = n + n_clone + n_split;
    entries = cs__malloc((size_t)n_entries * sizeof *entries);
    child_means = cs__malloc((size_t)(2 * n_split * 3 + 1) * sizeof(float));
    child_scales = cs__malloc((size_t)(2 * n_split * 3 + 1) * sizeof(float));
    if (!entries || !child_means || !child_scales) {
        st = cs__alloc_error(ctx, "densification", (size_t)n_entries * sizeof *entries);
        goto done;
    }
    int64_t e = 0;
    for (int64_t i = 0; i < n; i++)
        if (kind[i] != SPLIT) entries[e++] = (entry){i, -1, 0};
    for (int64_t i = 0; i < n; i++)
        if (kind[i] == CLONE) entries[e++] = (entry){i, -1, 0};
    for (int c = 0, ci = 0; c < 2; c++) {
        for (int64_t i = 0; i < n; i++) {
            if (kind[i] != SPLIT) continue;
            const float *ls = p->log_scales + 3 * i;
            float scale[3] = {expf(ls[0]), expf(ls[1]), expf(ls[2])}, x[3], R[9];
            for (int k = 0; k < 3; k++) x[k] = (float)cs__rng_normal(rng) * scale[k];
            cs_quat_to_rot(p->quats + 4 * i, R);
            for (int k = 0; k < 3; k++) {
                child_means[3 * ci + k] = R[3 * k] * x[0] + R[3 * k + 1] * x[1] +
                                          R[3 * k + 2] * x[2] + p->means[3 * i + k];
                child_scales[3 * ci + k] = logf(scale[k] / (0.8f * 2.0f));
            }
            entries[e++] = (entry){i, ci, 0};
            ci++;
        }
    }
    CS_ASSERT(e == n_entries);

    /* Prune over the whole sequence, new Gaussians included (their radii are 0). */
    float world_limit = 0.1f * a->extent;
    int64_t kept = 0;
    int64_t n_kept_parents = n - n_split; /* the first entries have radii of their own */
    for (e = 0; e < n_entries; e++) {
        entry *en = &entries[e];
        bool prune = cs_sigmoid(p->opacities[en->src]) < a->min_opacity;
        if (a->prune_large) {
            float ls =
                en->child >= 0
                    ? fmaxf(child_scales[3 * en->child],
                            fmaxf(child_scales[3 * en->child + 1], child_scales[3 * en->child + 2]))
                    : max_log_scale(p, en->src);
            if (expf(ls) > world_limit) prune = true;
            if (a->screen_prune && e < n_kept_parents &&
                g->max_radii[en->src] > a->max_screen_radius)
                prune = true;
        }
        en->dst = prune ? -1 : kept++;
    }

    if ((st = cs__gset_create(ctx, kept, p->sh_degree, &ng)) != CS_OK) goto done;
    copy_job job = {g, &ng, entries, child_means, child_scales, n - n_split};
    cs__parallel_for(ctx, n_entries, 8192, copy_range, &job);
    out->cloned = n_clone;
    out->split = n_split;
    out->pruned = n_entries - kept;
    cs__gset_destroy(g);
    *g = ng;
done:
    cs__free(kind);
    cs__free(cand);
    cs__free(entries);
    cs__free(child_means);
    cs__free(child_scales);
    return st;
}
