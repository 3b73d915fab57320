/*
 * bin.c - tile intersection: the per-tile lists of splats, each in depth order.
 *
 * Which tiles a splat goes to. The reference rasterizer lists a Gaussian in every tile of its
 * rectangle (the 3-sigma radius square rounded out to tiles, cs_tile_rect) and then draws it at
 * every pixel of those tiles where alpha = o exp(-q/2) >= 1/255, q = d^T conic d. So the pixels a
 * Gaussian can change are exactly: pixels of its rectangle's tiles with q <= 2 ln(255 o). We list
 * a splat only in the rectangle's tiles that meet that ellipse, the "support" (gmath.h
 * cs_alpha_support, which adds a margin for float rounding of q); a tile outside it holds no
 * pixel the splat could draw, so dropping it changes no pixel, and the output stays the
 * reference's. The ellipse is tighter than the square for low opacities and elongated splats,
 * which is where most of the saving is; a splat with o < 1/255 goes nowhere.
 *
 * The projection already narrowed each splat's rectangle to the tiles of the ellipse's bounding
 * box (cs_support_box, which also gives the rasterizer its pixel box). For large boxes and
 * diagonal ellipses (needs_rows), each tile row is narrowed here exactly: the ellipse q <= k
 * restricted to the row's band of pixel-centre heights is convex, its x extent is [x_min, x_max]
 * with each end taken at the band height closest to the ellipse's leftmost or rightmost point,
 * and the pixel columns whose centres fall in it give the tile columns. (Other boxes keep all
 * their tiles: refining costs more than the corner tiles it would save.) The geometry runs in
 * double from the float conic, with CS_SUPPORT_SLACK (0.01 px) on every side, so rounding can
 * only add tiles, never drop one.
 *
 * Ordering. Splats are visited in depth order (sort.c), split into fixed slices of that order.
 * Pass 1 counts per slice and tile; the counts are prefix-summed tile-major, slice-minor into
 * write offsets; pass 2 writes each slice's indices at its offsets. Each tile's list is thus in
 * depth order, ties in index order, for any slice count: a counting sort on the tile digit after
 * the depth digits, completing the reference's stable (tile, depth) key order.
 *
 * Shapes: order [V] -> ranges [TX*TY + 1] (int64), list [M] (uint32 splat indices).
 */
#include "gmath.h"
#include "render.h"

#include <math.h>

/* Row-by-row refinement of a splat's tiles. */
typedef struct ellipse {
    double u, v, a, b, k, det, ey, ey_r; /* centre, conic a b, bound, a c - b^2, half height,
                                            height of the rightmost point */
    double inv_a, ak;                    /* 1 / a, a k */
} ellipse;

/* Refine rows only where it pays: the box spans at least 3 x 3 tiles and either has 64 tiles or
 * more (even a round ellipse leaves a fifth of those out), or the ellipse is elongated along a
 * diagonal, b^2 > 0.6 a c, where it fills less than half its box. Smaller or rounder ones cost
 * more to refine (a square root per tile row, in both passes) than the few corner tiles save
 * the rasterizer. */
static bool needs_rows(const cs_splat *s) {
    int w = s->rect[1] - s->rect[0], h = s->rect[3] - s->rect[2];
    if (w < 3 || h < 3) return false;
    double a = (double)s->conic[0], b = (double)s->conic[1], c = (double)s->conic[2];
    if (!(a > 0 && c > 0 && a * c - b * b > 0)) return false;
    return w * h >= 64 || b * b > 0.6 * a * c;
}

static void ellipse_init(const cs_splat *s, ellipse *e) {
    double a = (double)s->conic[0], b = (double)s->conic[1], c = (double)s->conic[2];
    e->u = (double)s->x;
    e->v = (double)s->y;
    e->a = a;
    e->b = b;
    e->k = (double)s->support;
    e->det = a * c - b * b;
    e->ey = sqrt(e->k * a / e->det);
    e->ey_r = -b * sqrt(e->k * c / e->det) / c; /* dq/dy = 0 at the rightmost point */
    e->inv_a = 1 / a;
    e->ak = a * e->k;
}

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* Tile columns [*x0, *x1) of tile row ty that the ellipse reaches, within the box. */
static bool row_span(const cs_view *view, const cs_splat *s, const ellipse *e, int ty, int *x0,
                     int *x1) {
    int j0 = ty * CS_TILE;
    int j1 = j0 + CS_TILE < view->height ? j0 + CS_TILE : view->height; /* rows [j0, j1) */
    /* Heights of the row band's pixel centres relative to the centre, with slack. */
    double lo = j0 + 0.5 - e->v - CS_SUPPORT_SLACK, hi = j1 - 0.5 - e->v + CS_SUPPORT_SLACK;
    if (hi < -e->ey || lo > e->ey) return false;
    /* Over the band, x_max(y) = (-b y + sqrt(a k - det y^2)) / a is concave with its maximum
     * at ey_r, so its largest value is at ey_r clamped to the band; x_min likewise at -ey_r. */
    double yr = clampd(e->ey_r, lo, hi), yl = clampd(-e->ey_r, lo, hi);
    double sr = e->ak - e->det * yr * yr, sl = e->ak - e->det * yl * yl;
    double xmax = (-e->b * yr + sqrt(sr > 0 ? sr : 0)) * e->inv_a;
    double xmin = (-e->b * yl - sqrt(sl > 0 ? sl : 0)) * e->inv_a;
    int i0, i1;
    if (!cs_pixel_range(e->u + xmin, e->u + xmax, view->width, &i0, &i1)) return false;
    *x0 = i0 / CS_TILE > s->rect[0] ? i0 / CS_TILE : s->rect[0];
    *x1 = i1 / CS_TILE + 1 < s->rect[1] ? i1 / CS_TILE + 1 : s->rect[1];
    return *x0 < *x1;
}

/* Depth order visits splats all over memory; fetching ahead hides most of the misses. */
static inline void prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

typedef struct bin_job {
    cs_bin_args *a;
    int64_t tiles;
} bin_job;

/* Calls EMIT(tx, ty) for every tile splat s is binned to. */
#define FOR_EACH_TILE(view, s, EMIT)                                                              \
    do {                                                                                          \
        if (!needs_rows(s)) {                                                                     \
            for (int ty_ = (s)->rect[2]; ty_ < (s)->rect[3]; ty_++)                               \
                for (int tx_ = (s)->rect[0]; tx_ < (s)->rect[1]; tx_++) EMIT(tx_, ty_);           \
        } else {                                                                                  \
            ellipse e_;                                                                           \
            ellipse_init(s, &e_);                                                                 \
            for (int ty_ = (s)->rect[2]; ty_ < (s)->rect[3]; ty_++) {                             \
                int x0_, x1_;                                                                     \
                if (!row_span(view, s, &e_, ty_, &x0_, &x1_)) continue;                           \
                for (int tx_ = x0_; tx_ < x1_; tx_++) EMIT(tx_, ty_);                             \
            }                                                                                     \
        }                                                                                         \
    } while (0)

static void count_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    bin_job *job = user;
    cs_bin_args *a = job->a;
    const cs_view *view = a->view;
    int64_t *counts = a->counts + c * job->tiles;
    for (int64_t t = 0; t < job->tiles; t++) counts[t] = 0;
    int64_t begin = a->visible * c / a->chunks, end = a->visible * (c + 1) / a->chunks;
    for (int64_t i = begin; i < end; i++) {
        if (i + 16 < end) prefetch(&a->splats[a->order[i + 16]]);
        const cs_splat *s = &a->splats[a->order[i]];
#define COUNT(tx, ty) counts[(int64_t)(ty) * view->tiles_x + (tx)]++
        FOR_EACH_TILE(view, s, COUNT);
#undef COUNT
    }
}

static void fill_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    bin_job *job = user;
    cs_bin_args *a = job->a;
    const cs_view *view = a->view;
    int64_t *offsets = a->counts + c * job->tiles;
    int64_t begin = a->visible * c / a->chunks, end = a->visible * (c + 1) / a->chunks;
    for (int64_t i = begin; i < end; i++) {
        if (i + 16 < end) prefetch(&a->splats[a->order[i + 16]]);
        uint32_t idx = a->order[i];
        const cs_splat *s = &a->splats[idx];
#define FILL(tx, ty) a->list[offsets[(int64_t)(ty) * view->tiles_x + (tx)]++] = idx
        FOR_EACH_TILE(view, s, FILL);
#undef FILL
    }
}
void cs__bin_count_cpu(cs_context *ctx, cs_bin_args *a) {
    bin_job job = {a, (int64_t)a->view->tiles_x * a->view->tiles_y};
    cs__parallel_for(ctx, a->chunks, 1, count_task, &job);
    /* Offsets tile-major, slice-minor: tile t's list is slice 0's splats, then slice 1's... */
    int64_t o = 0;
    for (int64_t t = 0; t < job.tiles; t++) {
        a->ranges[t] = o;
        for (int c = 0; c < a->chunks; c++) {
            int64_t *n = &a->counts[c * job.tiles + t];
            int64_t here = *n;
            *n = o;
            o += here;
        }
    }
    a->ranges[job.tiles] = o;
    a->intersections = o;
}

void cs__bin_fill_cpu(cs_context *ctx, cs_bin_args *a) {
    bin_job job = {a, (int64_t)a->view->tiles_x * a->view->tiles_y};
    cs__parallel_for(ctx, a->chunks, 1, fill_task, &job);
}
