/*
 * io_sog.c - PlayCanvas SOG version 2: reading (unbundled meta.json + .webp files, bundled .sog
 * zip, level-of-detail sets) and the codec entry. Writing is in sog_write.c.
 *
 * Specification: playcanvas/splat-transform readers/read-sog.ts and writers/write-sog.ts, and
 * the SOG format notes of the PlayCanvas docs. meta.json:
 *   {"version": 2, "count": N,
 *    "means":  {"mins": [3], "maxs": [3], "files": ["means_l.webp", "means_u.webp"]},
 *    "scales": {"codebook": [256], "files": ["scales.webp"]},
 *    "quats":  {"files": ["quats.webp"]},
 *    "sh0":    {"codebook": [256], "files": ["sh0.webp"]},
 *    "shN":    {"count": P, "bands": 1..3, "codebook": [256],
 *               "files": ["shN_centroids.webp", "shN_labels.webp"]}}      (shN optional)
 * Gaussian i is pixel i (row-major) of every per-Gaussian image; all images are lossless RGBA.
 *   means     16-bit per axis, low byte in means_l, high byte in means_u (R,G,B = x,y,z) of
 *             v = sign(x) * ln(|x| + 1), linear between mins and maxs: x = expm1-inverse of
 *             mins + (maxs - mins) * q / 65535
 *   quats     R,G,B = the three smaller components of the unit quaternion (w,x,y,z order)
 *             scaled by sqrt2 into [-1, 1] and stored as 255 * (c * 0.5 + 0.5); A = 252 + index
 *             of the omitted largest component, which is positive (other A: identity)
 *   scales    R,G,B = codebook indices of the three log-scales
 *   sh0       R,G,B = codebook indices of the DC coefficients; A = sigmoid(opacity) * 255
 *   shN       labels: R | G << 8 = palette entry; centroids: a (64 * coeffs) x ceil(P / 64)
 *             image, entry e's coefficient j at pixel ((e % 64) * coeffs + j, e / 64), its
 *             R,G,B the codebook indices of that coefficient's red, green and blue
 * Coordinates are the Inria PLY frame, as csplat's. A level-of-detail set (lod-meta.json:
 * {"lodLevels", "filenames": [meta.json paths], "tree": nodes with "children" or
 * "lods": {"<level>": {"file", "offset", "count"}}}) stores every level as ranges of those files;
 * level L is the concatenation of all nodes' ranges for L, in tree order.
 *
 * Robustness: file names from meta.json may not leave its folder; meta.json may not declare
 * more Gaussians than an image holds, a palette index beyond the palette, a codebook index beyond
 * its codebook or non-finite bounds; images larger than the count needs are refused before
 * decoding. Opacity bytes 0 and 255 read as logit(1e-6) and logit(1 - 1e-6).
 * Not supported: SOG version 1 (per-channel min/max instead of codebooks, no "version" field).
 */
#include "sog.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MAX_META_BYTES ((size_t)64 << 20)
#define MAX_IMAGE_BYTES ((size_t)1 << 30)
/* WebP's largest image: 16383 x 16383 pixels. */
#define MAX_COUNT ((int64_t)16383 * 16383)

/* A file of the SOG, owned (free *owned) or borrowed from a zip or the in-memory list. */
static cs_status sog_fetch(cs_context *ctx, const cs_sog_files *f, const char *file,
                           size_t max_bytes, const uint8_t **data, size_t *len, uint8_t **owned) {
    *data = NULL;
    *len = 0;
    *owned = NULL;
    if (!file[0] || strchr(file, '/') || strchr(file, '\\') || strstr(file, ".."))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: file name '%s' leaves the SOG's folder",
                         f->name, file);
    if (f->zip) {
        const cs_zip_entry *e = cs__zip_find(f->zip, file);
        if (!e) return cs__error(ctx, CS_ERR_FORMAT, "%s: no '%s' in the archive", f->name, file);
        cs_status st = cs__zip_extract(ctx, f->name, f->zip, e, max_bytes, owned, len);
        *data = *owned;
        return st;
    }
    if (f->mem) {
        for (int i = 0; i < f->mem_count; i++)
            if (strcmp(f->mem[i].name, file) == 0) {
                if (f->mem[i].len > max_bytes)
                    return cs__error(ctx, CS_ERR_FORMAT, "%s: '%s' is too large", f->name, file);
                *data = f->mem[i].data;
                *len = f->mem[i].len;
                return CS_OK;
            }
        return cs__error(ctx, CS_ERR_FORMAT, "%s: no file '%s'", f->name, file);
    }
    char *path = cs__path_join(f->dir, file);
    if (!path) return cs__alloc_error(ctx, file, strlen(file));
    cs_status st = cs__read_file(ctx, path, max_bytes, owned, len);
    cs__free(path);
    *data = *owned;
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * meta.json.
 */

typedef struct sog_meta {
    int64_t count;
    double mins[3], maxs[3];
    float scales_cb[256], sh0_cb[256], shn_cb[256];
    int scales_n, sh0_n, shn_n;
    int bands;          /* 0 when there is no shN */
    int64_t palette;    /* shN count */
    const char *files[7]; /* means_l, means_u, quats, scales, sh0, centroids, labels */
} sog_meta;

static bool get_number(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
    *out = v->valuedouble;
    return true;
}

static bool get_vec3(const cJSON *o, const char *key, double out[3]) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3) return false;
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
        out[i] = v->valuedouble;
    }
    return true;
}

static bool get_codebook(const cJSON *o, float *cb, int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "codebook");
    int len = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (len < 1 || len > 256) return false;
    for (int i = 0; i < len; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
        cb[i] = (float)v->valuedouble;
    }
    *n = len;
    return true;
}

static bool get_files(const cJSON *o, int n, const char **out) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "files");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < n) return false;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || !v->valuestring) return false;
        out[i] = v->valuestring;
    }
    return true;
}

/* Fill *m from the parsed JSON (strings borrowed from root). */
static cs_status parse_meta(cs_context *ctx, const char *name, const cJSON *root, sog_meta *m) {
    memset(m, 0, sizeof *m);
    if (!cJSON_IsObject(root))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json is not a JSON object", name);
    double version, count;
    if (!get_number(root, "version", &version))
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: SOG without a version (version 1) is not "
                         "supported", name);
    if (version != 2)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: SOG version %g is not supported (2)",
                         name, version);
    if (!get_number(root, "count", &count) || count < 0 || count != floor(count) ||
        count > (double)MAX_COUNT)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'count' is missing or not an "
                         "integer in 0..%lld", name, (long long)MAX_COUNT);
    m->count = (int64_t)count;
    const cJSON *means = cJSON_GetObjectItemCaseSensitive(root, "means");
    const cJSON *scales = cJSON_GetObjectItemCaseSensitive(root, "scales");
    const cJSON *quats = cJSON_GetObjectItemCaseSensitive(root, "quats");
    const cJSON *sh0 = cJSON_GetObjectItemCaseSensitive(root, "sh0");
    const cJSON *shn = cJSON_GetObjectItemCaseSensitive(root, "shN");
    if (!get_vec3(means, "mins", m->mins) || !get_vec3(means, "maxs", m->maxs) ||
        !get_files(means, 2, m->files))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'means' needs mins[3], maxs[3] and "
                         "2 files", name);
    if (!get_codebook(scales, m->scales_cb, &m->scales_n) || !get_files(scales, 1, m->files + 3))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'scales' needs a codebook of 1..256 "
                         "numbers and a file", name);
    if (!get_files(quats, 1, m->files + 2))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'quats' needs a file", name);
    if (!get_codebook(sh0, m->sh0_cb, &m->sh0_n) || !get_files(sh0, 1, m->files + 4))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'sh0' needs a codebook of 1..256 "
                         "numbers and a file", name);
    if (shn && !cJSON_IsNull(shn)) {
        double bands, palette;
        if (!get_number(shn, "bands", &bands) || (bands != 1 && bands != 2 && bands != 3) ||
            !get_number(shn, "count", &palette) || palette < 1 || palette > 65536 ||
            palette != floor(palette) || !get_codebook(shn, m->shn_cb, &m->shn_n) ||
            !get_files(shn, 2, m->files + 5))
            return cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json 'shN' needs bands 1..3, count "
                             "1..65536, a codebook and 2 files", name);
        m->bands = (int)bands;
        m->palette = (int64_t)palette;
    }
    return CS_OK;
}

/* Decode one image of the SOG, checking it holds at least `need` pixels and at most `cap`. */
static cs_status load_image(cs_context *ctx, const cs_sog_files *f, const char *file,
                            size_t need, size_t cap, uint8_t **rgba, int *w, int *h) {
    const uint8_t *data;
    size_t len;
    uint8_t *owned;
    cs_status st = sog_fetch(ctx, f, file, MAX_IMAGE_BYTES, &data, &len, &owned);
    if (st != CS_OK) return st;
    char label[512];
    snprintf(label, sizeof label, "%s: %s", f->name, file);
    st = cs__webp_decode(ctx, label, data, len, cap, rgba, w, h);
    cs__free(owned);
    if (st == CS_OK && (size_t)*w * (size_t)*h < need) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json declares %zu Gaussians but the %dx%d "
                       "image holds %zu", label, need, *w, *h, (size_t)*w * (size_t)*h);
        cs__free(*rgba);
        *rgba = NULL;
    }
    return st;
}

/* Inverse of v = sign(x) * ln(|x| + 1). */
static float inv_log_transform(double v) {
    double e = expm1(fabs(v));
    return (float)(v < 0 ? -e : e);
}

static void unpack_quat(const uint8_t px[4], float q[4]) {
    int largest = px[3] - 252;
    if (largest < 0 || largest > 3) {
        q[0] = 1.0f;
        q[1] = q[2] = q[3] = 0.0f;
        return;
    }
    float sum = 0;
    for (int c = 0, m = 0; c < 4; c++) {
        if (c == largest) continue;
        q[c] = ((float)px[m++] / 255.0f * 2.0f - 1.0f) * 0.70710678118654752f;
        sum += q[c] * q[c];
    }
    q[largest] = sqrtf(fmaxf(0.0f, 1.0f - sum));
}

cs_status cs__sog_decode(cs_context *ctx, const cs_sog_files *f, const char *meta_name,
                         cs_scene **out) {
    *out = NULL;
    const uint8_t *mdata;
    size_t mlen;
    uint8_t *mowned;
    cs_status st = sog_fetch(ctx, f, meta_name, MAX_META_BYTES, &mdata, &mlen, &mowned);
    if (st != CS_OK) return st;
    cJSON *root = cJSON_ParseWithLength((const char *)mdata, mlen);
    cs__free(mowned);
    if (!root) return cs__error(ctx, CS_ERR_FORMAT, "%s: %s is not valid JSON", f->name, meta_name);
    sog_meta m;
    st = parse_meta(ctx, f->name, root, &m);
    int degree = m.bands;
    cs_scene *s = NULL;
    if (st == CS_OK) st = cs_scene_create(ctx, m.count, degree, &s);
    uint8_t *img[7] = {0};
    int w[7] = {0}, h[7] = {0};
    size_t n = (size_t)m.count;
    /* Per-Gaussian images hold at most twice the count plus a margin (splat-transform pads to a
     * multiple of 4 in each direction); anything bigger is refused before decoding. */
    size_t cap = 2 * n + 65536;
    for (int i = 0; i < 5 && st == CS_OK; i++)
        st = load_image(ctx, f, m.files[i], n, cap, &img[i], &w[i], &h[i]);
    int coeffs = degree ? (degree + 1) * (degree + 1) - 1 : 0;
    if (st == CS_OK && degree) {
        size_t rows = (size_t)(m.palette + 63) / 64;
        st = load_image(ctx, f, m.files[5], 64 * (size_t)coeffs * rows,
                        64 * (size_t)coeffs * (rows + 64), &img[5], &w[5], &h[5]);
        if (st == CS_OK && w[5] != 64 * coeffs)
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: %s is %d pixels wide, %d bands need %d",
                           f->name, m.files[5], w[5], degree, 64 * coeffs);
        if (st == CS_OK) st = load_image(ctx, f, m.files[6], n, cap, &img[6], &w[6], &h[6]);
    }
    if (st == CS_OK) {
        cs_scene_params p = s->p;
        size_t k = (size_t)p.sh_coeffs;
        for (size_t i = 0; i < n && st == CS_OK; i++) {
            const uint8_t *lo = img[0] + 4 * i, *hi = img[1] + 4 * i;
            for (int a = 0; a < 3; a++) {
                double range = m.maxs[a] - m.mins[a];
                double q = (double)(lo[a] | hi[a] << 8) / 65535.0;
                p.means[3 * i + a] = inv_log_transform(m.mins[a] + (range != 0 ? range : 1) * q);
            }
            unpack_quat(img[2] + 4 * i, p.quats + 4 * i);
            const uint8_t *sc = img[3] + 4 * i, *c0 = img[4] + 4 * i;
            for (int a = 0; a < 3; a++) {
                if (sc[a] >= m.scales_n || c0[a] >= m.sh0_n) {
                    st = cs__error(ctx, CS_ERR_FORMAT, "%s: Gaussian %zu uses codebook entry %d "
                                   "of a %d-entry codebook", f->name, i,
                                   sc[a] >= m.scales_n ? sc[a] : c0[a],
                                   sc[a] >= m.scales_n ? m.scales_n : m.sh0_n);
                    break;
                }
                p.log_scales[3 * i + a] = m.scales_cb[sc[a]];
                p.sh[k * 3 * i + (size_t)a] = m.sh0_cb[c0[a]];
            }
            p.opacities[i] = cs__logitf((float)c0[3] / 255.0f);
            if (!degree || st != CS_OK) continue;
            const uint8_t *lb = img[6] + 4 * i;
            int64_t label = lb[0] | lb[1] << 8;
            if (label >= m.palette) {
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: Gaussian %zu uses SH palette entry "
                               "%lld of %lld", f->name, i, (long long)label,
                               (long long)m.palette);
                break;
            }
            const uint8_t *cen =
                img[5] + 4 * ((size_t)(label / 64) * (size_t)w[5] + (size_t)(label % 64) * coeffs);
            for (int j = 0; j < coeffs; j++)
                for (int c = 0; c < 3; c++) {
                    uint8_t code = cen[4 * j + c];
                    if (code >= m.shn_n) {
                        st = cs__error(ctx, CS_ERR_FORMAT, "%s: SH palette entry %lld uses "
                                       "codebook entry %d of %d", f->name, (long long)label,
                                       code, m.shn_n);
                        break;
                    }
                    p.sh[k * 3 * i + 3 * (size_t)(j + 1) + (size_t)c] = m.shn_cb[code];
                }
        }
    }
    for (int i = 0; i < 7; i++) cs__free(img[i]);
    cJSON_Delete(root);
    if (st != CS_OK) {
        cs_scene_destroy(s);
        return st;
    }
    *out = s;
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Bundled archives, folders and level-of-detail sets.
 */

static cs_status decode_zip(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                            cs_scene **out) {
    cs_zip zip;
    cs_status st = cs__zip_open(ctx, name, data, len, &zip);
    if (st != CS_OK) return st;
    cs_sog_files f = {.name = name, .zip = &zip};
    st = cs__sog_decode(ctx, &f, "meta.json", out);
    cs__zip_close(&zip);
    return st;
}

static bool is_lod_meta(const char *path) {
    return strcmp(cs__path_basename(path), "lod-meta.json") == 0;
}

/* One range of a level: Gaussians [offset, offset + count) of file `file`. */
typedef struct lod_range {
    int file;
    int64_t offset, count;
} lod_range;

typedef struct lod_walk {
    int level;
    lod_range *ranges;
    int n, cap;
    int64_t counts[CS_MAX_LOD_LEVELS]; /* per level, over all nodes */
    int depth;
} lod_walk;

/* Collect a node's ranges for w->level (and every level's totals), depth first. */
static cs_status walk_tree(cs_context *ctx, const char *name, const cJSON *node, lod_walk *w,
                           int nfiles) {
    if (!cJSON_IsObject(node) || ++w->depth > 64)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: malformed LOD tree", name);
    const cJSON *lods = cJSON_GetObjectItemCaseSensitive(node, "lods");
    const cJSON *kids = cJSON_GetObjectItemCaseSensitive(node, "children");
    if (lods) {
        const cJSON *e;
        cJSON_ArrayForEach(e, lods) {
            char *end;
            long level = e->string ? strtol(e->string, &end, 10) : -1;
            double file, offset, count;
            if (!e->string || *end || level < 0 || level >= CS_MAX_LOD_LEVELS ||
                !get_number(e, "file", &file) || !get_number(e, "offset", &offset) ||
                !get_number(e, "count", &count) || file < 0 || file >= nfiles || offset < 0 ||
                count < 0 || offset > (double)MAX_COUNT || count > (double)MAX_COUNT)
                return cs__error(ctx, CS_ERR_FORMAT, "%s: malformed LOD entry", name);
            w->counts[level] += (int64_t)count;
            if (level != w->level) continue;
            if (w->n == w->cap) {
                int cap = w->cap ? 2 * w->cap : 16;
                lod_range *r = cs__realloc(w->ranges, (size_t)cap * sizeof *r);
                if (!r) return cs__alloc_error(ctx, name, (size_t)cap * sizeof *r);
                w->ranges = r;
                w->cap = cap;
            }
            w->ranges[w->n++] = (lod_range){(int)file, (int64_t)offset, (int64_t)count};
        }
    }
    if (kids) {
        const cJSON *c;
        cJSON_ArrayForEach(c, kids) {
            cs_status st = walk_tree(ctx, name, c, w, nfiles);
            if (st != CS_OK) return st;
        }
    }
    w->depth--;
    return CS_OK;
}

/* Parse lod-meta.json: its root, file names and the ranges of `level`. */
static cs_status read_lod_meta(cs_context *ctx, const char *path, int level, cJSON **root,
                               const cJSON **files, int *levels, lod_walk *w) {
    uint8_t *data;
    size_t len;
    memset(w, 0, sizeof *w);
    w->level = level;
    *root = NULL;
    cs_status st = cs__read_file(ctx, path, MAX_META_BYTES, &data, &len);
    if (st != CS_OK) return st;
    *root = cJSON_ParseWithLength((const char *)data, len);
    cs__free(data);
    if (!*root) return cs__error(ctx, CS_ERR_FORMAT, "%s: not valid JSON", path);
    double nlevels;
    *files = cJSON_GetObjectItemCaseSensitive(*root, "filenames");
    const cJSON *tree = cJSON_GetObjectItemCaseSensitive(*root, "tree");
    if (!get_number(*root, "lodLevels", &nlevels) || nlevels < 1 ||
        nlevels > CS_MAX_LOD_LEVELS || !cJSON_IsArray(*files) || !tree)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: needs lodLevels (1..%d), filenames and tree",
                         path, CS_MAX_LOD_LEVELS);
    *levels = (int)nlevels;
    return walk_tree(ctx, path, tree, w, cJSON_GetArraySize(*files));
}

/* Load one meta.json named relative to the LOD set's folder. */
static cs_status load_meta_path(cs_context *ctx, const char *dir, const char *rel,
                                cs_scene **out) {
    if (rel[0] == '/' || strstr(rel, ".."))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: LOD file '%s' leaves the set's folder", dir,
                         rel);
    char *full = cs__path_join(dir, rel), *sub = full ? cs__path_dirname(full) : NULL;
    cs_status st;
    if (!full || !sub) st = cs__alloc_error(ctx, rel, strlen(rel));
    else {
        cs_sog_files f = {.name = full, .dir = sub};
        st = cs__sog_decode(ctx, &f, cs__path_basename(full), out);
    }
    cs__free(full);
    cs__free(sub);
    return st;
}

cs_status cs_scene_load_lod(cs_context *ctx, const char *path, int level, cs_scene **out) {
    *out = NULL;
    if (level < 0 || level >= CS_MAX_LOD_LEVELS)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: LOD level %d out of range", path, level);
    cJSON *root;
    const cJSON *files;
    int levels;
    lod_walk w;
    cs_status st = read_lod_meta(ctx, path, level, &root, &files, &levels, &w);
    int nfiles = st == CS_OK ? cJSON_GetArraySize(files) : 0;
    cs_scene **loaded = NULL;
    char *dir = cs__path_dirname(path);
    if (st == CS_OK && level >= levels)
        st = cs__error(ctx, CS_ERR_ARGUMENT, "%s: has %d levels of detail, not %d", path, levels,
                       level + 1);
    if (st == CS_OK && (!dir || !(loaded = cs__calloc((size_t)nfiles + 1, sizeof *loaded))))
        st = cs__alloc_error(ctx, path, (size_t)nfiles * sizeof *loaded);
    /* Load each referenced file once; the level's SH degree is the highest among them. */
    int64_t total = 0;
    int degree = 0;
    for (int r = 0; r < w.n && st == CS_OK; r++) {
        int fi = w.ranges[r].file;
        if (!loaded[fi]) {
            const cJSON *fn = cJSON_GetArrayItem(files, fi);
            if (!cJSON_IsString(fn) || !fn->valuestring)
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: filenames[%d] is not a string", path, fi);
            else
                st = load_meta_path(ctx, dir, fn->valuestring, &loaded[fi]);
            if (st != CS_OK) break;
        }
        const cs_scene *src = loaded[fi];
        if (w.ranges[r].offset + w.ranges[r].count > src->p.count)
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: LOD %d range [%lld, +%lld) exceeds the %lld "
                           "Gaussians of file %d", path, level, (long long)w.ranges[r].offset,
                           (long long)w.ranges[r].count, (long long)src->p.count, fi);
        total += w.ranges[r].count;
        if (src->p.sh_degree > degree) degree = src->p.sh_degree;
    }
    cs_scene *s = NULL;
    if (st == CS_OK) st = cs_scene_create(ctx, total, degree, &s);
    int64_t at = 0;
    for (int r = 0; r < w.n && st == CS_OK; r++) {
        const cs_scene_params *p = &loaded[w.ranges[r].file]->p;
        size_t n = (size_t)w.ranges[r].count, o = (size_t)w.ranges[r].offset, d = (size_t)at;
        memcpy(s->p.means + 3 * d, p->means + 3 * o, 3 * n * sizeof(float));
        memcpy(s->p.log_scales + 3 * d, p->log_scales + 3 * o, 3 * n * sizeof(float));
        memcpy(s->p.quats + 4 * d, p->quats + 4 * o, 4 * n * sizeof(float));
        memcpy(s->p.opacities + d, p->opacities + o, n * sizeof(float));
        size_t ks = 3 * (size_t)p->sh_coeffs, kd = 3 * (size_t)s->p.sh_coeffs;
        for (size_t i = 0; i < n; i++)
            memcpy(s->p.sh + kd * (d + i), p->sh + ks * (o + i), ks * sizeof(float));
        at += w.ranges[r].count;
    }
    for (int i = 0; loaded && i < nfiles; i++) cs_scene_destroy(loaded[i]);
    cs__free(loaded);
    cs__free(dir);
    cs__free(w.ranges);
    cJSON_Delete(root);
    if (st != CS_OK) {
        cs_scene_destroy(s);
        return st;
    }
    *out = s;
    return CS_OK;
}

static cs_status sog_load(cs_context *ctx, const char *path, cs_scene **out) {
    *out = NULL;
    if (is_lod_meta(path)) return cs_scene_load_lod(ctx, path, 0, out);
    if (cs__ext_is(path, ".json")) {
        char *dir = cs__path_dirname(path);
        if (!dir) return cs__alloc_error(ctx, path, strlen(path));
        cs_sog_files f = {.name = path, .dir = dir};
        cs_status st = cs__sog_decode(ctx, &f, cs__path_basename(path), out);
        cs__free(dir);
        return st;
    }
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_MAX_SCENE_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    st = decode_zip(ctx, path, data, len, out);
    cs__free(data);
    return st;
}

static bool sog_detect(const uint8_t *data, size_t len) {
    /* A zip archive: csplat reads no other zip-based scene format. */
    return len >= 4 && cs__rd_u32le(data) == 0x04034b50u;
}

static cs_status sog_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                           cs_scene **out) {
    *out = NULL;
    return decode_zip(ctx, name, data, len, out);
}

static cs_status sog_save(cs_context *ctx, const cs_scene *scene, const char *path) {
    return cs_scene_save_sog(ctx, scene, path, NULL);
}

/* Version, count and degree from a meta.json document. */
static void probe_meta(const cJSON *root, cs_scene_file_info *info) {
    double v;
    info->version = get_number(root, "version", &v) ? (int)v : 1;
    info->count = get_number(root, "count", &v) ? (int64_t)v : -1;
    const cJSON *shn = cJSON_GetObjectItemCaseSensitive(root, "shN");
    info->sh_degree = shn && get_number(shn, "bands", &v) ? (int)v : 0;
}

cs_status cs__sog_probe(cs_context *ctx, const char *path, cs_scene_file_info *info) {
    uint8_t *data = NULL, *meta = NULL;
    size_t len, mlen;
    cs_status st = CS_OK;
    cJSON *root = NULL;
    if (is_lod_meta(path)) {
        const cJSON *files;
        int levels;
        lod_walk w;
        st = read_lod_meta(ctx, path, 0, &root, &files, &levels, &w);
        cs__free(w.ranges);
        if (st == CS_OK) {
            info->lod_levels = levels;
            for (int l = 0; l < levels; l++) info->lod_counts[l] = w.counts[l];
            info->count = w.counts[0];
            const cJSON *fn = cJSON_GetArrayItem(files, 0);
            char *dir = cs__path_dirname(path);
            char *first = dir && cJSON_IsString(fn) ? cs__path_join(dir, fn->valuestring) : NULL;
            if (first && cs__read_file(ctx, first, MAX_META_BYTES, &meta, &mlen) == CS_OK) {
                cJSON *m = cJSON_ParseWithLength((const char *)meta, mlen);
                if (m) probe_meta(m, info);
                info->count = w.counts[0];
                cJSON_Delete(m);
            }
            cs__free(first);
            cs__free(dir);
            snprintf(info->detail, sizeof info->detail, "unbundled, %d levels of detail", levels);
        }
    } else if (cs__ext_is(path, ".json")) {
        st = cs__read_file(ctx, path, MAX_META_BYTES, &meta, &mlen);
        if (st == CS_OK && !(root = cJSON_ParseWithLength((const char *)meta, mlen)))
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: not valid JSON", path);
        if (st == CS_OK) {
            probe_meta(root, info);
            snprintf(info->detail, sizeof info->detail, "unbundled (meta.json + WebP images)");
        }
    } else {
        cs_zip zip;
        st = cs__read_file(ctx, path, CS_MAX_SCENE_FILE_BYTES, &data, &len);
        if (st == CS_OK) st = cs__zip_open(ctx, path, data, len, &zip);
        if (st == CS_OK) {
            const cs_zip_entry *e = cs__zip_find(&zip, "meta.json");
            st = e ? cs__zip_extract(ctx, path, &zip, e, MAX_META_BYTES, &meta, &mlen)
                   : cs__error(ctx, CS_ERR_FORMAT, "%s: no meta.json in the archive", path);
            if (st == CS_OK && !(root = cJSON_ParseWithLength((const char *)meta, mlen)))
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: meta.json is not valid JSON", path);
            if (st == CS_OK) {
                probe_meta(root, info);
                snprintf(info->detail, sizeof info->detail, "bundled, a zip of %d files",
                         zip.count);
            }
            cs__zip_close(&zip);
        }
    }
    cJSON_Delete(root);
    cs__free(meta);
    cs__free(data);
    return st;
}

const cs_scene_codec cs__codec_sog = {
    .format = CS_FORMAT_SOG,
    .detect = sog_detect,
    .parse = sog_parse,
    .load = sog_load,
    .save = sog_save,
};
