/*
 * sog_write.c - writes PlayCanvas SOG version 2 (layout described in io_sog.c): the images are
 * built from a plan (Gaussian order, texture size, SH palette size, bit depths, WebP effort),
 * encoded losslessly in parallel, then stored as a bundled zip (".sog") or as files next to
 * meta.json.
 *
 * Encoding choices (all decode with any SOG v2 reader):
 *   means   16-bit, rounded to nearest (splat-transform truncates); position_bits < 16 rounds
 *           to multiples of 2^(16 - bits), which zeroes the low bits of means_l and lets WebP
 *           drop them. The step is (max - min) / 65535 in log-transformed units.
 *   quats   components rounded to nearest; the largest made positive (q and -q are one rotation);
 *           quat_bits < 8 puts them on 2^bits levels spread over the byte range (fewer symbols
 *           for WebP). With canonical_rotations (csplat compress) each Gaussian is first moved
 *           to the frame of its 24 cube-symmetric ones whose quaternion has the largest real
 *           part, scales permuted to match (cs__cube_canonical: the same covariance): the
 *           dropped component is then always w and the stored ones use the middle 59% of their
 *           range, which WebP codes in fewer bits (playbot level 0: quats image -18%, scales -4%)
 *   scales, sh0 colour, SH palette values  256-entry 1D k-means codebooks (sog_quant.c)
 *   opacity round(sigmoid * 255), on 2^opacity_bits levels when fewer than 8
 *   SH      palette of up to 64K vectors by k-means (sog_quant.c) in tree order, so palette
 *           neighbours are similar; palette size min(64, 2^floor(log2(N / 1024))) * 1024 unless
 *           the plan says otherwise; exactly the scene's vectors when it has no more distinct
 *           ones than that (a SOG re-encodes without SH loss). Palette values share a 1D
 *           codebook of 256 entries, or fewer when the plan asks (csplat compress: a
 *           fixed number, or the fewest whose error stays a set fraction of the palette's)
 * Padding pixels (past the count, and palette rows past the last entry) repeat the last real
 * pixel, which costs WebP almost nothing.
 *
 * Output: every file goes through a temporary and a rename; unbundled, meta.json is written
 * last so a reader never sees it before its images. Non-finite parameters are written as finite
 * values (0 positions, identity rotations, the codebook's nearest entry).
 */
#include "sog.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

enum { IMG_MEANS_L, IMG_MEANS_U, IMG_QUATS, IMG_SCALES, IMG_SH0, IMG_CENTROIDS, IMG_LABELS };
static const char *const image_names[7] = {"means_l.webp",   "means_u.webp", "quats.webp",
                                           "scales.webp",    "sh0.webp",     "shN_centroids.webp",
                                           "shN_labels.webp"};

typedef struct sog_images {
    uint8_t *rgba[7];
    int w[7], h[7];
    uint8_t *webp[7];
    size_t webp_len[7];
    cs_status status[7];
    char error[7][1024]; /* each encoder's message; the first failure is reported */
    int count;           /* images in use: 5 or 7 */
    int effort;
    const char *path;
} sog_images;

static double log_transform(double x) {
    return x < 0 ? -log1p(-x) : log1p(x);
}

/* Repeat pixel `last` over [from, total) of an RGBA image. */
static void pad_pixels(uint8_t *rgba, size_t last, size_t from, size_t total) {
    for (size_t i = from; i < total; i++) memcpy(rgba + 4 * i, rgba + 4 * last, 4);
}

static void encode_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    sog_images *im = user;
    for (int64_t i = begin; i < end; i++) {
        char label[512];
        snprintf(label, sizeof label, "%s: %s", im->path, image_names[i]);
        /* Each task records into its own single-threaded context: the caller's context is not
         * safe to write from several threads. */
        cs_context scratch = {.threads = 1};
        im->status[i] = cs__webp_encode(&scratch, label, im->rgba[i], im->w[i], im->h[i],
                                        im->effort, &im->webp[i], &im->webp_len[i]);
        snprintf(im->error[i], sizeof im->error[i], "%s", scratch.error);
    }
}

/* The means images and the log-space bounds for meta.json. */
static void build_means(const cs_scene_params *p, const uint32_t *order, size_t n, int bits,
                        sog_images *im, double mins[3], double maxs[3]) {
    for (int a = 0; a < 3; a++) {
        mins[a] = INFINITY;
        maxs[a] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) {
            float v = p->means[3 * (size_t)order[i] + a];
            if (!isfinite(v)) continue;
            double t = log_transform(v);
            mins[a] = t < mins[a] ? t : mins[a];
            maxs[a] = t > maxs[a] ? t : maxs[a];
        }
    for (int a = 0; a < 3; a++)
        if (!(maxs[a] >= mins[a])) mins[a] = maxs[a] = 0;
    uint32_t step = 1u << (16 - bits);
    uint8_t *lo = im->rgba[IMG_MEANS_L], *hi = im->rgba[IMG_MEANS_U];
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < 3; a++) {
            float v = p->means[3 * (size_t)order[i] + a];
            double range = maxs[a] - mins[a];
            double t = isfinite(v) && range > 0 ? (log_transform(v) - mins[a]) / range : 0;
            uint32_t q = (uint32_t)lround(t * 65535.0 / step) * step;
            q = q > 65535 ? 65535 : q;
            lo[4 * i + a] = (uint8_t)q;
            hi[4 * i + a] = (uint8_t)(q >> 8);
        }
        lo[4 * i + 3] = hi[4 * i + 3] = 255;
    }
}

/* x in [0, 255] on the grid of 2^bits levels spread over 0 .. 255 (bits 8: every byte):
 * level round(x / 255 (2^bits - 1)), stored as the nearest byte of level 255 / (2^bits - 1). */
static uint8_t coarse_u8(float x, int bits) {
    if (bits >= 8) return cs__u8_round(x);
    float levels = (float)((1 << bits) - 1), u = x / 255.0f;
    u = u > 0.0f ? (u < 1.0f ? u : 1.0f) : 0.0f; /* NaN: 0 */
    return cs__u8_round(floorf(u * levels + 0.5f) * 255.0f / levels);
}

static void build_quats(const float *quats, const uint32_t *order, size_t n, int bits,
                        uint8_t *out) {
    for (size_t i = 0; i < n; i++) {
        float q[4];
        cs__quat_normalize(quats + 4 * (size_t)order[i], q);
        int largest = 0;
        for (int c = 1; c < 4; c++)
            if (fabsf(q[c]) > fabsf(q[largest])) largest = c;
        float sgn = q[largest] < 0 ? -1.0f : 1.0f;
        uint8_t *px = out + 4 * i;
        for (int c = 0, m = 0; c < 4; c++) {
            if (c == largest) continue;
            float v = sgn * q[c] * 1.41421356237309505f; /* into [-1, 1] */
            px[m++] = coarse_u8(255.0f * (v * 0.5f + 0.5f), bits);
        }
        px[3] = (uint8_t)(252 + largest);
    }
}

/* A 256-entry codebook over three values per Gaussian: sets RGB of out, returns the codebook. */
static cs_status build_codebook3(cs_context *ctx, const float *src, size_t stride, size_t off,
                                 const uint32_t *order, size_t n, float *codebook, uint8_t *out) {
    float *vals = cs__malloc((3 * n + 1) * sizeof *vals);
    uint8_t *labels = cs__malloc(3 * n + 1);
    if (!vals || !labels) {
        cs__free(vals);
        cs__free(labels);
        return cs__alloc_error(ctx, "SOG codebook", 15 * n);
    }
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) vals[3 * i + a] = src[stride * order[i] + off + (size_t)a];
    cs_status st = cs__codebook_1d(ctx, vals, 3 * n, 256, codebook, labels);
    for (size_t i = 0; i < n && st == CS_OK; i++) {
        for (int a = 0; a < 3; a++) out[4 * i + a] = labels[3 * i + a];
        out[4 * i + 3] = 255;
    }
    cs__free(vals);
    cs__free(labels);
    return st;
}

/* Squared error, summed over the Gaussians, of the palette values quantised to a k-entry 1D
 * codebook (codebook and codes filled). uses[e]: Gaussians labelled with entry e. */
static cs_status codebook_error(cs_context *ctx, const float *cents, int pk, int dim,
                                const uint32_t *uses, int k, float *codebook, uint8_t *codes,
                                double *err) {
    cs_status st = cs__codebook_1d(ctx, cents, (size_t)pk * dim, k, codebook, codes);
    double sum = 0;
    for (int e = 0; e < pk && st == CS_OK; e++) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            size_t v = (size_t)e * dim + (size_t)d;
            double t = (double)codebook[codes[v]] - (double)cents[v];
            s += t * t;
        }
        sum += s * uses[e];
    }
    *err = sum;
    return st;
}

/* The value codebook's size for plan->sh_codebook_ratio: the smallest k in [16, max_entries]
 * whose quantisation error (codebook_error) is at most ratio times the k-means error of the
 * palette itself, found by bisection (the error falls as k grows). Where the palette is
 * already coarse (SH that are noise, or a palette much smaller than the scene's variety),
 * coarse values add little to the render error and save a third of the palette image or
 * more; where it is exact (a re-encoded SOG), max_entries stay. */
static cs_status fit_codebook(cs_context *ctx, const float *pts, size_t n, int dim,
                              const float *cents, int pk, const uint32_t *labels, float ratio,
                              int max_entries, float *codebook, uint8_t *codes, int *entries) {
    *entries = max_entries;
    uint32_t *uses = cs__calloc((size_t)pk, sizeof *uses);
    if (!uses) return cs__alloc_error(ctx, "SOG palette", (size_t)pk * sizeof *uses);
    double residual = 0;
    for (size_t i = 0; i < n; i++) {
        uses[labels[i]]++;
        for (int d = 0; d < dim; d++) {
            size_t pi = i * (size_t)dim + (size_t)d, ci = (size_t)labels[i] * dim + (size_t)d;
            double t = (double)pts[pi] - (double)cents[ci];
            residual += t * t;
        }
    }
    cs_status st = CS_OK;
    int lo = 16, hi = max_entries; /* hi always meets the budget (or is the cap) */
    while (residual > 0 && lo < hi && st == CS_OK) {
        int mid = (lo + hi) / 2;
        double err;
        st = codebook_error(ctx, cents, pk, dim, uses, mid, codebook, codes, &err);
        if (err <= (double)ratio * residual)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (residual > 0) *entries = hi;
    cs__free(uses);
    return st;
}

/* The SH palette: k-means of the rest coefficients, its 256-entry codebook, the centroid and
 * label images. */
static cs_status build_palette(cs_context *ctx, const cs_scene_params *p, const uint32_t *order,
                               size_t n, const cs_sog_plan *plan, sog_images *im, int *palette_out,
                               float *codebook) {
    int coeffs = p->sh_coeffs - 1, dim = 3 * coeffs;
    int palette = plan->sh_palette;
    if (palette <= 0) {
        /* splat-transform's rule: min(64, 2^floor(log2(N / 1024))) * 1024. */
        double e = floor(log2((double)(n ? n : 1) / 1024.0));
        palette = (int)(fmin(64.0, exp2(e)) * 1024.0);
    }
    palette = palette > 65536 ? 65536 : (palette < 1 ? 1 : palette);
    size_t k3 = 3 * (size_t)p->sh_coeffs;
    float *pts = cs__malloc(((size_t)n * dim + 1) * sizeof *pts);
    float *cents = cs__malloc(((size_t)palette * dim + 1) * sizeof *cents);
    uint32_t *labels = cs__malloc((n + 1) * sizeof *labels);
    uint8_t *codes = cs__malloc((size_t)palette * dim + 1);
    cs_status st = CS_OK;
    if (!pts || !cents || !labels || !codes) st = cs__alloc_error(ctx, "SOG palette", n * dim * 4);
    for (size_t i = 0; i < n && st == CS_OK; i++)
        for (int d = 0; d < dim; d++) {
            float v = p->sh[k3 * order[i] + 3 + (size_t)d];
            pts[(size_t)dim * i + (size_t)d] = isfinite(v) ? v : 0.0f;
        }
    int pk = 0;
    int iters = plan->sh_iterations > 0 ? plan->sh_iterations : 10;
    if (st == CS_OK) st = cs__kmeans(ctx, pts, (int64_t)n, dim, palette, iters, cents, labels, &pk);
    if (st == CS_OK && pk == 0) { /* no Gaussians: one zero entry keeps the images valid */
        pk = 1;
        memset(cents, 0, (size_t)dim * sizeof *cents);
    }
    /* A smaller value codebook (csplat compress) leaves the palette image fewer symbols; the
     * meta.json codebook keeps 256 entries, the unused tail repeating the last value. */
    int entries = plan->sh_codebook > 0 && plan->sh_codebook < 256 ? plan->sh_codebook : 256;
    if (st == CS_OK && plan->sh_codebook_ratio > 0 && entries > 16)
        st = fit_codebook(ctx, pts, n, dim, cents, pk, labels, plan->sh_codebook_ratio, entries,
                          codebook, codes, &entries);
    if (st == CS_OK) st = cs__codebook_1d(ctx, cents, (size_t)pk * dim, entries, codebook, codes);
    for (int i = entries; i < 256; i++) codebook[i] = codebook[entries - 1];
    if (st == CS_OK) {
        int w = 64 * coeffs, h = (pk + 63) / 64;
        im->w[IMG_CENTROIDS] = w;
        im->h[IMG_CENTROIDS] = h;
        im->rgba[IMG_CENTROIDS] = cs__malloc((size_t)w * h * 4);
        if (!im->rgba[IMG_CENTROIDS]) st = cs__alloc_error(ctx, "SOG palette", (size_t)w * h * 4);
    }
    if (st == CS_OK) {
        /* Entry e's coefficient j is pixel (e % 64) * coeffs + j of row e / 64: with rows
         * 64 * coeffs wide that is pixel e * coeffs + j row-major, so entries are contiguous. */
        uint8_t *c = im->rgba[IMG_CENTROIDS];
        size_t used = (size_t)pk * (size_t)coeffs;
        for (size_t px = 0; px < used; px++) {
            /* Palette vectors are [coefficient][rgb], as the scene's SH. */
            for (int ch = 0; ch < 3; ch++) c[4 * px + ch] = codes[3 * px + (size_t)ch];
            c[4 * px + 3] = 255;
        }
        pad_pixels(c, used - 1, used, (size_t)im->w[IMG_CENTROIDS] * im->h[IMG_CENTROIDS]);
        uint8_t *l = im->rgba[IMG_LABELS];
        for (size_t i = 0; i < n; i++) {
            l[4 * i] = (uint8_t)labels[i];
            l[4 * i + 1] = (uint8_t)(labels[i] >> 8);
            l[4 * i + 2] = 0;
            l[4 * i + 3] = 255;
        }
        *palette_out = pk;
    }
    cs__free(pts);
    cs__free(cents);
    cs__free(labels);
    cs__free(codes);
    return st;
}

static cJSON *number_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* Floats as the shortest decimal of 6..9 significant digits that reads back as the same float
 * (9 always does; cJSON would print the double expansion, 17 digits). */
static cJSON *float_array(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        char num[32];
        for (int digits = 6; digits <= 9; digits++) {
            snprintf(num, sizeof num, "%.*g", digits, (double)v[i]);
            if (strtof(num, NULL) == v[i] || !isfinite(v[i])) break;
        }
        cJSON_AddItemToArray(a, cJSON_CreateRaw(num));
    }
    return a;
}

static cJSON *file_list(int first, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(image_names[first + i]));
    return a;
}

static char *build_meta(size_t n, const double mins[3], const double maxs[3],
                        const float *scales_cb, const float *sh0_cb, int bands, int palette,
                        const float *shn_cb) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 2);
    cJSON *asset = cJSON_AddObjectToObject(o, "asset");
    char gen[64];
    snprintf(gen, sizeof gen, "csplat %s", cs_version());
    cJSON_AddStringToObject(asset, "generator", gen);
    cJSON_AddNumberToObject(o, "count", (double)n);
    cJSON *means = cJSON_AddObjectToObject(o, "means");
    cJSON_AddItemToObject(means, "mins", number_array(mins, 3));
    cJSON_AddItemToObject(means, "maxs", number_array(maxs, 3));
    cJSON_AddItemToObject(means, "files", file_list(IMG_MEANS_L, 2));
    cJSON *scales = cJSON_AddObjectToObject(o, "scales");
    cJSON_AddItemToObject(scales, "codebook", float_array(scales_cb, 256));
    cJSON_AddItemToObject(scales, "files", file_list(IMG_SCALES, 1));
    cJSON *quats = cJSON_AddObjectToObject(o, "quats");
    cJSON_AddItemToObject(quats, "files", file_list(IMG_QUATS, 1));
    cJSON *sh0 = cJSON_AddObjectToObject(o, "sh0");
    cJSON_AddItemToObject(sh0, "codebook", float_array(sh0_cb, 256));
    cJSON_AddItemToObject(sh0, "files", file_list(IMG_SH0, 1));
    if (bands) {
        cJSON *shn = cJSON_AddObjectToObject(o, "shN");
        cJSON_AddNumberToObject(shn, "count", palette);
        cJSON_AddNumberToObject(shn, "bands", bands);
        cJSON_AddItemToObject(shn, "codebook", float_array(shn_cb, 256));
        cJSON_AddItemToObject(shn, "files", file_list(IMG_CENTROIDS, 2));
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* Write one whole file atomically. */
static cs_status write_whole(cs_context *ctx, const char *path, const void *data, size_t len) {
    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st != CS_OK) return st;
    st = cs__outfile_write(ctx, &of, data, len);
    if (st != CS_OK) {
        cs__outfile_abort(&of);
        return st;
    }
    return cs__outfile_commit(ctx, &of);
}

cs_status cs__sog_save_plan(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_plan *plan) {
    const cs_scene_params *p = &scene->p;
    size_t n = (size_t)p->count;
    if (p->count > (int64_t)16383 * 16383)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: %lld Gaussians exceed a WebP texture", path,
                         (long long)p->count);
    int w = plan->width, h = plan->height;
    if (w <= 0 || h <= 0) {
        w = (int)ceil(sqrt((double)n) / 4) * 4;
        w = w < 4 ? 4 : w;
        h = (int)ceil((double)n / w / 4) * 4;
        h = h < 4 ? 4 : h;
    }
    if ((size_t)w * (size_t)h < n)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: a %dx%d texture cannot hold %zu Gaussians",
                         path, w, h, n);
    int bits = plan->position_bits > 0 && plan->position_bits < 16 ? plan->position_bits : 16;
    int quat_bits = plan->quat_bits > 0 && plan->quat_bits < 8 ? plan->quat_bits : 8;
    int opacity_bits = plan->opacity_bits > 0 && plan->opacity_bits < 8 ? plan->opacity_bits : 8;
    sog_images im;
    memset(&im, 0, sizeof im);
    im.count = p->sh_degree ? 7 : 5;
    im.effort = plan->webp_effort > 0 ? plan->webp_effort : 4;
    im.path = path;
    cs_status st = CS_OK;
    uint32_t *order = NULL;
    const uint32_t *ord = plan->order;
    if (!ord) {
        order = cs__malloc((n + 1) * sizeof *order);
        if (!order) return cs__alloc_error(ctx, path, n * sizeof *order);
        st = cs__morton_order(ctx, p->means, p->count, order);
        ord = order;
    }
    /* Rotations and scales as stored: the scene's, or each Gaussian's cube-canonical frame. */
    const float *quats = p->quats, *log_scales = p->log_scales;
    float *canon = NULL;
    if (st == CS_OK && plan->canonical_rotations) {
        canon = cs__malloc(n * 7 * sizeof *canon + 1);
        if (!canon) st = cs__alloc_error(ctx, path, n * 7 * sizeof *canon);
        for (size_t i = 0; canon && i < n; i++) {
            float q[4];
            cs__quat_normalize(p->quats + 4 * i, q);
            cs__cube_canonical(q, p->log_scales + 3 * i, canon + 4 * i, canon + 4 * n + 3 * i);
        }
        quats = canon;
        log_scales = canon + 4 * n;
    }
    size_t pixels = (size_t)w * (size_t)h;
    for (int i = 0; i < im.count && st == CS_OK; i++) {
        if (i == IMG_CENTROIDS) continue; /* sized by the palette */
        im.w[i] = w;
        im.h[i] = h;
        im.rgba[i] = cs__calloc(pixels, 4);
        if (!im.rgba[i]) st = cs__alloc_error(ctx, path, pixels * 4);
    }
    double mins[3], maxs[3];
    float scales_cb[256], sh0_cb[256], shn_cb[256];
    int palette = 0;
    if (st == CS_OK) {
        build_means(p, ord, n, bits, &im, mins, maxs);
        build_quats(quats, ord, n, quat_bits, im.rgba[IMG_QUATS]);
        st = build_codebook3(ctx, log_scales, 3, 0, ord, n, scales_cb, im.rgba[IMG_SCALES]);
    }
    if (st == CS_OK)
        st = build_codebook3(ctx, p->sh, 3 * (size_t)p->sh_coeffs, 0, ord, n, sh0_cb,
                             im.rgba[IMG_SH0]);
    if (st == CS_OK)
        for (size_t i = 0; i < n; i++)
            im.rgba[IMG_SH0][4 * i + 3] =
                coarse_u8(cs__sigmoidf(p->opacities[ord[i]]) * 255.0f, opacity_bits);
    if (st == CS_OK && p->sh_degree)
        st = build_palette(ctx, p, ord, n, plan, &im, &palette, shn_cb);
    if (st == CS_OK && n > 0)
        for (int i = 0; i < im.count; i++)
            if (i != IMG_CENTROIDS) pad_pixels(im.rgba[i], n - 1, n, pixels);
    if (st == CS_OK) {
        cs__parallel_for(ctx, im.count, 1, encode_task, &im);
        for (int i = 0; i < im.count && st == CS_OK; i++)
            if (im.status[i] != CS_OK) st = cs__error(ctx, im.status[i], "%s", im.error[i]);
    }
    char *meta = NULL;
    if (st == CS_OK) {
        meta = build_meta(n, mins, maxs, scales_cb, sh0_cb, p->sh_degree, palette, shn_cb);
        if (!meta) st = cs__alloc_error(ctx, path, 8192);
    }
    if (st == CS_OK && cs__ext_is(path, ".sog")) {
        cs_zip_file files[8];
        files[0] = (cs_zip_file){"meta.json", (const uint8_t *)meta, strlen(meta), true};
        for (int i = 0; i < im.count; i++)
            files[i + 1] = (cs_zip_file){image_names[i], im.webp[i], im.webp_len[i], false};
        cs_outfile of;
        st = cs__outfile_open(ctx, path, &of);
        if (st == CS_OK) st = cs__zip_write(ctx, &of, files, im.count + 1);
        if (st == CS_OK)
            st = cs__outfile_commit(ctx, &of);
        else
            cs__outfile_abort(&of);
    } else if (st == CS_OK) {
        char *dir = cs__path_dirname(path);
        if (!dir) st = cs__alloc_error(ctx, path, strlen(path));
        for (int i = 0; i < im.count && st == CS_OK; i++) {
            char *file = cs__path_join(dir, image_names[i]);
            st = file ? write_whole(ctx, file, im.webp[i], im.webp_len[i])
                      : cs__alloc_error(ctx, path, strlen(path));
            cs__free(file);
        }
        if (st == CS_OK) st = write_whole(ctx, path, meta, strlen(meta));
        cs__free(dir);
    }
    cJSON_free(meta);
    for (int i = 0; i < 7; i++) {
        cs__free(im.rgba[i]);
        cs__free(im.webp[i]);
    }
    cs__free(order);
    cs__free(canon);
    return st;
}

cs_status cs_scene_save_sog(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_options *options) {
    if (strcmp(cs__path_basename(path), "lod-meta.json") == 0)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: writing SOG level-of-detail sets is not supported", path);
    if (options && options->self_organize) return cs__sogs_compress(ctx, scene, path, options);
    cs_sog_plan plan = {0};
    plan.sh_iterations = options ? options->sh_iterations : 0;
    return cs__sog_save_plan(ctx, scene, path, &plan);
}
