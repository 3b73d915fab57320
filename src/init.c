/*
 * init.c - the initial Gaussians of a training run, as the reference's create_from_pcd makes
 * them from a point cloud: one Gaussian per point with
 *   mean      the point;
 *   SH        DC = (rgb - 0.5) / SH_C0 (RGB2SH), higher coefficients 0;
 *   scales    isotropic, sqrt of the mean squared distance to the 3 nearest other points
 *             (distCUDA2, clamped below at 1e-7), stored as its log;
 *   rotation  identity (1, 0, 0, 0);
 *   opacity   logit of 0.1.
 *
 * The point cloud is the dataset's (COLMAP's points3D, with their colours) when it has one.
 * Otherwise `random_count` random points (100,000 in the reference's Blender loader) are drawn
 * with the reference's random colours (SH DC uniform in [0, 1/255), i.e. mid grey). Where to put
 * them is the one choice the reference makes per dataset by hand (a [-1.3, 1.3]^3 cube that fits
 * the NeRF synthetic objects). Here it is derived from the cameras: a candidate, drawn uniformly
 * in the cube around the scene's sphere (camera centroid +- extent), is kept when at least half
 * of the training cameras see it (in front of the near plane, projecting inside the image).
 * Why: the cameras of an object capture look at the object, so the region most of them see is
 * the object's neighbourhood (for the Blender scenes, a ball about the reference's cube); points
 * seen by few cameras are poorly constrained and mostly become floaters; and a volume that only
 * bounds the cameras would put most points behind or beside them. When the cameras share little
 * view (fewer than 1% of candidates pass), the threshold drops to the largest count that keeps
 * 1% of a pilot batch, down to one camera.
 *
 * Nearest neighbours: an exact 3-NN through a uniform grid of about 2 points per cell, searched
 * in growing shells until the third-nearest distance is inside the searched block; O(N) for
 * evenly spread points (distCUDA2 itself is an approximate Morton-box search).
 *
 * Deterministic: candidates come from the caller's generator in order; visibility tests and
 * neighbour searches are per point, so threads do not change results.
 */
#include "gmath.h"
#include "trainer.h"

#include <math.h>
#include <string.h>

double cs__rng_normal(cs__rng *r) {
    double u1 = 1.0 - cs__rng_uniform(r), u2 = cs__rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---------------------------------------------------------------------------------------------
 * 3 nearest neighbours
 */
typedef struct knn_grid {
    const float *xyz;
    int64_t n;
    float lo[3], cell;
    int64_t dim[3];
    int64_t *start;  /* [cells + 1] */
    uint32_t *order; /* [n] point indices sorted by cell */
} knn_grid;

static int64_t cell_coord(const knn_grid *g, float v, int axis) {
    int64_t c = (int64_t)floorf((v - g->lo[axis]) / g->cell);
    return c < 0 ? 0 : c >= g->dim[axis] ? g->dim[axis] - 1 : c;
}

static int64_t cell_of(const knn_grid *g, const float *p) {
    return (cell_coord(g, p[2], 2) * g->dim[1] + cell_coord(g, p[1], 1)) * g->dim[0] +
           cell_coord(g, p[0], 0);
}

/* Keep the 3 smallest distances in best[0..2] (ascending). */
static void push3(float best[3], float d) {
    if (d >= best[2]) return;
    if (d < best[1]) {
        best[2] = best[1];
        if (d < best[0]) {
            best[1] = best[0];
            best[0] = d;
        } else {
            best[1] = d;
        }
    } else {
        best[2] = d;
    }
}

typedef struct knn_job {
    const knn_grid *g;
    float *dist2;
} knn_job;

static void knn_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const knn_job *j = user;
    const knn_grid *g = j->g;
    int64_t max_dim = g->dim[0];
    if (g->dim[1] > max_dim) max_dim = g->dim[1];
    if (g->dim[2] > max_dim) max_dim = g->dim[2];
    for (int64_t i = begin; i < end; i++) {
        const float *p = g->xyz + 3 * i;
        int64_t c[3] = {cell_coord(g, p[0], 0), cell_coord(g, p[1], 1), cell_coord(g, p[2], 2)};
        float best[3] = {INFINITY, INFINITY, INFINITY};
        /* Distance from p to the faces of its own cell: a point in shell r + 1 is at least
         * r cells plus this far away. */
        float margin = INFINITY;
        for (int a = 0; a < 3; a++) {
            float lo = g->lo[a] + (float)c[a] * g->cell;
            margin = fminf(margin, fminf(p[a] - lo, lo + g->cell - p[a]));
        }
        margin = fmaxf(margin, 0.0f);
        for (int64_t r = 0; r <= max_dim; r++) {
            for (int64_t z = c[2] - r; z <= c[2] + r; z++) {
                if (z < 0 || z >= g->dim[2]) continue;
                for (int64_t y = c[1] - r; y <= c[1] + r; y++) {
                    if (y < 0 || y >= g->dim[1]) continue;
                    bool face = z == c[2] - r || z == c[2] + r || y == c[1] - r || y == c[1] + r;
                    /* On the shell: every x when a face in z or y, else only the two ends. */
                    int64_t step = face || r == 0 ? 1 : 2 * r;
                    for (int64_t x = c[0] - r; x <= c[0] + r; x += step) {
                        if (x < 0 || x >= g->dim[0]) continue;
                        int64_t cell = (z * g->dim[1] + y) * g->dim[0] + x;
                        for (int64_t k = g->start[cell]; k < g->start[cell + 1]; k++) {
                            uint32_t o = g->order[k];
                            if ((int64_t)o == i) continue;
                            const float *q = g->xyz + 3 * (size_t)o;
                            float dx = q[0] - p[0], dy = q[1] - p[1], dz = q[2] - p[2];
                            push3(best, dx * dx + dy * dy + dz * dz);
                        }
                    }
                }
            }
            float reach = (float)r * g->cell + margin;
            if (best[2] <= reach * reach) break;
        }
        int found = (best[0] < INFINITY) + (best[1] < INFINITY) + (best[2] < INFINITY);
        float sum = 0.0f;
        for (int k = 0; k < found; k++) sum += best[k];
        float d2 = found ? sum / (float)found : 0.0f;
        j->dist2[i] = fmaxf(d2, 1e-7f);
    }
}

cs_status cs__knn3_mean_dist2(cs_context *ctx, const float *xyz, int64_t n, float *dist2) {
    if (n <= 0) return CS_OK;
    if (n > UINT32_MAX) return cs__error(ctx, CS_ERR_ARGUMENT, "init: too many points");
    knn_grid g = {.xyz = xyz, .n = n};
    float hi[3];
    for (int a = 0; a < 3; a++) g.lo[a] = hi[a] = xyz[a];
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) {
            g.lo[a] = fminf(g.lo[a], xyz[3 * i + a]);
            hi[a] = fmaxf(hi[a], xyz[3 * i + a]);
        }
    /* About 2 points per cell over the bounding box, whatever its shape; flat or degenerate
     * boxes get a cell from the largest side. */
    double ext[3], vol = 1.0, largest = 0.0;
    for (int a = 0; a < 3; a++) {
        ext[a] = (double)hi[a] - (double)g.lo[a];
        if (ext[a] > largest) largest = ext[a];
    }
    for (int a = 0; a < 3; a++) vol *= ext[a] > 1e-6 * largest ? ext[a] : 1e-6 * largest;
    double cell = largest > 0.0 ? cbrt(vol * 2.0 / (double)n) : 1.0;
    int64_t cells = 1;
    for (;;) {
        cells = 1;
        for (int a = 0; a < 3; a++) {
            g.dim[a] = (int64_t)(ext[a] / cell) + 1;
            cells *= g.dim[a];
        }
        if (cells <= 4 * n + 64) break;
        cell *= 1.26; /* halve the cell count */
    }
    g.cell = (float)cell;
    g.start = cs__calloc((size_t)cells + 1, sizeof(int64_t));
    g.order = cs__malloc((size_t)n * sizeof(uint32_t));
    int64_t *cell_idx = cs__malloc((size_t)n * sizeof(int64_t));
    if (!g.start || !g.order || !cell_idx) {
        cs__free(g.start);
        cs__free(g.order);
        cs__free(cell_idx);
        return cs__alloc_error(ctx, "nearest-neighbour grid", (size_t)cells * 8 + (size_t)n * 12);
    }
    for (int64_t i = 0; i < n; i++) {
        cell_idx[i] = cell_of(&g, xyz + 3 * i);
        g.start[cell_idx[i] + 1]++;
    }
    for (int64_t c = 0; c < cells; c++) g.start[c + 1] += g.start[c];
    for (int64_t i = 0; i < n; i++) g.order[g.start[cell_idx[i]]++] = (uint32_t)i;
    /* The fill advanced each start to the next cell's; shift back. */
    for (int64_t c = cells; c > 0; c--) g.start[c] = g.start[c - 1];
    g.start[0] = 0;
    cs__free(cell_idx);
    knn_job job = {&g, dist2};
    cs__parallel_for(ctx, n, 2048, knn_range, &job);
    cs__free(g.start);
    cs__free(g.order);
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Random points in the region most training cameras see
 */
typedef struct vis_job {
    const cs__init_args *a;
    const float *pts;  /* [batch, 3] */
    int32_t *count;    /* [batch] cameras that see each point (see threshold) */
    int32_t threshold; /* > 0: stop counting once a point is decided against it */
} vis_job;

static void vis_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const vis_job *j = user;
    for (int64_t i = begin; i < end; i++) {
        int32_t seen = 0, n = (int32_t)j->a->n_cameras, need = j->threshold;
        for (int32_t c = 0; c < n; c++) {
            /* Decided: enough cameras, or too few left to get there. */
            if (need > 0 && (seen >= need || seen + (n - c) < need)) break;
            const cs_camera *cam = &j->a->cameras[c];
            float v[3];
            cs_world_to_view(cam->R, cam->t, j->pts + 3 * i, v);
            if (!(v[2] > CS_NEAR_Z)) continue;
            float u = cam->fx * v[0] / v[2] + cam->cx, w = cam->fy * v[1] / v[2] + cam->cy;
            seen += u >= 0.0f && u < (float)cam->width && w >= 0.0f && w < (float)cam->height;
        }
        j->count[i] = seen;
    }
}

#define INIT_BATCH 65536

static cs_status random_points(cs_context *ctx, const cs__init_args *a, cs__rng *rng,
                               float *out /* [random_count, 3] */) {
    float *pts = cs__malloc(INIT_BATCH * 3 * sizeof(float));
    int32_t *count = cs__malloc(INIT_BATCH * sizeof(int32_t));
    if (!pts || !count) {
        cs__free(pts);
        cs__free(count);
        return cs__alloc_error(ctx, "initial points", INIT_BATCH * 16);
    }
    int64_t need = a->random_count, got = 0;
    int32_t threshold = (int32_t)((a->n_cameras + 1) / 2);
    vis_job job = {.a = a, .pts = pts, .count = count};
    /* With at least 1% passing, need / 655 batches suffice; twice that bounds a scene whose
     * cameras see (almost) none of their own sphere even at threshold 1. */
    int64_t max_batches = 16 + 2 * (need * 100 / INIT_BATCH);
    for (int64_t batch = 0; got < need && batch < max_batches; batch++) {
        for (int i = 0; i < INIT_BATCH; i++)
            for (int k = 0; k < 3; k++)
                pts[3 * i + k] =
                    a->centre[k] + a->extent * (float)(2.0 * cs__rng_uniform(rng) - 1.0);
        job.threshold = batch == 0 ? 0 : threshold;
        cs__parallel_for(ctx, INIT_BATCH, 1024, vis_range, &job);
        if (batch == 0) {
            /* Pilot: lower the threshold until at least 1% of candidates pass. */
            for (;;) {
                int64_t pass = 0;
                for (int i = 0; i < INIT_BATCH; i++) pass += count[i] >= threshold;
                if (threshold <= 1 || pass * 100 >= INIT_BATCH) break;
                threshold--;
            }
        }
        for (int i = 0; i < INIT_BATCH && got < need; i++)
            if (count[i] >= threshold) {
                memcpy(out + 3 * got, pts + 3 * i, 3 * sizeof(float));
                got++;
            }
    }
    cs__free(pts);
    cs__free(count);
    if (got < need)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "init: the cameras see almost none of the scene's sphere; cannot place "
                         "random initial points");
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Gaussians from points
 */
cs_status cs__init_gaussians(cs_context *ctx, const cs__init_args *a, cs__rng *rng,
                             cs_scene **out) {
    *out = NULL;
    bool random = !a->points || a->n <= 0;
    int64_t n = random ? a->random_count : a->n;
    if (n <= 0 || (random && a->n_cameras <= 0))
        return cs__error(ctx, CS_ERR_ARGUMENT, "init: no points and no cameras to place them");
    float *xyz = NULL, *dist2 = NULL;
    cs_scene *s = NULL;
    cs_status st = cs_scene_create(ctx, n, a->sh_degree, &s);
    if (st != CS_OK) return st;
    xyz = s->p.means;
    if (random)
        st = random_points(ctx, a, rng, xyz);
    else
        memcpy(xyz, a->points, (size_t)n * 3 * sizeof(float));
    if (st == CS_OK) {
        dist2 = cs__malloc((size_t)n * sizeof(float));
        if (!dist2) st = cs__alloc_error(ctx, "initial scales", (size_t)n * sizeof(float));
    }
    if (st == CS_OK) st = cs__knn3_mean_dist2(ctx, xyz, n, dist2);
    if (st != CS_OK) {
        cs__free(dist2);
        cs_scene_destroy(s);
        return st;
    }
    cs_scene_params *p = &s->p;
    /* inverse_sigmoid(0.1) in float, as torch computes log(x / (1 - x)). */
    float logit = logf(0.1f / (1.0f - 0.1f));
    int k3 = 3 * p->sh_coeffs;
    for (int64_t i = 0; i < n; i++) {
        float ls = logf(sqrtf(dist2[i]));
        for (int k = 0; k < 3; k++) p->log_scales[3 * i + k] = ls;
        p->opacities[i] = logit;
        float *sh = p->sh + (size_t)k3 * (size_t)i;
        for (int c = 0; c < 3; c++) {
            if (random) {
                /* The reference's shs = random / 255 (colour = SH2RGB(shs), then RGB2SH). */
                sh[c] = (float)(cs__rng_uniform(rng) / 255.0);
            } else {
                float rgb = a->colors ? (float)a->colors[3 * i + c] / 255.0f : 0.5f;
                sh[c] = (rgb - 0.5f) / CS_SH_C0;
            }
        }
    }
    cs__free(dist2);
    *out = s;
    return CS_OK;
}
