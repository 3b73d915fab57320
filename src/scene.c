/*
 * scene.c - cs_scene: structure-of-arrays Gaussian parameters in one allocation, format
 * detection and the load/save dispatch to the per-format codecs, and summary statistics.
 *
 * Block layout (floats): means [N,3] | log_scales [N,3] | quats [N,4] | opacities [N] |
 * sh [N,K,3], K = (degree+1)^2. Gradients and optimizer moments elsewhere use the identical layout
 * so optimizers can run one flat loop over the block.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Floats per Gaussian for SH degree d. */
static size_t floats_per_gaussian(int sh_degree) {
    size_t k = (size_t)(sh_degree + 1) * (size_t)(sh_degree + 1);
    return 3 + 3 + 4 + 1 + 3 * k;
}

cs_status cs_scene_create(cs_context *ctx, int64_t count, int sh_degree, cs_scene **out) {
    *out = NULL;
    if (count < 0) return cs__error(ctx, CS_ERR_ARGUMENT, "scene: negative count %lld",
                                    (long long)count);
    if (sh_degree < 0 || sh_degree > 3)
        return cs__error(ctx, CS_ERR_ARGUMENT, "scene: SH degree %d is not in 0..3", sh_degree);
    size_t floats, bytes;
    if (!cs__mul_size((size_t)count, floats_per_gaussian(sh_degree), &floats) ||
        !cs__mul_size(floats, sizeof(float), &bytes))
        return cs__error(ctx, CS_ERR_ARGUMENT, "scene: %lld Gaussians overflow memory size",
                         (long long)count);
    cs_scene *s = cs__calloc(1, sizeof *s);
    float *block = cs__calloc(1, bytes);
    if (!s || !block) {
        cs__free(s);
        cs__free(block);
        return cs__alloc_error(ctx, "scene", bytes);
    }
    size_t n = (size_t)count;
    int k = (sh_degree + 1) * (sh_degree + 1);
    s->ctx = ctx;
    s->block = block;
    s->p.count = count;
    s->p.sh_degree = sh_degree;
    s->p.sh_coeffs = k;
    s->p.means = block;
    s->p.log_scales = s->p.means + 3 * n;
    s->p.quats = s->p.log_scales + 3 * n;
    s->p.opacities = s->p.quats + 4 * n;
    s->p.sh = s->p.opacities + n;
    for (size_t i = 0; i < n; i++) s->p.quats[4 * i] = 1.0f;
    s->source_format = CS_FORMAT_UNKNOWN;
    *out = s;
    return CS_OK;
}

void cs_scene_destroy(cs_scene *scene) {
    if (!scene) return;
    cs__free(scene->block);
    cs__free(scene);
}

int64_t cs_scene_count(const cs_scene *scene) {
    return scene->p.count;
}

int cs_scene_sh_degree(const cs_scene *scene) {
    return scene->p.sh_degree;
}

cs_scene_params cs_scene_get_params(cs_scene *scene) {
    return scene->p;
}

cs_format cs_scene_source_format(const cs_scene *scene) {
    return scene->source_format;
}

static const char *const format_names[] = {"unknown", "ply", "splat", "spz", "sog",
                                           "compressed-ply"};

const char *cs_format_name(cs_format format) {
    if ((int)format < 0 || (size_t)format >= sizeof format_names / sizeof *format_names)
        return "unknown";
    return format_names[format];
}

cs_format cs_format_from_path(const char *path) {
    const char *base = cs__path_basename(path);
    size_t n = strlen(base);
    /* ".compressed.ply" is PlayCanvas's naming for its compressed PLY. */
    if (n > 15 && strcmp(base + n - 15, ".compressed.ply") == 0) return CS_FORMAT_COMPRESSED_PLY;
    if (cs__ext_is(path, ".ply")) return CS_FORMAT_PLY;
    if (cs__ext_is(path, ".splat")) return CS_FORMAT_SPLAT;
    if (cs__ext_is(path, ".spz")) return CS_FORMAT_SPZ;
    /* SOG: bundled ".sog", unbundled "meta.json", level-of-detail sets "lod-meta.json". */
    if (cs__ext_is(path, ".sog") || strcmp(base, "meta.json") == 0 ||
        strcmp(base, "lod-meta.json") == 0)
        return CS_FORMAT_SOG;
    return CS_FORMAT_UNKNOWN;
}

cs_status cs_scene_load(cs_context *ctx, const char *path, cs_scene **out) {
    *out = NULL;
    const cs_scene_codec *by_name = cs__scene_codec(cs_format_from_path(path));
    if (by_name && by_name->load) {
        cs_status st = by_name->load(ctx, path, out);
        if (st == CS_OK) (*out)->source_format = by_name->format;
        return st;
    }
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_MAX_SCENE_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    const cs_scene_codec *codec = cs__scene_codec_detect(path, data, len);
    if (codec && codec->parse) {
        st = codec->parse(ctx, path, data, len, out);
        if (st == CS_OK) (*out)->source_format = codec->format;
    } else {
        st = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: unknown scene format", path);
    }
    cs__free(data);
    return st;
}

cs_status cs_scene_save_format(cs_context *ctx, const cs_scene *scene, const char *path,
                               cs_format format) {
    const cs_scene_codec *codec = cs__scene_codec(format);
    if (!codec || (!codec->write && !codec->save))
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: cannot write format '%s'", path,
                         cs_format_name(format));
    if (codec->save) return codec->save(ctx, scene, path);
    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st != CS_OK) return st;
    st = codec->write(ctx, scene, &of);
    if (st != CS_OK) {
        cs__outfile_abort(&of);
        return st;
    }
    return cs__outfile_commit(ctx, &of);
}

cs_status cs_scene_save(cs_context *ctx, const cs_scene *scene, const char *path) {
    cs_format format = cs_format_from_path(path);
    if (format == CS_FORMAT_UNKNOWN)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: unknown output format (extension not recognised)", path);
    return cs_scene_save_format(ctx, scene, path, format);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cs_status cs_scene_compute_stats(cs_context *ctx, const cs_scene *scene, cs_scene_stats *out) {
    const cs_scene_params *p = &scene->p;
    memset(out, 0, sizeof *out);
    out->count = p->count;
    out->sh_degree = p->sh_degree;
    size_t n = (size_t)p->count, k3 = 3 * (size_t)p->sh_coeffs;
    double *scales = cs__malloc((n ? n : 1) * sizeof *scales);
    if (!scales) return cs__alloc_error(ctx, "scene statistics", n * sizeof *scales);
    size_t n_scales = 0, n_finite_means = 0, n_opacity = 0;
    double opacity_sum = 0;
    out->opacity_min = INFINITY;
    out->opacity_max = -INFINITY;
    for (int a = 0; a < 3; a++) {
        out->bounds_min[a] = INFINITY;
        out->bounds_max[a] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        bool finite = true;
        const float *m = p->means + 3 * i, *s = p->log_scales + 3 * i, *q = p->quats + 4 * i;
        for (int a = 0; a < 3; a++) finite = finite && isfinite(m[a]) && isfinite(s[a]);
        for (int a = 0; a < 4; a++) finite = finite && isfinite(q[a]);
        finite = finite && isfinite(p->opacities[i]);
        for (size_t c = 0; c < k3; c++) finite = finite && isfinite(p->sh[k3 * i + c]);
        if (!finite) out->non_finite++;
        if (isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2])) {
            n_finite_means++;
            for (int a = 0; a < 3; a++) {
                if ((double)m[a] < out->bounds_min[a]) out->bounds_min[a] = m[a];
                if ((double)m[a] > out->bounds_max[a]) out->bounds_max[a] = m[a];
            }
        }
        if (isfinite(p->opacities[i])) {
            double o = 1.0 / (1.0 + exp(-(double)p->opacities[i]));
            opacity_sum += o;
            n_opacity++;
            if (o < out->opacity_min) out->opacity_min = o;
            if (o > out->opacity_max) out->opacity_max = o;
        }
        if (isfinite(s[0]) && isfinite(s[1]) && isfinite(s[2])) {
            float mx = s[0] > s[1] ? s[0] : s[1];
            mx = mx > s[2] ? mx : s[2];
            scales[n_scales++] = exp((double)mx);
        }
    }
    if (n_finite_means == 0)
        for (int a = 0; a < 3; a++) out->bounds_min[a] = out->bounds_max[a] = 0;
    if (n_opacity == 0) out->opacity_min = out->opacity_max = 0;
    else out->opacity_mean = opacity_sum / (double)n_opacity;
    if (n_scales > 0) {
        qsort(scales, n_scales, sizeof *scales, cmp_double);
        out->scale_min = scales[0];
        out->scale_max = scales[n_scales - 1];
        out->scale_median = n_scales % 2 ? scales[n_scales / 2]
                                         : 0.5 * (scales[n_scales / 2 - 1] + scales[n_scales / 2]);
    }
    cs__free(scales);
    return CS_OK;
}
