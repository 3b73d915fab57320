/*
 * image2d_render.c - 2D Gaussian images: parameter storage (cs_gimage), the forward renderer
 * (prepare -> bin -> per-tile kernel) and cs_gimage_render at any scale and crop.
 *
 * Math and conventions: src/image2d.h. Stages:
 *   prepare   per Gaussian: output-space mean, conic, amplitude, pixel box, tile rect (threaded);
 *   bin       per Gaussian and row of tiles, the tiles its ellipse reaches there (exact up to one
 *             pixel of margin, for boxes 3+ tiles wide; narrower ones keep their box);
 *             Gaussian-major instance offsets, then a stable scatter into tile-major lists, so
 *             each tile lists its Gaussians in ascending index (serial: O(instances), under a
 *             millisecond for 10,000 Gaussians); the SIMD kernels' per-worker scratch is sized
 *             here by the longest tile list;
 *   forward   one task per tile (threaded); the kernel is the best the CPU has: AVX-512 (4x4
 *             pixel blocks, cpu/image2d_avx512.c), AVX2 (8x1 groups, cpu/image2d_avx2.c) or
 *             cs__g2d_tile_scalar, capped by CSPLAT_SCALAR=1 or CSPLAT_SIMD=avx2. The three
 *             produce bit-identical output (tests/test_image2d.c checks it).
 * A crop is a window of the output: only the tiles covering the window exist, and every pixel
 * is computed from absolute output coordinates, so a crop equals that part of the full render.
 *
 * Not here: gradients (image2d_backward.c), fitting (image2d_fit.c), files (io_gsi.c).
 */
#include "image2d.h"
#include "render.h"

#include <stdlib.h>

/* ---------------------------------------------------------------------------------------------
 * cs_gimage storage
 */
cs_status cs__gimage_alloc(cs_context *ctx, int width, int height, int channels,
                           cs_gimage_rule rule, int64_t count, cs_gimage **out) {
    *out = NULL;
    if (width < 1 || height < 1 || width > (1 << 20) || height > (1 << 20))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage: size %dx%d is not in 1..2^20", width,
                         height);
    if (channels != 1 && channels != 3)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage: %d channels (1 or 3 supported)", channels);
    if (rule != CS_GIMAGE_TOPK && rule != CS_GIMAGE_SUM)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage: unknown rule %d", (int)rule);
    if (count < 0 || count > CS_G2D_MAX_COUNT)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage: count %lld is not in 0..%lld",
                         (long long)count, (long long)CS_G2D_MAX_COUNT);
    size_t n = (size_t)count, floats = n * (size_t)(5 + channels);
    cs_gimage *g = cs__calloc(1, sizeof *g);
    float *block = cs__calloc(floats ? floats : 1, sizeof(float));
    if (!g || !block) {
        cs__free(g);
        cs__free(block);
        return cs__alloc_error(ctx, "gimage", floats * sizeof(float));
    }
    g->width = width;
    g->height = height;
    g->channels = channels;
    g->rule = rule;
    g->count = count;
    g->block = block;
    g->p = (cs_gimage_params){count, channels, block, block + 2 * n, block + 5 * n};
    *out = g;
    return CS_OK;
}

cs_status cs_gimage_create(cs_context *ctx, int width, int height, int channels,
                           cs_gimage_rule rule, int64_t count, cs_gimage **out) {
    return cs__gimage_alloc(ctx, width, height, channels, rule, count, out);
}

void cs_gimage_destroy(cs_gimage *g) {
    if (!g) return;
    cs__free(g->block);
    cs__free(g);
}

cs_gimage_params cs_gimage_get_params(cs_gimage *g) {
    return g->p;
}

void cs_gimage_get_info(const cs_gimage *g, cs_gimage_info *out) {
    memset(out, 0, sizeof *out);
    out->width = g->width;
    out->height = g->height;
    out->channels = g->channels;
    out->count = g->count;
    out->rule = g->rule;
    if (g->file_bytes > 0) {
        out->bits_position = g->quant.bits[0];
        out->bits_cholesky = g->quant.bits[1];
        out->bits_colour = g->quant.bits[2];
        out->zstd = g->zstd;
        out->file_bytes = g->file_bytes;
        out->bits_per_pixel = (double)g->file_bytes * 8.0 / ((double)g->width * g->height);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Frame scratch
 */
void cs__g2d_frame_free(cs__g2d_frame *f) {
    cs__free(f->gx);
    cs__free(f->cull);
    cs__free(f->shape);
    cs__free(f->kscratch);
    cs__free(f->band_off);
    cs__free(f->bands);
    cs__free(f->box);
    cs__free(f->inst_off);
    cs__free(f->tile_off);
    cs__free(f->cursor);
    cs__free(f->tile_gauss);
    cs__free(f->inst_pos);
    memset(f, 0, sizeof *f);
}

/* Per-Gaussian arrays: gx gy ca cb cc amp in one float block, box+rect in one int32 block. */
static cs_status reserve_gauss(cs_context *ctx, cs__g2d_frame *f, int64_t n) {
    if (f->gx && n <= f->cap_gauss) return CS_OK; /* (an empty image still needs inst_off[0]) */
    int64_t cap = n + n / 4 + 16;
    size_t fb, ib, ob, cb, sb;
    if (!cs__mul_size((size_t)cap, 6 * sizeof(float), &fb) ||
        !cs__mul_size((size_t)cap, 8 * sizeof(int32_t), &ib) ||
        !cs__mul_size((size_t)cap + 1, sizeof(int64_t), &ob) ||
        !cs__mul_size((size_t)cap, sizeof(cs__g2d_cull), &cb) ||
        !cs__mul_size((size_t)cap, sizeof(cs__g2d_shape), &sb))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage: %lld Gaussians overflow memory size",
                         (long long)n);
    float *fl = cs__malloc(fb);
    int32_t *in = cs__malloc(ib);
    int64_t *off = cs__malloc(ob);
    cs__g2d_cull *cull = cs__malloc(cb);
    cs__g2d_shape *shape = cs__malloc(sb);
    if (!fl || !in || !off || !cull || !shape) {
        cs__free(fl);
        cs__free(in);
        cs__free(off);
        cs__free(cull);
        cs__free(shape);
        return cs__alloc_error(ctx, "gimage render", fb + ib + ob + cb + sb);
    }
    cs__free(f->gx);
    cs__free(f->box);
    cs__free(f->inst_off);
    cs__free(f->cull);
    cs__free(f->shape);
    cs__free(f->band_off);
    f->band_off = cs__malloc(ob);
    if (!f->band_off) {
        cs__free(fl);
        cs__free(in);
        cs__free(off);
        cs__free(cull);
        cs__free(shape);
        f->gx = NULL;
        f->box = NULL;
        f->inst_off = NULL;
        f->cull = NULL;
        f->shape = NULL;
        f->cap_gauss = 0;
        return cs__alloc_error(ctx, "gimage render", ob);
    }
    f->cull = cull;
    f->shape = shape;
    size_t c = (size_t)cap;
    f->gx = fl;
    f->gy = fl + c;
    f->ca = fl + 2 * c;
    f->cb = fl + 3 * c;
    f->cc = fl + 4 * c;
    f->amp = fl + 5 * c;
    f->box = in;
    f->rect = in + 4 * c;
    f->inst_off = off;
    f->cap_gauss = cap;
    return CS_OK;
}

static cs_status reserve_tiles(cs_context *ctx, cs__g2d_frame *f, int64_t tiles) {
    if (f->tile_off && tiles <= f->cap_tiles) return CS_OK;
    int64_t *off = cs__malloc(((size_t)tiles + 1) * sizeof(int64_t));
    int64_t *cur = cs__malloc((size_t)tiles * sizeof(int64_t));
    if (!off || !cur) {
        cs__free(off);
        cs__free(cur);
        return cs__alloc_error(ctx, "gimage render", (size_t)tiles * 16);
    }
    cs__free(f->tile_off);
    cs__free(f->cursor);
    f->tile_off = off;
    f->cursor = cur;
    f->cap_tiles = tiles;
    return CS_OK;
}

static cs_status reserve_inst(cs_context *ctx, cs__g2d_frame *f, int64_t n) {
    if (f->tile_gauss && n <= f->cap_inst) return CS_OK;
    int64_t cap = n + n / 4 + 64;
    if (cap > INT32_MAX) cap = INT32_MAX;
    int32_t *tg = cs__malloc((size_t)cap * sizeof(int32_t));
    int32_t *ip = cs__malloc((size_t)cap * sizeof(int32_t));
    if (!tg || !ip) {
        cs__free(tg);
        cs__free(ip);
        return cs__alloc_error(ctx, "gimage render", (size_t)cap * 8);
    }
    cs__free(f->tile_gauss);
    cs__free(f->inst_pos);
    f->tile_gauss = tg;
    f->inst_pos = ip;
    f->cap_inst = cap;
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Prepare
 */
typedef struct prepare_job {
    cs__g2d_frame *f;
    const cs_gimage_params *p;
    double sx, sy;
    bool footprint;
} prepare_job;

static int32_t clamp_to_int(double v, int32_t lo, int32_t hi) {
    if (!(v > lo)) return lo; /* also NaN */
    if (v > hi) return hi;
    return (int32_t)v;
}

static void prepare_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    prepare_job *job = user;
    cs__g2d_frame *f = job->f;
    const cs_gimage_params *p = job->p;
    double sx = job->sx, sy = job->sy;
    /* Footprint variance still missing at this scale, in output pixels^2 (see image2d.h). */
    double fx = job->footprint && sx < 1.0 ? (1.0 - sx * sx) / 12.0 : 0.0;
    double fy = job->footprint && sy < 1.0 ? (1.0 - sy * sy) / 12.0 : 0.0;
    int wx0 = f->ox, wy0 = f->oy, wx1 = f->ox + f->width - 1, wy1 = f->oy + f->height - 1;
    for (int64_t i = begin; i < end; i++) {
        double l11 = exp((double)p->chol[3 * i]), l21 = (double)p->chol[3 * i + 1];
        double l22 = exp((double)p->chol[3 * i + 2]);
        /* Output-space covariance S Sigma S + F; its determinant without cancellation:
         * det(S Sigma S) = (sx sy l11 l22)^2, plus the cross terms of the diagonal F. */
        double sxx = sx * sx * l11 * l11, sxy = sx * sy * l11 * l21;
        double syy = sy * sy * (l21 * l21 + l22 * l22);
        double det0 = (sx * sy * l11 * l22) * (sx * sy * l11 * l22);
        double det = det0 + fx * syy + fy * sxx + fx * fy;
        sxx += fx;
        syy += fy;
        double gx = sx * (double)p->xy[2 * i], gy = sy * (double)p->xy[2 * i + 1];
        f->gx[i] = (float)gx;
        f->gy[i] = (float)gy;
        f->ca[i] = (float)(syy / det);
        f->cb[i] = (float)(-sxy / det);
        f->cc[i] = (float)(sxx / det);
        f->amp[i] = fx > 0.0 || fy > 0.0 ? (float)sqrt(det0 / det) : 1.0f;
        double rx = 3.0 * sqrt(sxx), ry = 3.0 * sqrt(syy);
        /* Pixel X's centre X + 0.5 lies in [g - r, g + r] for X in [g - r - 0.5, g + r - 0.5];
         * one more pixel each side absorbs float rounding of q at the boundary. */
        double bx0 = floor(gx - rx - 1.5), bx1 = ceil(gx + rx + 0.5);
        double by0 = floor(gy - ry - 1.5), by1 = ceil(gy + ry + 0.5);
        int32_t *box = f->box + 4 * i, *rect = f->rect + 4 * i;
        bool finite = isfinite(gx) && isfinite(gy) && isfinite(rx) && isfinite(ry) && det > 0.0 &&
                      isfinite(det) && isfinite(l21);
        if (!finite || bx1 < wx0 || bx0 > wx1 || by1 < wy0 || by0 > wy1) {
            box[0] = box[1] = 1;
            box[2] = box[3] = 0;
            f->cull[i] = (cs__g2d_cull){0.0f, 0.0f, 0.0f, 0.0f, -1.0f, 0.0f}; /* never */
            rect[0] = rect[1] = rect[2] = rect[3] = 0;
            continue;
        }
        box[0] = clamp_to_int(bx0, wx0, wx1);
        box[1] = clamp_to_int(by0, wy0, wy1);
        box[2] = clamp_to_int(bx1, wx0, wx1);
        box[3] = clamp_to_int(by1, wy0, wy1);
        double cvar = det / syy;
        f->shape[i] =
            (cs__g2d_shape){gx, gy, rx, ry, 3.0 * sxy / sqrt(sxx), sxy / syy, 1.0 / syy, cvar};
        f->cull[i] = (cs__g2d_cull){(float)gx,          (float)gy,   (float)(sxy / syy),
                                    (float)(1.0 / syy), (float)cvar, (float)(9e-3 * cvar + 1e-3)};
        rect[0] = (box[0] - wx0) / CS_G2D_TILE;
        rect[1] = (box[1] - wy0) / CS_G2D_TILE;
        rect[2] = (box[2] - wx0) / CS_G2D_TILE + 1;
        rect[3] = (box[3] - wy0) / CS_G2D_TILE + 1;
    }
}

cs_status cs__g2d_prepare(cs_context *ctx, cs__g2d_frame *f, const cs_gimage_params *p,
                          cs_gimage_rule rule, float sx, float sy, bool footprint, int ox, int oy,
                          int width, int height) {
    if (width < 1 || height < 1)
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage render: empty window %dx%d", width, height);
    cs_status st = reserve_gauss(ctx, f, p->count);
    if (st != CS_OK) return st;
    f->width = width;
    f->height = height;
    f->ox = ox;
    f->oy = oy;
    f->channels = p->channels;
    f->rule = rule;
    f->tiles_x = (width + CS_G2D_TILE - 1) / CS_G2D_TILE;
    f->tiles_y = (height + CS_G2D_TILE - 1) / CS_G2D_TILE;
    f->count = p->count;
    f->clamp = false;
    f->eps = CS_G2D_EPS;
    f->colour = p->colour;
    f->n_inst = 0;
    st = reserve_tiles(ctx, f, (int64_t)f->tiles_x * f->tiles_y);
    if (st != CS_OK) return st;
    prepare_job job = {f, p, sx, sy, footprint};
    cs__parallel_for(ctx, p->count, 4096, prepare_range, &job);
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Bin
 */
/* Tiles [*tx0, *tx1) of tile row ty that Gaussian i's ellipse reaches (within its rect). Over
 * the band's pixel-centre rows, clipped to the ellipse, the x extent is the ellipse's own
 * extreme x where its extreme point's row lies in the band, else the row edge at the band's
 * nearer end; one pixel of margin each side, as for the box. */
static void band_tiles(const cs__g2d_frame *f, int64_t i, int ty, int *tx0, int *tx1) {
    const cs__g2d_shape *s = f->shape + i;
    const int32_t *r = f->rect + 4 * i;
    double ya = (double)f->oy + ty * CS_G2D_TILE + 0.5;
    double yb = ya + (CS_G2D_TILE - 1);
    if (yb > (double)f->oy + f->height - 0.5) yb = (double)f->oy + f->height - 0.5;
    double d0 = ya - s->gy, d1 = yb - s->gy;
    if (d0 < -s->ry) d0 = -s->ry;
    if (d1 > s->ry) d1 = s->ry;
    *tx0 = r[0];
    *tx1 = r[2];
    if (d0 > d1 + 2.0) { /* the band misses the ellipse (by more than the margin) */
        *tx1 = *tx0;
        return;
    }
    if (d0 > d1) d0 = d1 = 0.5 * (d0 + d1);
    double xmax, xmin;
    if (s->dy_r >= d0 && s->dy_r <= d1) {
        xmax = s->gx + s->rx;
    } else {
        double d = s->dy_r < d0 ? d0 : d1, h = (9.0 - d * d * s->inv_syy) * s->cvar;
        xmax = s->gx + s->slope * d + sqrt(h > 0.0 ? h : 0.0);
    }
    if (-s->dy_r >= d0 && -s->dy_r <= d1) {
        xmin = s->gx - s->rx;
    } else {
        double d = -s->dy_r < d0 ? d0 : d1, h = (9.0 - d * d * s->inv_syy) * s->cvar;
        xmin = s->gx + s->slope * d - sqrt(h > 0.0 ? h : 0.0);
    }
    /* pixel X is reached when its centre X + 0.5 lies in [xmin, xmax] (one pixel of margin) */
    double px0 = floor(xmin - 1.5) - f->ox, px1 = ceil(xmax + 0.5) - f->ox;
    double t0 = floor(px0 / CS_G2D_TILE), t1 = floor(px1 / CS_G2D_TILE) + 1.0;
    if (t0 > *tx0) *tx0 = t0 < *tx1 ? (int)t0 : *tx1;
    if (t1 < *tx1) *tx1 = t1 > *tx0 ? (int)t1 : *tx0;
}

/* Gaussians at most this many tiles wide keep their whole rect in every tile row: refining would
 * drop at most one column of a row, and the two square roots per row cost more than the few extra
 * (zero-weight) list entries do (kodim23, 10,000 Gaussians: ~0.4 ms less CPU per render). */
#define BAND_MIN_REFINE_WIDTH 3

static void bands_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    cs__g2d_frame *f = user;
    for (int64_t i = begin; i < end; i++) {
        const int32_t *r = f->rect + 4 * i;
        int32_t *b = f->bands + 2 * f->band_off[i];
        if (r[2] - r[0] < BAND_MIN_REFINE_WIDTH) {
            for (int ty = r[1]; ty < r[3]; ty++, b += 2) b[0] = r[0], b[1] = r[2];
            continue;
        }
        for (int ty = r[1]; ty < r[3]; ty++, b += 2) band_tiles(f, i, ty, &b[0], &b[1]);
    }
}

cs_status cs__g2d_bin(cs_context *ctx, cs__g2d_frame *f) {
    int64_t n = f->count, tiles = (int64_t)f->tiles_x * f->tiles_y, rows = 0, total = 0;
    /* The tile rows of every Gaussian, then their tile ranges, in parallel (sqrt per row). */
    for (int64_t i = 0; i < n; i++) {
        f->band_off[i] = rows;
        rows += f->rect[4 * i + 3] - f->rect[4 * i + 1];
    }
    f->band_off[n] = rows;
    if (rows > f->cap_bands || !f->bands) {
        int64_t cap = rows + rows / 4 + 64;
        size_t bytes;
        if (!cs__mul_size((size_t)cap, 2 * sizeof(int32_t), &bytes))
            return cs__error(ctx, CS_ERR_NOMEM, "gimage render: tile rows overflow");
        int32_t *b = cs__malloc(bytes);
        if (!b) return cs__alloc_error(ctx, "gimage render", bytes);
        cs__free(f->bands);
        f->bands = b;
        f->cap_bands = cap;
    }
    cs__parallel_for(ctx, n, 1024, bands_range, f);
    memset(f->cursor, 0, (size_t)tiles * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        const int32_t *r = f->rect + 4 * i, *b = f->bands + 2 * f->band_off[i];
        f->inst_off[i] = total;
        for (int ty = r[1]; ty < r[3]; ty++, b += 2) {
            total += b[1] - b[0];
            for (int tx = b[0]; tx < b[1]; tx++) f->cursor[(int64_t)ty * f->tiles_x + tx]++;
        }
        if (total > INT32_MAX)
            return cs__error(ctx, CS_ERR_UNSUPPORTED,
                             "gimage render: more than 2^31 Gaussian-tile pairs (%lld Gaussians "
                             "too large for the image)",
                             (long long)n);
    }
    f->inst_off[n] = total;
    cs_status st = reserve_inst(ctx, f, total);
    if (st != CS_OK) return st;
    f->n_inst = total;
    int64_t acc = 0, longest = 0;
    for (int64_t t = 0; t < tiles; t++) {
        f->tile_off[t] = acc;
        acc += f->cursor[t];
        longest = f->cursor[t] > longest ? f->cursor[t] : longest;
        f->cursor[t] = f->tile_off[t];
    }
    f->tile_off[tiles] = acc;
    /* Stable scatter: Gaussians in index order, so each tile's list ascends. */
    for (int64_t i = 0; i < n; i++) {
        const int32_t *r = f->rect + 4 * i, *b = f->bands + 2 * f->band_off[i];
        int64_t j = f->inst_off[i];
        for (int ty = r[1]; ty < r[3]; ty++, b += 2)
            for (int tx = b[0]; tx < b[1]; tx++) {
                int64_t pos = f->cursor[(int64_t)ty * f->tiles_x + tx]++;
                f->tile_gauss[pos] = (int32_t)i;
                f->inst_pos[j++] = (int32_t)pos;
            }
    }
    /* Scratch of the AVX2 kernel: every worker holds a copy of the longest tile's list. */
    f->max_list = longest;
    f->kscratch_workers = cs_context_threads(ctx);
    f->kscratch_floats = cs__g2d_kscratch_floats(longest);
    size_t need;
    if (!cs__mul_size(f->kscratch_floats, (size_t)f->kscratch_workers, &need))
        return cs__error(ctx, CS_ERR_NOMEM, "gimage render: scratch size overflows");
    if (need > f->cap_kscratch) {
        float *k = cs__malloc(need * sizeof(float));
        if (!k) return cs__alloc_error(ctx, "gimage render", need * sizeof(float));
        cs__free(f->kscratch);
        f->kscratch = k;
        f->cap_kscratch = need;
    }
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The scalar tile kernel (the reference for the AVX2 one: same operations in the same order)
 */

/* Weight of Gaussian g at pixel (ax, ay) (absolute output pixel), 0 outside its box or q > 9. */
static inline float pixel_weight(const cs__g2d_frame *f, int32_t g, int ax, int ay, float px,
                                 float py) {
    const int32_t *box = f->box + 4 * (int64_t)g;
    if (ay < box[1] || ay > box[3] || ax < box[0] || ax > box[2]) return 0.0f;
    float q = cs__g2d_q(f->ca[g], f->cb[g], f->cc[g], px - f->gx[g], py - f->gy[g]);
    if (!(q <= CS_G2D_CUTOFF)) return 0.0f;
    return f->amp[g] * cs__g2d_expq(q);
}

void cs__g2d_tile_scalar(const cs__g2d_frame *f, int tile, float *out, const cs__g2d_sel *sel,
                         float *scratch) {
    (void)scratch;
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x, C = f->channels;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int64_t b = f->tile_off[tile], e = f->tile_off[tile + 1];
    bool topk = f->rule == CS_GIMAGE_TOPK;
    for (int y = y0; y < y1; y++) {
        int ay = f->oy + y;
        float py = (float)ay + 0.5f;
        for (int x = x0; x < x1; x++) {
            int ax = f->ox + x;
            float px = (float)ax + 0.5f;
            float acc[3] = {0.0f, 0.0f, 0.0f}, sum = 0.0f;
            size_t pix = (size_t)y * (size_t)f->width + (size_t)x;
            float *o = out ? out + pix * (size_t)C : NULL;
            if (!topk) {
                for (int64_t pos = b; pos < e; pos++) {
                    int32_t g = f->tile_gauss[pos];
                    float w = pixel_weight(f, g, ax, ay, px, py);
                    if (!(w > 0.0f)) continue;
                    const float *c = f->colour + (size_t)g * (size_t)C;
                    for (int ch = 0; ch < C; ch++) acc[ch] = acc[ch] + w * c[ch];
                }
                if (o)
                    for (int ch = 0; ch < C; ch++)
                        o[ch] = f->clamp ? cs__g2d_clamp01(acc[ch]) : acc[ch];
                continue;
            }
            float kw[CS_G2D_K] = {0};
            int cnt = 0;
            for (int64_t pos = b; pos < e; pos++) {
                float w = pixel_weight(f, f->tile_gauss[pos], ax, ay, px, py);
                cnt += w > 0.0f;
                if (w > kw[CS_G2D_K - 1]) cs__g2d_topk_insert(kw, w);
            }
            /* canonical selection (image2d.h): thr = 0 unless more than K weights are positive */
            float thr = cnt > CS_G2D_K ? kw[CS_G2D_K - 1] : 0.0f;
            int quota = cnt > CS_G2D_K ? cs__g2d_topk_quota(kw) : CS_G2D_K - cnt, eq = 0;
            for (int64_t pos = b; pos < e; pos++) {
                int32_t g = f->tile_gauss[pos];
                float w = pixel_weight(f, g, ax, ay, px, py);
                if (!(w > 0.0f) || w < thr) continue;
                if (w == thr) {
                    if (eq >= quota) continue;
                    eq++;
                }
                const float *c = f->colour + (size_t)g * (size_t)C;
                sum = sum + w;
                for (int ch = 0; ch < C; ch++) acc[ch] = acc[ch] + w * c[ch];
            }
            float inv = 1.0f / (sum + f->eps);
            if (o)
                for (int ch = 0; ch < C; ch++) {
                    float v = acc[ch] * inv;
                    o[ch] = f->clamp ? cs__g2d_clamp01(v) : v;
                }
            if (sel) {
                sel->thr[pix] = thr;
                sel->inv[pix] = inv;
                sel->quota[pix] = (int8_t)quota;
            }
        }
    }
}

int cs__g2d_load_tile(const cs__g2d_frame *f, int tile, int pad, float *const a[13]) {
    int64_t b = f->tile_off[tile];
    int n = (int)(f->tile_off[tile + 1] - b), C = f->channels;
    for (int k = 0; k < n; k++) {
        int32_t g = f->tile_gauss[b + k];
        const cs__g2d_cull *c = f->cull + g;
        a[0][k] = f->gx[g];
        a[1][k] = f->gy[g];
        a[2][k] = f->ca[g];
        a[3][k] = f->cb[g];
        a[4][k] = f->cc[g];
        a[5][k] = f->amp[g];
        a[6][k] = c->slope;
        a[7][k] = c->inv_syy;
        a[8][k] = c->cvar;
        a[9][k] = c->margin;
        for (int ch = 0; ch < C; ch++) a[10 + ch][k] = f->colour[(size_t)g * (size_t)C + ch];
    }
    for (; n % pad; n++) { /* padding: hw2 = 9 - 20 < 0 reaches no pixel centre */
        a[0][n] = a[1][n] = a[6][n] = a[7][n] = 0.0f;
        a[8][n] = 1.0f;
        a[9][n] = -20.0f;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Kernel selection and the threaded forward
 */
static int force_level = -1;

void cs__g2d_force_level(int level) {
    force_level = level;
}

bool cs__cpu_has_avx2(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* The cap: the hook's, else the environment's (read at each render, as cheap as it is). */
static cs_simd_level level_cap(void) {
    if (force_level >= 0) return (cs_simd_level)force_level;
    const char *scalar = getenv("CSPLAT_SCALAR"), *simd = getenv("CSPLAT_SIMD");
    if (scalar && scalar[0] == '1') return CS_SIMD_SCALAR;
    if (simd && strcmp(simd, "avx2") == 0) return CS_SIMD_AVX2;
    return CS_SIMD_AVX512;
}

bool cs__g2d_scalar_forced(void) {
    return level_cap() == CS_SIMD_SCALAR;
}

cs__g2d_tile_fn cs__g2d_tile_kernel(void) {
#if defined(__x86_64__)
    cs_simd_level cap = level_cap();
    if (cap >= CS_SIMD_AVX2 && cs__cpu_has_avx2()) {
        if (cap >= CS_SIMD_AVX512 && cs__cpu_has_avx512()) return cs__g2d_tile_avx512;
        cs__g2d_avx2_init();
        return cs__g2d_tile_avx2;
    }
#endif
    return cs__g2d_tile_scalar;
}

typedef struct forward_job {
    const cs__g2d_frame *f;
    float *out;
    const cs__g2d_sel *sel;
    cs__g2d_tile_fn kernel;
} forward_job;

static void forward_range(void *user, int64_t begin, int64_t end, int worker) {
    forward_job *job = user;
    CS_ASSERT(worker < job->f->kscratch_workers);
    float *scratch = job->f->kscratch + (size_t)worker * job->f->kscratch_floats;
    for (int64_t t = begin; t < end; t++) job->kernel(job->f, (int)t, job->out, job->sel, scratch);
}

void cs__g2d_forward(cs_context *ctx, const cs__g2d_frame *f, float *out, const cs__g2d_sel *sel) {
    forward_job job = {f, out, sel, cs__g2d_tile_kernel()};
    cs__parallel_for(ctx, (int64_t)f->tiles_x * f->tiles_y, 2, forward_range, &job);
}

/* ---------------------------------------------------------------------------------------------
 * Public render
 */
cs_status cs_gimage_render(cs_context *ctx, const cs_gimage *g, const cs_gimage_render_desc *desc,
                           cs_image *out) {
    memset(out, 0, sizeof *out);
    cs_gimage_render_desc d = desc ? *desc : (cs_gimage_render_desc){0};
    int W, H;
    if (d.width > 0 || d.height > 0) {
        if (d.width < 1 || d.height < 1)
            return cs__error(ctx, CS_ERR_ARGUMENT, "gimage render: give both width and height");
        W = d.width;
        H = d.height;
    } else {
        double s = d.scale == 0.0f ? 1.0 : (double)d.scale;
        if (!(s > 0.0) || !isfinite(s))
            return cs__error(ctx, CS_ERR_ARGUMENT, "gimage render: scale %g is not positive", s);
        double w = floor((double)g->width * s + 0.5), h = floor((double)g->height * s + 0.5);
        if (w > (1 << 20) || h > (1 << 20))
            return cs__error(ctx, CS_ERR_ARGUMENT,
                             "gimage render: scale %g gives %.0fx%.0f, over 2^20 pixels a side", s,
                             w, h);
        W = w < 1.0 ? 1 : (int)w;
        H = h < 1.0 ? 1 : (int)h;
    }
    if (W > (1 << 20) || H > (1 << 20))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage render: %dx%d is over 2^20 pixels a side", W,
                         H);
    int cx = 0, cy = 0, cw = W, ch = H;
    if (d.crop_w || d.crop_h || d.crop_x || d.crop_y) {
        cx = d.crop_x;
        cy = d.crop_y;
        cw = d.crop_w;
        ch = d.crop_h;
        if (cx < 0 || cy < 0 || cw < 1 || ch < 1 || cx > W - cw || cy > H - ch)
            return cs__error(ctx, CS_ERR_ARGUMENT,
                             "gimage render: crop %d,%d,%d,%d is not inside the %dx%d output", cx,
                             cy, cw, ch, W, H);
    }
    size_t px, bytes;
    if (!cs__mul_size((size_t)cw, (size_t)ch, &px) ||
        !cs__mul_size(px, (size_t)g->channels * sizeof(float), &bytes))
        return cs__error(ctx, CS_ERR_ARGUMENT, "gimage render: %dx%d overflows memory size", cw,
                         ch);
    float *data = cs__malloc(bytes);
    if (!data) return cs__alloc_error(ctx, "gimage render", bytes);
    cs__g2d_frame f = {0};
    float sx = (float)((double)W / g->width), sy = (float)((double)H / g->height);
    cs_status st = cs__g2d_prepare(ctx, &f, &g->p, g->rule, sx, sy, true, cx, cy, cw, ch);
    if (st == CS_OK) st = cs__g2d_bin(ctx, &f);
    if (st == CS_OK) {
        f.clamp = true; /* to [0, 1], NaN (from non-finite parameters a caller set) to 0 */
        cs__g2d_forward(ctx, &f, data, NULL);
    }
    cs__g2d_frame_free(&f);
    if (st != CS_OK) {
        cs__free(data);
        return st;
    }
    *out = (cs_image){cw, ch, g->channels, data};
    return CS_OK;
}
