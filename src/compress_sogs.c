/*
 * compress_sogs.c - `csplat compress`: a smaller SOG through a self-organizing layout, after
 * Morgenstern et al., "Compact 3D Scene Representation via Self-Organizing Gaussian Grids"
 * (ECCV 2024), and its Parallel Linear Assignment Sorting (PLAS, fraunhoferhhi/PLAS).
 *
 * A SOG stores each attribute as an image whose pixel i is Gaussian i. splat-transform lays
 * Gaussians out in Morton order: neighbours along a row are near in space, but the pixel above
 * is a whole row (hundreds of Gaussians) away along the curve, and nothing makes colours,
 * scales or rotations of neighbours alike. WebP's lossless predictors (left, top, top-left, ...)
 * then see noise. PLAS sorts the Gaussians on the 2D grid so that their features vary smoothly
 * in both directions; the file stays a plain SOG v2 that every reader decodes.
 *
 * PLAS (per radius r, from half the grid's side down to 1, shrinking by 5%):
 *   1. target T = box blur of radius r of the current grid (PLAS's Gaussian with sigma equal
 *      to the window is nearly a box; a box costs O(1) per cell with running sums);
 *   2. cut the grid into blocks of about 2r + 2 cells (at least 16), at a random offset;
 *   3. in every block, split the cells into random groups of 4 and give each group the
 *      permutation (of 24) of its 4 Gaussians that minimises sum ||feature - T(cell)||^2;
 *   4. repeat 3 while the total distance improves by more than a small fraction, then try new
 *      block offsets, until an offset brings no improvement.
 * Blocks are independent, so they run in parallel; each block's randomness comes from a hash of
 * (radius step, offset round, pass, block), so the result is identical for any thread count.
 * The grid is `width` cells wide (SOG's texture width) and filled row-major with the N Gaussians;
 * the rest of the last row is padding that never moves and is left out of the blurs (a
 * normalised, masked blur), because a SOG reader takes the first N pixels.
 *
 * Features (what "similar" means): measured on the playbot scene (level 3, 31K Gaussians, each
 * image's bytes), adding scales, colours and opacity to the sorted features at any weight made
 * the scales and sh0 images 5-15% smaller but the means_u image (the positions' high bytes)
 * 25-60% larger, a net loss; rotations and the positions' low bytes are noise whatever the
 * order. Sorting on position alone (log-transformed as stored, unit variance per axis) made
 * means_u 13% smaller than Morton order and no image larger, so that is what is sorted; the
 * other attributes follow space as far as the scene makes them.
 *
 * Where the bytes go instead: the SH palette image. Its values share a 1D codebook; csplat
 * compress gives it fewer entries (rounding SH rest coefficients to 5..8 bits, as SPZ's 4-5
 * bits do), which on playbot level 2 saved 11-15% of the file for 30 dB of the 87 dB an exact
 * re-encode keeps, a far better trade than a smaller palette (-7% cost 35 dB) or fewer
 * position bits (-3% cost 30 dB). Initial layout: recursive bisection of space onto the grid.
 *
 * The value codebook's size also follows the palette's own error: where k-means leaves a large
 * residual (SH that vary more than the palette can follow: the garden test scene's noise SH, 45
 * coefficients per Gaussian, 2 Gaussians per entry), values far finer than that residual buy
 * nothing. The fewest entries (at least 16) whose quantisation error, summed over the Gaussians,
 * stays within 0.2 (1 - q) of the k-means error are used. On garden (138,766 Gaussians) that
 * took q 0.5 from 91 entries to 16: the file from 4,316,119 to 3,522,321 bytes (-18%) for
 * 34.49 -> 34.40 dB. An exact palette (a re-encoded SOG: playbot) has no residual and keeps the
 * cap. Measured on playbot level 0 (500,000 Gaussians, 7,916,988 bytes at q 0.5, 55.02 dB), the
 * other levers cost far more: 15-bit positions -186 KB for -1.3 dB, a 32K palette -367 KB for
 * -11.5 dB, 32 value entries with 15-bit positions -404 KB for -7.7 dB, WebP effort 9 instead of
 * 4 -0.2% for 7x the time; numbering palette entries by the mean file position of their
 * Gaussians (to smooth the labels image) saved 0.2% of the labels and cost 1% on the centroids,
 * so the palette keeps its tree order.
 *
 * Rotations: each Gaussian is stored in the frame, of the 24 that differ by a rotation of the
 * cube (axes onto axes, scales permuted to match: the same covariance), whose quaternion has the
 * largest real part (cs__cube_canonical). The smallest-three code then always drops w and its
 * three values stay within +-(sqrt 2 - 1) w, the middle 59% of their byte range. Playbot level
 * 0 (q 0.5): 7,916,988 -> 7,570,558 bytes (rotations image -18%, scales -4%) for 55.02 -> 54.96
 * dB; level 3: 647,411 -> 623,599 bytes, 55.33 -> 55.03 dB. (Playbot's rotations, decoded from a
 * SOG, lie exactly on the 8-bit grid in their own frame and are rounded once more in the new
 * one: that is the small loss; rotations held as floats lose nothing to the change of frame.)
 * Below q = 0.75 rotations and opacity are stored on 7 bits (127 levels over the byte range):
 * level 0 7,325,632 bytes at 54.49 dB, level 3 609,369 at 53.07 dB; with meta.json deflated in
 * the bundle (sog_zip.c) 7,319,597 and 603,190. splat-transform 2.7.1's SOG of the same levels
 * (bench/compress): level 0 8,612,580 bytes at 53.68 dB, level 2 3,097,844 at 53.95 (ours
 * 2,377,616 at 54.07), level 3 787,993 at 52.41: csplat compress is 15.0%, 23.3% and 23.5%
 * smaller at a higher PSNR. Other levers, measured on level 0 before the frame
 * change (bytes and dB from 7,916,988 at 55.02): 6-bit rotations -374 KB, -1.21 dB; 128-entry
 * scale codebook -142 KB, -0.54 dB (level 3: -1.4 dB on top of the 7-bit rotations); 128-entry
 * colour codebook -255 KB, -0.91 dB; rotation bits by Gaussian size (8 for the largest, one
 * fewer per halving) -193 KB for -0.76 dB where uniform 7 bits take -245 KB for -0.53 dB;
 * position bits by Gaussian size (level 3) -1.2% for -0.84 dB. None of those is used.
 *
 * Quality q (0..1, default 0.5): SH value codebook of at most round(32 * 8^q) entries (91 at
 * 0.5, 256 at 1), fewer within an error budget of 0.2 (1 - q) of the palette's (above), sorting
 * effort q, SH k-means iterations 10 + 20q, 16-bit positions (15 below q = 0.3), rotations and
 * opacity 8 bits from q = 0.75, 7 below (rotations 6 below q = 0.25).
 * Not implemented: PLAS's pixel-shuffle variants and training-time sorting.
 */
#include "sog.h"

#include <stdlib.h>
#include <string.h>

typedef struct plas_state {
    int width, rows, dim;
    int64_t n;     /* real cells: 0 .. n-1 */
    float *grid;   /* [cells, dim] feature of the Gaussian at each cell */
    uint32_t *idx; /* [cells] Gaussian at each cell */
    float *target; /* [cells, dim] blurred grid */
    float *tmp;    /* [cells, dim] blur scratch */
    float *wsum;   /* [cells] blur scratch for the mask */
    /* block pass */
    int block, off_y, off_x, blocks_x, blocks_y;
    uint64_t seed;
    double *block_cost; /* [blocks] sum of assigned distances per block */
    int radius;
} plas_state;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ---------------------------------------------------------------------------------------------
 * Masked box blur: horizontal pass into tmp (sums and mask counts), vertical pass into target.
 */
static void blur_rows(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    plas_state *s = user;
    int w = s->width, d = s->dim, r = s->radius;
    double acc[64], cnt;
    for (int64_t y = begin; y < end; y++) {
        size_t row = (size_t)y * (size_t)w;
        for (int c = 0; c < d; c++) acc[c] = 0;
        cnt = 0;
        /* Window [x - r, x + r] slides; cells >= n are padding and count as absent. */
        for (int x = 0; x < r && x < w; x++)
            if ((int64_t)(row + (size_t)x) < s->n) {
                for (int c = 0; c < d; c++) acc[c] += (double)s->grid[(row + (size_t)x) * d + c];
                cnt += 1;
            }
        for (int x = 0; x < w; x++) {
            int add = x + r, sub = x - r - 1;
            if (add < w && (int64_t)(row + (size_t)add) < s->n) {
                for (int c = 0; c < d; c++) acc[c] += (double)s->grid[(row + (size_t)add) * d + c];
                cnt += 1;
            }
            if (sub >= 0 && (int64_t)(row + (size_t)sub) < s->n) {
                for (int c = 0; c < d; c++) acc[c] -= (double)s->grid[(row + (size_t)sub) * d + c];
                cnt -= 1;
            }
            for (int c = 0; c < d; c++) s->tmp[(row + (size_t)x) * d + c] = (float)acc[c];
            s->wsum[row + (size_t)x] = (float)cnt;
        }
    }
}

static void blur_cols(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    plas_state *s = user;
    int w = s->width, d = s->dim, r = s->radius, h = s->rows;
    double acc[64], cnt;
    for (int64_t x = begin; x < end; x++) {
        for (int c = 0; c < d; c++) acc[c] = 0;
        cnt = 0;
        for (int y = 0; y < r && y < h; y++) {
            size_t g = (size_t)y * w + (size_t)x;
            for (int c = 0; c < d; c++) acc[c] += (double)s->tmp[g * d + c];
            cnt += (double)s->wsum[g];
        }
        for (int y = 0; y < h; y++) {
            int add = y + r, sub = y - r - 1;
            if (add < h) {
                size_t g = (size_t)add * w + (size_t)x;
                for (int c = 0; c < d; c++) acc[c] += (double)s->tmp[g * d + c];
                cnt += (double)s->wsum[g];
            }
            if (sub >= 0) {
                size_t g = (size_t)sub * w + (size_t)x;
                for (int c = 0; c < d; c++) acc[c] -= (double)s->tmp[g * d + c];
                cnt -= (double)s->wsum[g];
            }
            size_t g = (size_t)y * w + (size_t)x;
            for (int c = 0; c < d; c++)
                s->target[g * d + c] = cnt > 0.5 ? (float)(acc[c] / cnt) : 0.0f;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * One pass over the blocks: random groups of 4, best of 24 permutations each.
 */
static int perms[24][4];

static void init_perms(void) {
    int p = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int e = 0; e < 4; e++)
                    if (a != b && a != c && a != e && b != c && b != e && c != e) {
                        perms[p][0] = a;
                        perms[p][1] = b;
                        perms[p][2] = c;
                        perms[p][3] = e;
                        p++;
                    }
}

static float dist2(const float *a, const float *b, int d) {
    float s = 0;
    for (int c = 0; c < d; c++) {
        float t = a[c] - b[c];
        s += t * t;
    }
    return s;
}

static void block_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    plas_state *s = user;
    int d = s->dim, B = s->block;
    int cells[64 * 64 * 4];
    float saved[4][64];
    for (int64_t b = begin; b < end; b++) {
        int by = (int)(b / s->blocks_x), bx = (int)(b % s->blocks_x);
        int y0 = by * B - s->off_y, x0 = bx * B - s->off_x;
        int nc = 0;
        for (int y = y0 < 0 ? 0 : y0; y < y0 + B && y < s->rows; y++)
            for (int x = x0 < 0 ? 0 : x0; x < x0 + B && x < s->width; x++) {
                int64_t g = (int64_t)y * s->width + x;
                if (g < s->n) cells[nc++] = (int)g;
            }
        /* Shuffle the block's cells (Fisher-Yates on a per-block stream). */
        uint64_t rng = mix64(s->seed ^ mix64((uint64_t)b + 0x9e3779b97f4a7c15ULL));
        for (int i = nc - 1; i > 0; i--) {
            rng = mix64(rng + 0x9e3779b97f4a7c15ULL);
            int j = (int)(rng % (uint64_t)(i + 1));
            int t = cells[i];
            cells[i] = cells[j];
            cells[j] = t;
        }
        double cost = 0;
        for (int i = 0; i + 4 <= nc; i += 4) {
            const int *c = cells + i;
            float dm[4][4];
            for (int e = 0; e < 4; e++)
                for (int t = 0; t < 4; t++)
                    dm[e][t] = dist2(s->grid + (size_t)c[e] * d, s->target + (size_t)c[t] * d, d);
            int best = 0;
            float best_cost = dm[0][0] + dm[1][1] + dm[2][2] + dm[3][3];
            for (int p = 1; p < 24; p++) {
                float v = dm[0][perms[p][0]] + dm[1][perms[p][1]] + dm[2][perms[p][2]] +
                          dm[3][perms[p][3]];
                if (v < best_cost) {
                    best_cost = v;
                    best = p;
                }
            }
            cost += (double)best_cost;
            if (best == 0) continue;
            /* Element e moves to cell c[perms[best][e]]. */
            uint32_t ids[4];
            for (int e = 0; e < 4; e++) {
                memcpy(saved[e], s->grid + (size_t)c[e] * d, (size_t)d * sizeof(float));
                ids[e] = s->idx[c[e]];
            }
            for (int e = 0; e < 4; e++) {
                int to = c[perms[best][e]];
                memcpy(s->grid + (size_t)to * d, saved[e], (size_t)d * sizeof(float));
                s->idx[to] = ids[e];
            }
        }
        s->block_cost[b] = cost;
    }
}

cs_status cs__plas_sort(cs_context *ctx, const float *features, int64_t n, int dim, int width,
                        float effort, uint32_t *order) {
    CS_ASSERT(dim >= 1 && dim <= 64 && width >= 1);
    if (n <= 0) return CS_OK;
    init_perms();
    plas_state s;
    memset(&s, 0, sizeof s);
    s.width = width;
    s.rows = (int)((n + width - 1) / width);
    s.dim = dim;
    s.n = n;
    size_t cells = (size_t)s.rows * (size_t)width, fbytes;
    if (!cs__mul_size(cells, (size_t)dim * sizeof(float), &fbytes))
        return cs__error(ctx, CS_ERR_ARGUMENT, "PLAS: grid too large");
    s.grid = cs__calloc(1, fbytes);
    s.target = cs__calloc(1, fbytes);
    s.tmp = cs__calloc(1, fbytes);
    s.wsum = cs__calloc(cells, sizeof *s.wsum);
    s.idx = cs__malloc(cells * sizeof *s.idx);
    /* Blocks are at least 16 cells wide: at most ceil(side / 16) + 1 per axis. */
    size_t max_blocks = (size_t)(s.rows / 16 + 2) * (size_t)(width / 16 + 2);
    s.block_cost = cs__calloc(max_blocks, sizeof *s.block_cost);
    cs_status st = CS_OK;
    if (!s.grid || !s.target || !s.tmp || !s.wsum || !s.idx || !s.block_cost) {
        st = cs__alloc_error(ctx, "PLAS", 3 * fbytes);
        goto done;
    }
    for (size_t g = 0; g < (size_t)n; g++) {
        s.idx[g] = order[g];
        memcpy(s.grid + g * dim, features + (size_t)order[g] * dim, (size_t)dim * sizeof(float));
    }
    effort = effort < 0 ? 0 : (effort > 1 ? 1 : effort);
    const double improvement_break = 1e-4;
    const int max_passes = 3 + (int)(12 * effort), max_rounds = 2 + (int)(4 * effort);
    const double shrink = 0.95;
    int side = s.rows > width ? s.rows : width;
    int step = 0;
    for (double rf = side / 2.0 - 1; rf >= 1.0; rf *= shrink, step++) {
        int r = (int)rf;
        s.radius = r;
        cs__parallel_for(ctx, s.rows, 16, blur_rows, &s);
        cs__parallel_for(ctx, width, 16, blur_cols, &s);
        int B = 2 * r + 2;
        B = B > side ? side : B;
        B = B / 2 * 2;
        B = B < 16 ? 16 : (B > 64 ? 64 : B);
        s.block = B;
        /* Larger radii than the block need no finer cut: the block is the unit of exchange. */
        for (int round = 0; round < max_rounds; round++) {
            uint64_t h = mix64(((uint64_t)step << 32) ^ ((uint64_t)round << 16) ^ 0x5eedULL);
            s.off_y = (int)(h % (uint64_t)B);
            s.off_x = (int)((h >> 20) % (uint64_t)B);
            s.blocks_y = (s.rows + s.off_y + B - 1) / B;
            s.blocks_x = (width + s.off_x + B - 1) / B;
            int64_t nblocks = (int64_t)s.blocks_y * s.blocks_x;
            double prev = -1;
            bool improved = false;
            for (int pass = 0; pass < max_passes; pass++) {
                s.seed = mix64(h ^ ((uint64_t)pass << 40));
                cs__parallel_for(ctx, nblocks, 4, block_task, &s);
                double cost = 0;
                for (int64_t b = 0; b < nblocks; b++) cost += s.block_cost[b];
                if (prev >= 0) {
                    double gain = prev > 0 ? 1.0 - cost / prev : 0;
                    if (gain < improvement_break) break;
                    improved = true;
                }
                prev = cost;
            }
            if (!improved && round >= 1) break;
        }
    }
    memcpy(order, s.idx, (size_t)n * sizeof *order);
done:
    cs__free(s.grid);
    cs__free(s.target);
    cs__free(s.tmp);
    cs__free(s.wsum);
    cs__free(s.idx);
    cs__free(s.block_cost);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Initial layout: recursive bisection of space onto the grid. A grid rectangle is cut across its
 * longer side; its Gaussians are split at the matching rank along the axis where their means
 * spread most, the lower part going to the first half. Neighbours in space end up neighbours in
 * both grid directions, which a 1D curve folded into rows cannot give; PLAS then refines.
 */
typedef struct bisect_ctx {
    const float *means;
    uint32_t *ids;   /* Gaussians, permuted in place */
    uint32_t *order; /* grid cell -> Gaussian */
    int64_t n;
    int width;
} bisect_ctx;

/* Real cells (index < n) of rectangle rows [y0, y1) x cols [x0, x1). */
static int64_t real_cells(const bisect_ctx *b, int y0, int y1, int x0, int x1) {
    int64_t full_rows = b->n / b->width, rem = b->n % b->width, count = 0;
    for (int y = y0; y < y1; y++) {
        if (y < full_rows)
            count += x1 - x0;
        else if (y == full_rows)
            count += x1 < rem ? x1 - x0 : (x0 < rem ? rem - x0 : 0);
    }
    return count;
}

/* Quickselect: ids[0..k) hold the k smallest keys along axis a (ties by id, deterministic). */
static void select_k(const float *means, uint32_t *ids, int64_t len, int64_t k, int a) {
    int64_t lo = 0, hi = len - 1;
    while (lo < hi) {
        uint32_t pid = ids[lo + (hi - lo) / 2];
        float pv = means[3 * (size_t)pid + a];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (means[3 * (size_t)ids[i] + a] < pv ||
                   (means[3 * (size_t)ids[i] + a] == pv && ids[i] < pid))
                i++;
            while (means[3 * (size_t)ids[j] + a] > pv ||
                   (means[3 * (size_t)ids[j] + a] == pv && ids[j] > pid))
                j--;
            if (i <= j) {
                uint32_t t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
}

static void bisect(bisect_ctx *b, uint32_t *ids, int64_t len, int y0, int y1, int x0, int x1) {
    if (len == 0) return;
    if (len == 1 || (y1 - y0 == 1 && x1 - x0 == 1)) {
        /* One cell left (or one Gaussian): place it at the rectangle's first real cell. */
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                int64_t g = (int64_t)y * b->width + x;
                if (g < b->n) {
                    b->order[g] = ids[0];
                    return;
                }
            }
        return;
    }
    int ya = y0, yb = y1, xa = x0, xb = x1;
    int ya2 = y0, yb2 = y1, xa2 = x0, xb2 = x1;
    if (x1 - x0 >= y1 - y0)
        xb = xa2 = x0 + (x1 - x0) / 2;
    else
        yb = ya2 = y0 + (y1 - y0) / 2;
    int64_t k = real_cells(b, ya, yb, xa, xb);
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < len; i++)
        for (int a = 0; a < 3; a++) {
            float v = b->means[3 * (size_t)ids[i] + a];
            lo[a] = fminf(lo[a], v);
            hi[a] = fmaxf(hi[a], v);
        }
    int axis = 0;
    for (int a = 1; a < 3; a++)
        if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
    if (k > 0 && k < len) select_k(b->means, ids, len, k, axis);
    bisect(b, ids, k, ya, yb, xa, xb);
    bisect(b, ids + k, len - k, ya2, yb2, xa2, xb2);
}

/* Grid layout of the means by recursive bisection; order[g] = Gaussian at cell g. Non-finite
 * means are treated as the origin. */
static cs_status bisect_layout(cs_context *ctx, const cs_scene_params *p, int width,
                               uint32_t *order) {
    size_t n = (size_t)p->count;
    uint32_t *ids = cs__malloc((n + 1) * sizeof *ids);
    float *m = cs__malloc((3 * n + 1) * sizeof *m);
    if (!ids || !m) {
        cs__free(ids);
        cs__free(m);
        return cs__alloc_error(ctx, "compress layout", n * 16);
    }
    for (size_t i = 0; i < 3 * n; i++) m[i] = isfinite(p->means[i]) ? p->means[i] : 0.0f;
    for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)i;
    bisect_ctx b = {m, ids, order, p->count, width};
    int rows = (int)((p->count + width - 1) / width);
    bisect(&b, ids, p->count, 0, rows, 0, width);
    cs__free(ids);
    cs__free(m);
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * csplat compress.
 */

/* Sorting features [n, 3]: positions as SOG stores them (sign(x) ln(|x| + 1)), unit variance
 * per axis so no axis dominates. */
static cs_status build_features(cs_context *ctx, const cs_scene_params *p, float **out) {
    size_t n = (size_t)p->count;
    float *f = cs__malloc(n * 3 * sizeof *f + 1);
    if (!f) return cs__alloc_error(ctx, "compress features", n * 3 * sizeof *f);
    for (size_t i = 0; i < 3 * n; i++) {
        float m = p->means[i];
        f[i] = isfinite(m) ? (m < 0 ? -log1pf(-m) : log1pf(m)) : 0.0f;
    }
    for (int c = 0; c < 3; c++) {
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < n; i++) {
            double x = f[3 * i + (size_t)c];
            sum += x;
            sum2 += x * x;
        }
        double mean = n ? sum / (double)n : 0, var = n ? sum2 / (double)n - mean * mean : 0;
        float scale = var > 1e-20 ? (float)(1.0 / sqrt(var)) : 0.0f;
        for (size_t i = 0; i < n; i++)
            f[3 * i + (size_t)c] = (f[3 * i + (size_t)c] - (float)mean) * scale;
    }
    *out = f;
    return CS_OK;
}

cs_status cs__sogs_compress(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_options *options) {
    const cs_scene_params *p = &scene->p;
    size_t n = (size_t)p->count;
    float q = options && options->quality > 0 ? options->quality : 0.5f;
    q = q > 1 ? 1 : q;
    if (p->count > (int64_t)16383 * 16383)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: %lld Gaussians exceed a WebP texture", path,
                         (long long)p->count);
    int width = (int)ceil(sqrt((double)n) / 4) * 4;
    width = width < 4 ? 4 : width;
    uint32_t *order = cs__malloc((n + 1) * sizeof *order);
    float *features = NULL;
    if (!order) return cs__alloc_error(ctx, path, n * sizeof *order);
    cs_status st = bisect_layout(ctx, p, width, order);
    if (st == CS_OK) st = build_features(ctx, p, &features);
    if (st == CS_OK) st = cs__plas_sort(ctx, features, p->count, 3, width, q, order);
    if (st == CS_OK) {
        cs_sog_plan plan = {0};
        plan.order = order;
        plan.width = width;
        plan.height = (int)ceil((double)n / width / 4) * 4;
        plan.height = plan.height < 4 ? 4 : plan.height;
        plan.sh_iterations =
            options && options->sh_iterations ? options->sh_iterations : 10 + (int)(20 * q);
        plan.position_bits = q < 0.3f ? 15 : 16;
        plan.sh_codebook = (int)lroundf(32.0f * exp2f(3.0f * q));
        plan.sh_codebook_ratio = 0.2f * (1.0f - q);
        plan.webp_effort = 4;
        plan.canonical_rotations = true;
        plan.quat_bits = q >= 0.75f ? 8 : q >= 0.25f ? 7 : 6;
        plan.opacity_bits = q >= 0.75f ? 8 : 7;
        st = cs__sog_save_plan(ctx, scene, path, &plan);
    }
    cs__free(features);
    cs__free(order);
    return st;
}
