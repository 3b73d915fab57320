/*
 * renderer.c - cs_renderer: the public render call. It checks the arguments, sizes the scratch
 * memory, runs the stages of render.h through the chosen backend table and times each one.
 *
 * Scratch: every per-frame array (splats [N], sort keys [N], tile lists [M], per-pixel T and
 * last contributor [H, W], the slices' counters) belongs to the renderer. Each grows to the
 * largest frame seen, with a quarter of headroom for lists, and is reused, so a warm renderer
 * makes no allocation; memory is O(N + M + W H). Buffers are 64-byte aligned so a splat is one
 * cache line.
 *
 * Limits: N < 2^31 Gaussians (indices are uint32), images up to 32768 x 32768 (tile rectangles
 * are uint16), M any int64 count that fits memory.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#endif
#include "render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define MAX_SIDE 32768

typedef struct scratch {
    void *raw; /* from cs__malloc */
    void *p;   /* raw aligned up to 64 bytes, or 2 MB for large buffers */
    size_t bytes;
} scratch;

/* Buffers from this size on are 2 MB aligned and asked for transparent huge pages: the splats
 * are read in depth order, all over memory, and with 4 KB pages nearly every record would cost a
 * TLB miss (a quarter of the compositing time on a 1M-Gaussian scene). */
#define HUGE_BYTES ((size_t)8 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

struct cs_renderer {
    cs_context *ctx;
    const cs_render_backend *backend;
    cs_render_stats stats;
    cs_render_frame frame; /* the last frame, for a trainer's backward pass */
    scratch splats, order, keys, tmp_keys, tmp_order, hist, counts, ranges, list, final_t,
        n_contrib;
    cs_train_scratch *train; /* the backward pass's scratch (train_render.c), lazily created */
};

static void scratch_free(scratch *s) {
    cs__free(s->raw);
    *s = (scratch){0};
}

/* Make s hold at least count elements of elem bytes (old contents are not kept). headroom:
 * allocate 25% more, for arrays whose size changes from frame to frame. */
static cs_status scratch_grow(cs_context *ctx, scratch *s, int64_t count, size_t elem,
                              bool headroom, const char *what) {
    size_t need, want;
    if (count < 0 || !cs__mul_size((size_t)count, elem, &need))
        return cs__error(ctx, CS_ERR_NOMEM, "renderer: %s: %lld elements overflow memory size",
                         what, (long long)count);
    if (s->p && need <= s->bytes) return CS_OK;
    want = need;
    if (headroom && !cs__add_size(need, need / 4, &want)) want = need;
    size_t align = want >= HUGE_BYTES ? HUGE_ALIGN : 64, alloc;
    if (!cs__add_size(want, align - 1, &alloc))
        return cs__error(ctx, CS_ERR_NOMEM, "renderer: %s: %zu bytes overflow", what, want);
    void *raw = cs__malloc(alloc);
    if (!raw) return cs__alloc_error(ctx, what, alloc);
    cs__free(s->raw);
    s->raw = raw;
    s->p = (void *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    s->bytes = want;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* A hint: failure (no THP support) only costs speed. */
    if (align == HUGE_ALIGN) (void)madvise(s->p, want & ~(HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return CS_OK;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

cs_status cs_renderer_create(cs_context *ctx, const cs_renderer_desc *desc, cs_renderer **out) {
    *out = NULL;
    cs_renderer_desc d = desc ? *desc : (cs_renderer_desc){0};
    const char *scalar = getenv("CSPLAT_SCALAR"), *simd = getenv("CSPLAT_SIMD");
    cs_simd_level level = CS_SIMD_AVX512;
    if (simd && strcmp(simd, "avx2") == 0) level = CS_SIMD_AVX2;
    if (d.force_scalar || (scalar && *scalar && strcmp(scalar, "0") != 0)) level = CS_SIMD_SCALAR;
    cs_renderer *r = cs__calloc(1, sizeof *r);
    if (!r) return cs__alloc_error(ctx, "renderer", sizeof *r);
    r->ctx = ctx;
    r->backend = cs__render_backend_cpu(level);
    *out = r;
    return CS_OK;
}

void cs_renderer_destroy(cs_renderer *r) {
    if (!r) return;
    scratch *all[] = {&r->splats, &r->order, &r->keys, &r->tmp_keys, &r->tmp_order, &r->hist,
                      &r->counts, &r->ranges, &r->list, &r->final_t, &r->n_contrib};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) scratch_free(all[i]);
    cs__train_scratch_destroy(r->train);
    cs__free(r);
}

void cs__renderer_set_backend(cs_renderer *r, const cs_render_backend *backend) {
    r->backend = backend;
}

void cs_renderer_get_stats(const cs_renderer *r, cs_render_stats *out) {
    *out = r->stats;
}

void cs__renderer_frame(const cs_renderer *r, cs_render_frame *out) {
    *out = r->frame;
}

cs_context *cs__renderer_context(const cs_renderer *r) {
    return r->ctx;
}

cs_train_scratch **cs__renderer_train_scratch(cs_renderer *r) {
    return &r->train;
}

static bool finite_n(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static cs_status check_image(cs_context *ctx, const cs_image *im, const char *name, int channels,
                             const cs_camera *cam) {
    if (!im) return CS_OK;
    if (!im->data || im->width != cam->width || im->height != cam->height ||
        im->channels != channels)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "render: %s image is %dx%dx%d%s, the camera needs %dx%dx%d", name,
                         im->width, im->height, im->channels, im->data ? "" : " without data",
                         cam->width, cam->height, channels);
    return CS_OK;
}

static cs_status check_args(cs_context *ctx, const cs_scene *scene, const cs_camera *cam,
                            const cs_render_options *o, const cs_image *rgb,
                            const cs_image *alpha, const cs_image *depth) {
    if (!scene || !cam) return cs__error(ctx, CS_ERR_ARGUMENT, "render: scene or camera is NULL");
    if (cam->width < 1 || cam->height < 1 || cam->width > MAX_SIDE || cam->height > MAX_SIDE)
        return cs__error(ctx, CS_ERR_ARGUMENT, "render: image size %dx%d is not in 1..%d",
                         cam->width, cam->height, MAX_SIDE);
    if (!(cam->fx > 0.0f) || !(cam->fy > 0.0f) || !isfinite(cam->fx) || !isfinite(cam->fy) ||
        !isfinite(cam->cx) || !isfinite(cam->cy) || !finite_n(cam->R, 9) || !finite_n(cam->t, 3))
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "render: camera has a non-positive focal length or non-finite values");
    if (scene->p.count > INT32_MAX)
        return cs__error(ctx, CS_ERR_ARGUMENT, "render: %lld Gaussians exceed the limit 2^31 - 1",
                         (long long)scene->p.count);
    if (o->sh_bands < 0 || o->sh_bands > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT, "render: sh_bands %d is not in 0..4", o->sh_bands);
    if (!(o->scale_modifier >= 0.0f) || !isfinite(o->scale_modifier) ||
        !finite_n(o->background, 3))
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "render: scale modifier or background is negative or not finite");
    cs_status st = check_image(ctx, rgb, "rgb", 3, cam);
    if (st == CS_OK) st = check_image(ctx, alpha, "alpha", 1, cam);
    if (st == CS_OK) st = check_image(ctx, depth, "depth", 1, cam);
    return st;
}

cs_status cs_renderer_render(cs_renderer *r, const cs_scene *scene, const cs_camera *cam,
                             const cs_render_options *opts, cs_image *rgb, cs_image *alpha,
                             cs_image *depth) {
    cs_context *ctx = r->ctx;
    double t0 = now_ms();
    cs_render_options o = opts ? *opts : (cs_render_options){0};
    cs_status st = check_args(ctx, scene, cam, &o, rgb, alpha, depth);
    if (st != CS_OK) return st;
    const cs_scene_params *p = &scene->p;
    cs_view view;
    cs__view_init(&view, cam);
    int64_t n = p->count, tiles = (int64_t)view.tiles_x * view.tiles_y;
    int64_t pixels = (int64_t)cam->width * cam->height;
    int threads = cs_context_threads(ctx);
    /* Several slices per thread balance the uneven slices of sort and bin. */
    int chunks = threads == 1 ? 1 : (4 * threads < 64 ? 4 * threads : 64);

    if ((st = scratch_grow(ctx, &r->splats, n, sizeof(cs_splat), false, "render splats")) ||
        (st = scratch_grow(ctx, &r->order, n, sizeof(uint32_t), false, "render order")) ||
        (st = scratch_grow(ctx, &r->keys, n, sizeof(uint32_t), false, "render keys")) ||
        (st = scratch_grow(ctx, &r->tmp_keys, n, sizeof(uint32_t), false, "render keys")) ||
        (st = scratch_grow(ctx, &r->tmp_order, n, sizeof(uint32_t), false, "render order")) ||
        (st = scratch_grow(ctx, &r->hist, (int64_t)chunks * CS_SORT_BUCKETS, sizeof(int64_t),
                           false, "render histogram")) ||
        (st = scratch_grow(ctx, &r->counts, chunks * tiles, sizeof(int64_t), false,
                           "render tile counts")) ||
        (st = scratch_grow(ctx, &r->ranges, tiles + 1, sizeof(int64_t), false, "render ranges")) ||
        (st = scratch_grow(ctx, &r->final_t, pixels, sizeof(float), false, "render final T")) ||
        (st = scratch_grow(ctx, &r->n_contrib, pixels, sizeof(uint32_t), false,
                           "render contributors")))
        return st;
    cs_splat *splats = r->splats.p;
    double tp = now_ms();

    cs_project_args pa = {
        .view = &view,
        .count = n,
        .means = p->means,
        .log_scales = p->log_scales,
        .quats = p->quats,
        .opacities = p->opacities,
        .scale_modifier = o.scale_modifier > 0.0f ? o.scale_modifier : 1.0f,
        .splats = splats,
    };
    r->backend->project(ctx, &pa);
    double t1 = now_ms();

    int degree = o.sh_bands > 0 ? o.sh_bands - 1 : p->sh_degree;
    if (degree > p->sh_degree) degree = p->sh_degree;
    cs_sh_args sa = {
        .view = &view,
        .count = n,
        .means = p->means,
        .sh = p->sh,
        .sh_coeffs = p->sh_coeffs,
        .degree = degree,
        .splats = splats,
    };
    r->backend->sh(ctx, &sa);
    double t2 = now_ms();

    cs_sort_args so = {
        .count = n,
        .splats = splats,
        .chunks = chunks,
        .order = r->order.p,
        .keys = r->keys.p,
        .tmp_keys = r->tmp_keys.p,
        .tmp_order = r->tmp_order.p,
        .hist = r->hist.p,
    };
    r->backend->sort(ctx, &so);
    double t3 = now_ms();

    cs_bin_args ba = {
        .view = &view,
        .splats = splats,
        .order = r->order.p,
        .visible = so.visible,
        .chunks = chunks,
        .counts = r->counts.p,
        .ranges = r->ranges.p,
    };
    r->backend->bin_count(ctx, &ba);
    if ((st = scratch_grow(ctx, &r->list, ba.intersections, sizeof(uint32_t), true,
                           "render tile lists")))
        return st;
    ba.list = r->list.p;
    r->backend->bin_fill(ctx, &ba);
    double t4 = now_ms();

    cs_raster_args ra = {
        .view = &view,
        .splats = splats,
        .ranges = ba.ranges,
        .list = ba.list,
        .background = {o.background[0], o.background[1], o.background[2]},
        .rgb = rgb ? rgb->data : NULL,
        .alpha = alpha ? alpha->data : NULL,
        .depth = depth ? depth->data : NULL,
        .final_t = r->final_t.p,
        .n_contrib = r->n_contrib.p,
    };
    r->backend->raster(ctx, &ra);
    double t5 = now_ms();

    r->frame = (cs_render_frame){
        .view = view,
        .count = n,
        .visible = so.visible,
        .intersections = ba.intersections,
        .splats = splats,
        .order = so.order,
        .ranges = ba.ranges,
        .list = ba.list,
        .final_t = ra.final_t,
        .n_contrib = ra.n_contrib,
        .background = {o.background[0], o.background[1], o.background[2]},
    };
    r->stats = (cs_render_stats){
        .ms_project = t1 - tp,
        .ms_sh = t2 - t1,
        .ms_sort = t3 - t2,
        .ms_bin = t4 - t3,
        .ms_raster = t5 - t4,
        .ms_total = t5 - t0,
        .gaussians = n,
        .visible = so.visible,
        .intersections = ba.intersections,
        .threads = threads,
        .simd = r->backend->simd,
        .backend = r->backend->name,
    };
    return CS_OK;
}
