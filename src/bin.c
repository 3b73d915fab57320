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
 * The tiles of one tile row are found exactly: the ellipse q <= k restricted to the row's band of
 * pixel-centre heights is convex, its x extent is [x_min(e_lo), x_max(e_hi)] with each end taken
 * at the band height closest to the ellipse's leftmost/rightmost point, and the pixel columns
 * whose centres fall in it give the tile columns. The geometry runs in double from the float
 * conic, with 0.01 px of slack on every side, so rounding can only add tiles, never drop one.
 * The same pass stores the ellipse's half extents in the splat for the rasterizer's clipping.
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

#define BIN_SLACK 0.01 /* px added to every bound; only ever adds pixels to a splat's support */

/* The support ellipse q <= k of one splat around its mean, for row-by-row tile spans. */
typedef struct ellipse {
    double u, v;          /* centre, pixels */
    double a, b, c, k;    /* conic and bound */
    double det, ey, ey_r; /* a c - b^2, half height, height of the rightmost point */
    bool full;            /* degenerate conic: fall back to the whole rectangle */
} ellipse;

/* Set up the ellipse and store the half extents the rasterizer clips with. false: no pixel
 * can be drawn. */
static bool ellipse_init(cs_splat *s, ellipse *e) {
    float k = cs_alpha_support(s->opacity);
    s->support = k;
    if (!(k > 0.0f)) {
        s->ext[0] = s->ext[1] = 0.0f;
        return false;
    }
    e->u = s->x;
    e->v = s->y;
    e->a = s->conic[0];
    e->b = s->conic[1];
    e->c = s->conic[2];
    e->k = k;
    e->det = e->a * e->c - e->b * e->b;
    e->full = !(e->a > 0 && e->c > 0 && e->det > 0);
    if (e->full) {
        /* Not positive definite after rounding: q can be <= 0 far away. Keep every tile of the
         * rectangle and let the compositing rule decide per pixel. */
        s->ext[0] = s->ext[1] = 1e30f;
        return true;
    }
    double ex = sqrt(e->k * e->c / e->det);
    e->ey = sqrt(e->k * e->a / e->det);
    e->ey_r = -e->b * sqrt(e->k / (e->c * e->det));
    s->ext[0] = (float)(ex + BIN_SLACK);
    s->ext[1] = (float)(e->ey + BIN_SLACK);
    return true;
}

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* Tile columns [*x0, *x1) of tile row ty that the ellipse reaches, within the splat's
 * rectangle. Returns false when none. */
static bool row_span(const cs_view *view, const cs_splat *s, const ellipse *e, int ty, int *x0,
                     int *x1) {
    *x0 = s->rect[0];
    *x1 = s->rect[1];
    if (e->full) return true;
    int j0 = ty * CS_TILE;
    int j1 = j0 + CS_TILE < view->height ? j0 + CS_TILE : view->height; /* rows [j0, j1) */
    /* Heights of the row band's pixel centres relative to the centre, with slack. */
    double lo = j0 + 0.5 - e->v - BIN_SLACK, hi = j1 - 0.5 - e->v + BIN_SLACK;
    if (hi < -e->ey || lo > e->ey) return false;
    double yr = clampd(e->ey_r, lo, hi), yl = clampd(-e->ey_r, lo, hi);
    double sr = e->a * e->k - e->det * yr * yr, sl = e->a * e->k - e->det * yl * yl;
    double xmax = (-e->b * yr + sqrt(sr > 0 ? sr : 0)) / e->a;
    double xmin = (-e->b * yl - sqrt(sl > 0 ? sl : 0)) / e->a;
    /* Pixel columns whose centre i + 0.5 lies in [u + xmin, u + xmax] (with slack). */
    double i0 = ceil(e->u + xmin - 0.5 - BIN_SLACK), i1 = floor(e->u + xmax - 0.5 + BIN_SLACK);
    i0 = clampd(i0, 0, view->width - 1);
    i1 = clampd(i1, 0, view->width - 1);
    if (i1 < i0) return false;
    int t0 = (int)i0 / CS_TILE, t1 = (int)i1 / CS_TILE + 1;
    if (t0 > *x0) *x0 = t0;
    if (t1 < *x1) *x1 = t1;
    return *x0 < *x1;
}

typedef struct bin_job {
    cs_bin_args *a;
    int64_t tiles;
} bin_job;

static void count_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    bin_job *job = user;
    cs_bin_args *a = job->a;
    int64_t *counts = a->counts + c * job->tiles;
    for (int64_t t = 0; t < job->tiles; t++) counts[t] = 0;
    int64_t begin = a->visible * c / a->chunks, end = a->visible * (c + 1) / a->chunks;
    for (int64_t i = begin; i < end; i++) {
        cs_splat *s = &a->splats[a->order[i]];
        ellipse e;
        if (!ellipse_init(s, &e)) continue;
        for (int ty = s->rect[2]; ty < s->rect[3]; ty++) {
            int x0, x1;
            if (!row_span(a->view, s, &e, ty, &x0, &x1)) continue;
            int64_t *row = counts + (int64_t)ty * a->view->tiles_x;
            for (int tx = x0; tx < x1; tx++) row[tx]++;
        }
    }
}

static void fill_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    bin_job *job = user;
    cs_bin_args *a = job->a;
    int64_t *offsets = a->counts + c * job->tiles;
    int64_t begin = a->visible * c / a->chunks, end = a->visible * (c + 1) / a->chunks;
    for (int64_t i = begin; i < end; i++) {
        uint32_t idx = a->order[i];
        cs_splat *s = &a->splats[idx];
        ellipse e;
        if (!ellipse_init(s, &e)) continue; /* rewrites the same ext and support */
        for (int ty = s->rect[2]; ty < s->rect[3]; ty++) {
            int x0, x1;
            if (!row_span(a->view, s, &e, ty, &x0, &x1)) continue;
            int64_t *row = offsets + (int64_t)ty * a->view->tiles_x;
            for (int tx = x0; tx < x1; tx++) a->list[row[tx]++] = idx;
        }
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
