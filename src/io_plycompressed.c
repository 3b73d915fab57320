/*
 * io_plycompressed.c - PlayCanvas compressed PLY (".compressed.ply"), read and write.
 *
 * Specification: playcanvas/splat-transform, writers/write-compressed-ply.ts and
 * compressed-chunk.ts (writer), readers/decompress-ply.ts (reader); the PlayCanvas engine reads
 * the same layout. A binary little-endian PLY with three elements, in this order:
 *   chunk  ceil(N/256) x float {min_x, min_y, min_z, max_x, max_y, max_z, min_scale_x..z,
 *          max_scale_x..z, min_r, min_g, min_b, max_r, max_g, max_b}; the colour bounds are
 *          optional (older files: 12 properties, colour then absolute in [0, 1])
 *   vertex N x uint {packed_position, packed_rotation, packed_scale, packed_color}
 *   sh     N x uchar f_rest_0..f_rest_{9|24|45 - 1} (optional)
 * Gaussians go in groups of 256 (one chunk each); each attribute is normalised to its chunk's
 * [min, max] and packed:
 *   position, log-scale  11-10-11 bits (x in the top 11 bits, z in the low 11)
 *   colour               8-8-8-8: r g b as (f_dc * SH_C0 + 0.5) in the chunk's colour range,
 *                        then sigmoid(opacity) in [0, 1] in the low byte
 *   rotation             2-10-10-10: index of the largest |component| of the unit quaternion
 *                        (rot_0..rot_3 = w,x,y,z order, made positive) in the top 2 bits, the
 *                        other three in order as (c * sqrt2/2 + 0.5) in 10 bits each
 *   SH                   one byte per coefficient: trunc((v / 8 + 0.5) * 256) clamped; read as
 *                        ((b + 0.5) / 256 - 0.5) * 8 (0 and 255 read as the range ends)
 * Unorm packing is floor(v * (2^bits - 1) + 0.5); unpacking bits / (2^bits - 1), then
 * lerp(min, max, t). Scale bounds are clamped to [-20, 20] (the writer's guard against infinite
 * scales). SH coefficients are channel-major in the file (all red, then green, then blue).
 *
 * Coordinates are the Inria PLY frame, as csplat's. The writer stores Gaussians in Morton order
 * so chunks are spatially compact (their bounds tight); the reader keeps file order. Opacity
 * bytes 0 and 255 read as logit(1e-6) and logit(1 - 1e-6) rather than -inf and +inf.
 * Does not read ASCII or big-endian variants (no tool writes them).
 */
#include "sog.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 256
#define MAX_HEADER ((size_t)1 << 16)

enum { T_INVALID, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_F32, T_F64 };
static const int type_size[] = {0, 1, 1, 2, 2, 4, 4, 4, 8};

typedef struct ply_prop {
    char name[48];
    int type;
    size_t offset;
} ply_prop;

typedef struct ply_elem {
    char name[32];
    uint64_t count;
    ply_prop props[64];
    int nprops;
    size_t stride;
    size_t data_offset;
} ply_elem;

typedef struct ply_header {
    ply_elem elems[4];
    int nelems;
    size_t header_len;
} ply_header;

static const char *const chunk_props[18] = {
    "min_x",       "min_y",       "min_z",       "max_x",       "max_y",       "max_z",
    "min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z",
    "min_r",       "min_g",       "min_b",       "max_r",       "max_g",       "max_b"};
static const char *const vertex_props[4] = {"packed_position", "packed_rotation", "packed_scale",
                                            "packed_color"};

static int parse_type(const char *t) {
    static const char *const names[][2] = {
        {"char", "int8"},   {"uchar", "uint8"},   {"short", "int16"},  {"ushort", "uint16"},
        {"int", "int32"},   {"uint", "uint32"},   {"float", "float32"}, {"double", "float64"}};
    for (int i = 0; i < 8; i++)
        if (strcmp(t, names[i][0]) == 0 || strcmp(t, names[i][1]) == 0) return i + 1;
    return T_INVALID;
}

/* Length of the header including "end_header\n", or 0 when data holds none. */
static size_t header_length(const uint8_t *data, size_t len) {
    if (len < 4 || memcmp(data, "ply", 3) != 0 || (data[3] != '\n' && data[3] != '\r')) return 0;
    size_t lim = len < MAX_HEADER ? len : MAX_HEADER;
    for (size_t i = 0; i + 11 <= lim; i++)
        if (data[i] == '\n' && i + 11 < lim && memcmp(data + i + 1, "end_header", 10) == 0) {
            size_t e = i + 11;
            if (e < len && data[e] == '\r') e++;
            if (e < len && data[e] == '\n') return e + 1;
        }
    return 0;
}

/* Parse the header's elements and properties (no list properties); with check_data, also that
 * the elements' data fits in [data, data + len). */
static cs_status parse_header(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                              bool check_data, ply_header *h) {
    memset(h, 0, sizeof *h);
    h->header_len = header_length(data, len);
    if (!h->header_len)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: no PLY header (missing end_header)", name);
    char *text = cs__malloc(h->header_len + 1);
    if (!text) return cs__alloc_error(ctx, name, h->header_len + 1);
    memcpy(text, data, h->header_len);
    text[h->header_len] = 0;
    cs_status st = CS_OK;
    bool format_ok = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == CS_OK;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') line[n - 1] = 0;
        char w0[32] = "", w1[64] = "", w2[64] = "", extra[8] = "";
        int words = sscanf(line, "%31s %63s %63s %7s", w0, w1, w2, extra);
        if (words <= 0 || strcmp(w0, "ply") == 0 || strcmp(w0, "comment") == 0 ||
            strcmp(w0, "obj_info") == 0 || strcmp(w0, "end_header") == 0)
            continue;
        if (strcmp(w0, "format") == 0) {
            if (words < 3 || strcmp(w1, "binary_little_endian") != 0)
                st = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: compressed PLY must be "
                               "binary_little_endian, not '%s'", name, w1);
            format_ok = true;
        } else if (strcmp(w0, "element") == 0) {
            char *end;
            unsigned long long count = words >= 3 ? strtoull(w2, &end, 10) : 0;
            if (words != 3 || *end || w2[0] == '-' || h->nelems == 4 || strlen(w1) >= 32)
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: bad PLY element line '%s'", name, line);
            else {
                ply_elem *e = &h->elems[h->nelems++];
                memcpy(e->name, w1, strlen(w1) + 1);
                e->count = count;
            }
        } else if (strcmp(w0, "property") == 0) {
            ply_elem *e = h->nelems ? &h->elems[h->nelems - 1] : NULL;
            int type = parse_type(w1);
            if (!e || words != 3 || type == T_INVALID || e->nprops == 64 || strlen(w2) >= 48)
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: unsupported PLY property line '%s'",
                               name, line);
            else {
                ply_prop *p = &e->props[e->nprops++];
                memcpy(p->name, w2, strlen(w2) + 1);
                p->type = type;
                p->offset = e->stride;
                e->stride += (size_t)type_size[type];
            }
        } else {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: unknown PLY header line '%s'", name, line);
        }
    }
    cs__free(text);
    if (st == CS_OK && !format_ok)
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: PLY header has no format line", name);
    /* Element data follows the header back to back; check it fits in the file. */
    size_t at = h->header_len;
    for (int i = 0; i < h->nelems && st == CS_OK && check_data; i++) {
        ply_elem *e = &h->elems[i];
        size_t bytes;
        e->data_offset = at;
        if (e->count > SIZE_MAX || !cs__mul_size((size_t)e->count, e->stride, &bytes) ||
            bytes > len - at)
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: PLY element '%s' (%llu x %zu bytes) runs "
                           "past the end of the file", name, e->name,
                           (unsigned long long)e->count, e->stride);
        else
            at += bytes;
    }
    return st;
}

static ply_elem *find_elem(ply_header *h, const char *name) {
    for (int i = 0; i < h->nelems; i++)
        if (strcmp(h->elems[i].name, name) == 0) return &h->elems[i];
    return NULL;
}

static const ply_prop *find_prop(const ply_elem *e, const char *name) {
    for (int i = 0; i < e->nprops; i++)
        if (strcmp(e->props[i].name, name) == 0) return &e->props[i];
    return NULL;
}

static bool plyc_detect(const uint8_t *data, size_t len) {
    size_t n = header_length(data, len);
    if (!n) return false;
    for (size_t i = 0; i + 14 <= n; i++)
        if (memcmp(data + i, "\nelement chunk", 14) == 0) return true;
    return false;
}

static float unorm(uint32_t v, int bits) {
    uint32_t t = (1u << bits) - 1;
    return (float)(v & t) / (float)t;
}

static float lerp(float a, float b, float t) {
    return a * (1.0f - t) + b * t;
}

static cs_status plyc_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                            cs_scene **out) {
    *out = NULL;
    ply_header h;
    cs_status st = parse_header(ctx, name, data, len, true, &h);
    if (st != CS_OK) return st;
    ply_elem *chunk = find_elem(&h, "chunk"), *vert = find_elem(&h, "vertex"),
             *shel = find_elem(&h, "sh");
    if (!chunk || !vert || h.nelems != 2 + (shel != NULL))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: compressed PLY needs elements chunk, vertex "
                         "and optionally sh", name);
    const ply_prop *cp[18], *vp[4];
    bool colors = find_prop(chunk, "min_r") != NULL;
    int nchunk_props = colors ? 18 : 12;
    for (int i = 0; i < nchunk_props; i++) {
        cp[i] = find_prop(chunk, chunk_props[i]);
        if (!cp[i] || cp[i]->type != T_F32)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: chunk property %s missing or not float",
                             name, chunk_props[i]);
    }
    for (int i = 0; i < 4; i++) {
        vp[i] = find_prop(vert, vertex_props[i]);
        if (!vp[i] || vp[i]->type != T_U32)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: vertex property %s missing or not uint",
                             name, vertex_props[i]);
    }
    if (vert->count > INT64_MAX / 2 || (vert->count + CHUNK - 1) / CHUNK != chunk->count)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: %llu chunks for %llu Gaussians (expected "
                         "ceil(N/256))", name, (unsigned long long)chunk->count,
                         (unsigned long long)vert->count);
    int degree = 0, coeffs = 0;
    const ply_prop *sp[45];
    if (shel) {
        int np = shel->nprops;
        degree = np == 9 ? 1 : np == 24 ? 2 : np == 45 ? 3 : -1;
        if (degree < 0 || shel->count != vert->count)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: sh element has %d properties x %llu "
                             "rows (expected 9, 24 or 45 x %llu)", name, np,
                             (unsigned long long)shel->count, (unsigned long long)vert->count);
        coeffs = np / 3;
        for (int i = 0; i < np; i++) {
            char pn[24]; /* "f_rest_" + any int: no truncation */
            snprintf(pn, sizeof pn, "f_rest_%d", i);
            sp[i] = find_prop(shel, pn);
            if (!sp[i] || sp[i]->type != T_U8)
                return cs__error(ctx, CS_ERR_FORMAT, "%s: sh property %s missing or not uchar",
                                 name, pn);
        }
    }
    cs_scene *s;
    st = cs_scene_create(ctx, (int64_t)vert->count, degree, &s);
    if (st != CS_OK) return st;
    cs_scene_params p = s->p;
    size_t n = (size_t)vert->count, k = (size_t)p.sh_coeffs;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = data + chunk->data_offset + (i / CHUNK) * chunk->stride;
        const uint8_t *v = data + vert->data_offset + i * vert->stride;
        float b[18];
        for (int j = 0; j < nchunk_props; j++) b[j] = cs__rd_f32le(c + cp[j]->offset);
        uint32_t pos = cs__rd_u32le(v + vp[0]->offset), rot = cs__rd_u32le(v + vp[1]->offset);
        uint32_t scl = cs__rd_u32le(v + vp[2]->offset), col = cs__rd_u32le(v + vp[3]->offset);
        const float tp[3] = {unorm(pos >> 21, 11), unorm(pos >> 11, 10), unorm(pos, 11)};
        const float ts[3] = {unorm(scl >> 21, 11), unorm(scl >> 11, 10), unorm(scl, 11)};
        const float tc[3] = {unorm(col >> 24, 8), unorm(col >> 16, 8), unorm(col >> 8, 8)};
        for (int a = 0; a < 3; a++) {
            p.means[3 * i + a] = lerp(b[a], b[3 + a], tp[a]);
            p.log_scales[3 * i + a] = lerp(b[6 + a], b[9 + a], ts[a]);
            float rgb = colors ? lerp(b[12 + a], b[15 + a], tc[a]) : tc[a];
            p.sh[k * 3 * i + (size_t)a] = (rgb - 0.5f) / CS_SH_C0;
        }
        p.opacities[i] = cs__logitf(unorm(col, 8));
        /* 2-10-10-10: the largest component's index, then the other three in order. */
        const float norm = 1.41421356237309505f; /* 1 / (sqrt2 / 2) */
        float small[3] = {(unorm(rot >> 20, 10) - 0.5f) * norm,
                          (unorm(rot >> 10, 10) - 0.5f) * norm, (unorm(rot, 10) - 0.5f) * norm};
        int largest = (int)(rot >> 30);
        float *q = p.quats + 4 * i;
        q[largest] = sqrtf(fmaxf(0.0f, 1.0f - (small[0] * small[0] + small[1] * small[1] +
                                               small[2] * small[2])));
        for (int j = 0, m = 0; j < 4; j++)
            if (j != largest) q[j] = small[m++];
        if (shel) {
            const uint8_t *sh = data + shel->data_offset + i * shel->stride;
            for (int ch = 0; ch < 3; ch++)
                for (int j = 0; j < coeffs; j++) {
                    uint8_t byte = sh[sp[ch * coeffs + j]->offset];
                    float t = byte == 0 ? 0.0f : byte == 255 ? 1.0f : ((float)byte + 0.5f) / 256.0f;
                    p.sh[k * 3 * i + 3 * (size_t)(j + 1) + (size_t)ch] = (t - 0.5f) * 8.0f;
                }
        }
    }
    *out = s;
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Writing.
 */

static uint32_t pack_unorm(float v, int bits) {
    float t = (float)((1u << bits) - 1);
    float x = floorf(v * t + 0.5f);
    if (!(x > 0.0f)) return 0;
    return x > t ? (uint32_t)t : (uint32_t)x;
}

/* Position of v in [lo, hi] as the reference writer computes it (0 for degenerate ranges). */
static float normalize(float v, float lo, float hi) {
    if (v <= lo) return 0.0f;
    if (v >= hi) return 1.0f;
    return hi - lo < 0.00001f ? 0.0f : (v - lo) / (hi - lo);
}

static float finite_or(float v, float fallback) {
    return isfinite(v) ? v : fallback;
}

/* Everything about one Gaussian the packer needs, made finite. */
typedef struct plyc_item {
    float pos[3], scale[3], rgb[3], alpha;
    float quat[4];
} plyc_item;

static void load_item(const cs_scene_params *p, size_t i, plyc_item *it) {
    size_t k = (size_t)p->sh_coeffs;
    for (int a = 0; a < 3; a++) {
        it->pos[a] = finite_or(p->means[3 * i + a], 0.0f);
        it->scale[a] = fminf(fmaxf(finite_or(p->log_scales[3 * i + a], -20.0f), -20.0f), 20.0f);
        it->rgb[a] = finite_or(p->sh[k * 3 * i + (size_t)a], 0.0f) * CS_SH_C0 + 0.5f;
    }
    it->alpha = cs__sigmoidf(finite_or(p->opacities[i], -20.0f));
    cs__quat_normalize(p->quats + 4 * i, it->quat);
}

static uint32_t pack_rotation(const float q[4]) {
    float a[4] = {q[0], q[1], q[2], q[3]};
    int largest = 0;
    for (int j = 1; j < 4; j++)
        if (fabsf(a[j]) > fabsf(a[largest])) largest = j;
    if (a[largest] < 0)
        for (int j = 0; j < 4; j++) a[j] = -a[j];
    const float norm = 0.70710678118654752f; /* sqrt2 / 2 */
    uint32_t r = (uint32_t)largest;
    for (int j = 0; j < 4; j++)
        if (j != largest) r = r << 10 | pack_unorm(a[j] * norm + 0.5f, 10);
    return r;
}

static uint32_t pack_111011(const float t[3]) {
    return pack_unorm(t[0], 11) << 21 | pack_unorm(t[1], 10) << 11 | pack_unorm(t[2], 11);
}

static cs_status plyc_write(cs_context *ctx, const cs_scene *scene, cs_outfile *of) {
    const cs_scene_params *p = &scene->p;
    size_t n = (size_t)p->count, nchunks = (n + CHUNK - 1) / CHUNK;
    int coeffs = p->sh_coeffs - 1;
    char header[4096];
    int hl = snprintf(header, sizeof header,
                      "ply\nformat binary_little_endian 1.0\ncomment Generated by csplat %s\n"
                      "element chunk %zu\n", cs_version(), nchunks);
    for (int i = 0; i < 18; i++)
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "property float %s\n",
                       chunk_props[i]);
    hl += snprintf(header + hl, sizeof header - (size_t)hl, "element vertex %zu\n", n);
    for (int i = 0; i < 4; i++)
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "property uint %s\n",
                       vertex_props[i]);
    if (coeffs > 0) {
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "element sh %zu\n", n);
        for (int i = 0; i < 3 * coeffs; i++)
            hl += snprintf(header + hl, sizeof header - (size_t)hl, "property uchar f_rest_%d\n",
                           i);
    }
    hl += snprintf(header + hl, sizeof header - (size_t)hl, "end_header\n");

    size_t chunk_bytes, vert_bytes, sh_bytes;
    if (!cs__mul_size(nchunks, 18 * 4, &chunk_bytes) || !cs__mul_size(n, 16, &vert_bytes) ||
        !cs__mul_size(n, 3 * (size_t)coeffs, &sh_bytes))
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: scene too large", of->path);
    uint32_t *order = cs__malloc((n ? n : 1) * sizeof *order);
    uint8_t *cbuf = cs__malloc(chunk_bytes + 1), *vbuf = cs__malloc(vert_bytes + 1);
    uint8_t *sbuf = cs__malloc(sh_bytes + 1);
    cs_status st = CS_OK;
    if (!order || !cbuf || !vbuf || !sbuf)
        st = cs__alloc_error(ctx, of->path, vert_bytes + sh_bytes + chunk_bytes);
    if (st == CS_OK) st = cs__morton_order(ctx, p->means, p->count, order);
    for (size_t c = 0; c < nchunks && st == CS_OK; c++) {
        size_t first = c * CHUNK, num = n - first < CHUNK ? n - first : CHUNK;
        float lo[12], hi[12]; /* pos 0..2, scale 3..5, rgb 6..8 */
        for (int j = 0; j < 12; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (size_t j = 0; j < num; j++) {
            plyc_item it;
            load_item(p, order[first + j], &it);
            const float v[9] = {it.pos[0],   it.pos[1],   it.pos[2], it.scale[0], it.scale[1],
                                it.scale[2], it.rgb[0],   it.rgb[1], it.rgb[2]};
            for (int a = 0; a < 9; a++) {
                lo[a] = fminf(lo[a], v[a]);
                hi[a] = fmaxf(hi[a], v[a]);
            }
        }
        uint8_t *cdst = cbuf + c * 18 * 4;
        const int map[18] = {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 6, 7, 8};
        for (int j = 0; j < 18; j++) {
            bool is_min = (j / 3) % 2 == 0;
            cs__wr_f32le(cdst + 4 * j, is_min ? lo[map[j]] : hi[map[j]]);
        }
        for (size_t j = 0; j < num; j++) {
            size_t i = order[first + j];
            plyc_item it;
            load_item(p, i, &it);
            float tp[3], ts[3], tc[3];
            for (int a = 0; a < 3; a++) {
                tp[a] = normalize(it.pos[a], lo[a], hi[a]);
                ts[a] = normalize(it.scale[a], lo[3 + a], hi[3 + a]);
                tc[a] = normalize(it.rgb[a], lo[6 + a], hi[6 + a]);
            }
            uint8_t *v = vbuf + 16 * (first + j);
            uint32_t col = pack_unorm(tc[0], 8) << 24 | pack_unorm(tc[1], 8) << 16 |
                           pack_unorm(tc[2], 8) << 8 | pack_unorm(it.alpha, 8);
            const uint32_t words[4] = {pack_111011(tp), pack_rotation(it.quat), pack_111011(ts),
                                       col};
            for (int w = 0; w < 4; w++) {
                v[4 * w] = (uint8_t)words[w];
                v[4 * w + 1] = (uint8_t)(words[w] >> 8);
                v[4 * w + 2] = (uint8_t)(words[w] >> 16);
                v[4 * w + 3] = (uint8_t)(words[w] >> 24);
            }
            uint8_t *sh = sbuf + 3 * (size_t)coeffs * (first + j);
            for (int ch = 0; ch < 3; ch++)
                for (int k = 0; k < coeffs; k++) {
                    float x = finite_or(p->sh[(size_t)p->sh_coeffs * 3 * i + 3 * (size_t)(k + 1) +
                                              (size_t)ch], 0.0f);
                    float t = truncf((x / 8.0f + 0.5f) * 256.0f);
                    sh[ch * coeffs + k] = (uint8_t)(t < 0 ? 0 : (t > 255 ? 255 : t));
                }
        }
    }
    if (st == CS_OK) st = cs__outfile_write(ctx, of, header, (size_t)hl);
    if (st == CS_OK) st = cs__outfile_write(ctx, of, cbuf, chunk_bytes);
    if (st == CS_OK) st = cs__outfile_write(ctx, of, vbuf, vert_bytes);
    if (st == CS_OK) st = cs__outfile_write(ctx, of, sbuf, sh_bytes);
    cs__free(order);
    cs__free(cbuf);
    cs__free(vbuf);
    cs__free(sbuf);
    return st;
}

cs_status cs__plycompressed_probe(cs_context *ctx, const char *name, const uint8_t *data,
                                  size_t len, cs_scene_file_info *info) {
    ply_header h;
    cs_status st = parse_header(ctx, name, data, len, false, &h);
    if (st != CS_OK) return st;
    ply_elem *vert = find_elem(&h, "vertex"), *chunk = find_elem(&h, "chunk"),
             *sh = find_elem(&h, "sh");
    info->count = vert ? (int64_t)vert->count : -1;
    int np = sh ? sh->nprops : 0;
    info->sh_degree = np == 0 ? 0 : np == 9 ? 1 : np == 24 ? 2 : np == 45 ? 3 : -1;
    snprintf(info->detail, sizeof info->detail, "%llu chunks of 256, %s",
             chunk ? (unsigned long long)chunk->count : 0ULL,
             chunk && find_prop(chunk, "min_r") ? "per-chunk colour range" : "absolute colour");
    return CS_OK;
}

const cs_scene_codec cs__codec_compressed_ply = {
    .format = CS_FORMAT_COMPRESSED_PLY,
    .detect = plyc_detect,
    .parse = plyc_parse,
    .write = plyc_write,
};
