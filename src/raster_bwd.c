/*
 * raster_bwd.c - the backward of the compositing stage (raster.c), as the reference
 * diff-gaussian-rasterization backward.cu (renderCUDA) does it, per 16 x 16 tile:
 *
 * Forward, per pixel: C = sum_i c_i alpha_i T_i + T_N bg, T_i = prod_{j<i} (1 - alpha_j), over the
 * splats drawn, in depth order. Backward, each pixel starts from the forward's final T_N and
 * last-contributor position and walks the tile's list back to front:
 *
 *   T_i = T_{i+1} / (1 - alpha_i)                       (recovers the forward's T, no storage)
 *   dL/dc_i     += alpha_i T_i dL/dC
 *   dL/dalpha_i  = T_i (c_i - A_i) . dL/dC - T_N / (1 - alpha_i) bg . dL/dC
 *   A_{i-1} = A_i + alpha_i (c_i - A_i)                 (A_i: colour behind i as seen from i;
 *                                                        A_N = 0)
 *
 * The reference carries the previous splat's colour and alpha per pixel and updates A before
 * use; updating it right after use is the same recursion with half the per-pixel state. Then
 * alpha = min(0.99, o G), G = exp(power), power = -(a dx^2 + c dy^2) / 2 - b dx dy,
 * d = mean2D - pixel centre. Where o G > 0.99 alpha is the constant 0.99: no gradient to o, the
 * mean or the conic (the reference passes one anyway; we differentiate the forward as computed).
 * The splats a pixel skipped (alpha < 1/255, power > 0) are skipped again with the forward's
 * float expressions, so the walk visits exactly what was drawn; positions at or past the last
 * contributor were never drawn (transmittance stop) and are not visited.
 *
 * No atomics: each (tile, splat) list entry gets its own gradient record (d_list [M]), summed
 * over that tile's pixels in row order. cs__raster_bwd_reduce_cpu then adds each splat's records
 * in tile order. Both orders are fixed, so the result is the same for any thread count.
 *
 * Pixels of a splat are limited to its clipped support box (cs__tile_clip, as the forward): the
 * pixels outside it have alpha < 1/255 and contribute nothing.
 *
 * Not here: the per-Gaussian chain from (mean2D, conic, opacity, rgb) to the parameters
 * (project_bwd.c, sh_bwd.c).
 */
#include "train_render.h"

#include <math.h>
#include <string.h>

uint32_t cs__raster_bwd_begin(const cs_raster_bwd_args *a, int64_t tile, cs_tile_state *geo,
                              cs_bwd_state *b) {
    const cs_view *v = a->view;
    geo->x0 = (int)(tile % v->tiles_x) * CS_TILE;
    geo->y0 = (int)(tile / v->tiles_x) * CS_TILE;
    geo->w = v->width - geo->x0 < CS_TILE ? v->width - geo->x0 : CS_TILE;
    geo->h = v->height - geo->y0 < CS_TILE ? v->height - geo->y0 : CS_TILE;
    memset(b, 0, sizeof *b);
    uint32_t max_last = 0;
    for (int j = 0; j < geo->h; j++) {
        size_t row = (size_t)(geo->y0 + j) * (size_t)v->width + (size_t)geo->x0;
        for (int i = 0; i < geo->w; i++) {
            int q = j * CS_TILE + i;
            size_t o = row + (size_t)i;
            float dot = 0.0f;
            for (int ch = 0; ch < 3; ch++) {
                b->dp[ch][q] = a->d_rgb[3 * o + (size_t)ch];
                dot += a->background[ch] * b->dp[ch][q];
            }
            b->t[q] = a->final_t[o];
            b->bgt[q] = -a->final_t[o] * dot;
            b->last[q] = a->n_contrib[o];
            if (b->last[q] > max_last) max_last = b->last[q];
        }
    }
    int64_t begin = a->ranges[tile], end = a->ranges[tile + 1];
    a->tile_last[tile] = max_last;
    memset(a->d_list + begin, 0, (size_t)(end - begin) * sizeof *a->d_list);
    return max_last;
}

void cs__raster_bwd_tile(const cs_raster_bwd_args *a, int64_t tile) {
    cs_tile_state geo; /* only the geometry fields, for cs__tile_clip */
    cs_bwd_state b;
    uint32_t max_last = cs__raster_bwd_begin(a, tile, &geo, &b);
    int64_t begin = a->ranges[tile];

    for (uint32_t pos = max_last; pos-- > 0;) {
        const cs_splat *s = &a->splats[a->list[begin + pos]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &geo, &i0, &i1, &j0, &j1)) continue;
        float ca = s->conic[0], cb = s->conic[1], cc = s->conic[2], o = s->opacity;
        float gx = 0.0f, gy = 0.0f, ga = 0.0f, gb = 0.0f, gc = 0.0f, go = 0.0f;
        float gr[3] = {0.0f, 0.0f, 0.0f};
        for (int j = j0; j <= j1; j++) {
            float dy = s->y - ((float)(geo.y0 + j) + 0.5f);
            for (int i = i0; i <= i1; i++) {
                int q = j * CS_TILE + i;
                if (pos >= b.last[q]) continue;
                /* The forward's expressions (raster.c), so the same splats are skipped. */
                float dx = s->x - ((float)(geo.x0 + i) + 0.5f);
                float power = -0.5f * (ca * dx * dx + cc * dy * dy) - cb * dx * dy;
                if (power > 0.0f) continue;
                float g = expf(power);
                float og = o * g;
                float alpha = og < CS_ALPHA_MAX ? og : CS_ALPHA_MAX;
                if (alpha < CS_ALPHA_MIN) continue;
                float one_minus = 1.0f - alpha;
                float t = b.t[q] / one_minus;
                b.t[q] = t;
                float w = alpha * t, d_alpha = 0.0f;
                for (int ch = 0; ch < 3; ch++) {
                    float diff = s->rgb[ch] - b.acc[ch][q];
                    d_alpha += diff * b.dp[ch][q];
                    b.acc[ch][q] += alpha * diff; /* now the colour behind the next splat */
                    gr[ch] += w * b.dp[ch][q];
                }
                d_alpha = d_alpha * t + b.bgt[q] / one_minus;
                if (og > CS_ALPHA_MAX) continue; /* clamped: alpha does not depend on o, G */
                go += g * d_alpha;
                float d_power = o * g * d_alpha; /* dL/dG dG/dpower, G = exp(power) */
                gx -= d_power * (ca * dx + cb * dy);
                gy -= d_power * (cc * dy + cb * dx);
                ga -= 0.5f * d_power * dx * dx;
                gb -= d_power * dx * dy;
                gc -= 0.5f * d_power * dy * dy;
            }
        }
        cs_splat_grad *d = &a->d_list[begin + pos];
        d->x = gx;
        d->y = gy;
        d->conic[0] = ga;
        d->conic[1] = gb;
        d->conic[2] = gc;
        d->opacity = go;
        d->rgb[0] = gr[0];
        d->rgb[1] = gr[1];
        d->rgb[2] = gr[2];
    }
}

typedef struct raster_bwd_job {
    const cs_raster_bwd_args *args;
    cs_raster_bwd_kernel kernel;
} raster_bwd_job;

static void raster_bwd_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const raster_bwd_job *job = user;
    for (int64_t t = begin; t < end; t++) job->kernel(job->args, t);
}

void cs__raster_bwd_cpu(cs_context *ctx, const cs_raster_bwd_args *a, cs_raster_bwd_kernel kernel) {
    raster_bwd_job job = {a, kernel};
    int64_t tiles = (int64_t)a->view->tiles_x * a->view->tiles_y;
    /* One tile per chunk: tile costs differ by orders of magnitude. */
    cs__parallel_for(ctx, tiles, 1, raster_bwd_task, &job);
}

typedef struct reduce_job {
    const cs_reduce_args *a;
    int64_t parts;
} reduce_job;

/* Part p owns splats [N p / parts, N (p + 1) / parts): it zeroes them, then walks every tile in
 * order adding the entries that belong to it. */
static void reduce_task(void *user, int64_t p, int64_t p_end, int worker) {
    (void)p_end, (void)worker;
    const reduce_job *job = user;
    const cs_reduce_args *a = job->a;
    uint32_t lo = (uint32_t)(a->count * p / job->parts);
    uint32_t hi = (uint32_t)(a->count * (p + 1) / job->parts);
    memset(a->d_splats + lo, 0, (size_t)(hi - lo) * sizeof *a->d_splats);
    int64_t tiles = (int64_t)a->view->tiles_x * a->view->tiles_y;
    for (int64_t t = 0; t < tiles; t++) {
        int64_t begin = a->ranges[t], end = begin + a->tile_last[t];
        for (int64_t e = begin; e < end; e++) {
            uint32_t idx = a->list[e];
            if (idx < lo || idx >= hi) continue;
            const cs_splat_grad *g = &a->d_list[e];
            cs_splat_grad *d = &a->d_splats[idx];
            d->x += g->x;
            d->y += g->y;
            d->conic[0] += g->conic[0];
            d->conic[1] += g->conic[1];
            d->conic[2] += g->conic[2];
            d->opacity += g->opacity;
            d->rgb[0] += g->rgb[0];
            d->rgb[1] += g->rgb[1];
            d->rgb[2] += g->rgb[2];
        }
    }
}

void cs__raster_bwd_reduce_cpu(cs_context *ctx, const cs_reduce_args *a) {
    reduce_job job = {a, cs_context_threads(ctx)};
    if (job.parts > a->count) job.parts = a->count > 0 ? a->count : 1;
    cs__parallel_for(ctx, job.parts, 1, reduce_task, &job);
}
