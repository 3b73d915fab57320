/*
 * view_render.c - the viewer's render thread: newest-request-wins rendering, reduced resolution
 * while the view moves, refinement when it settles, the depth view, screenshots.
 *
 * Synchronisation: one mutex guards the request, the "ready" frame slot, the screenshot request
 * and the message ring; a condition variable (CLOCK_MONOTONIC, so wall-clock jumps cannot stall
 * the refinement) wakes the thread. Frames move through three buffers: the thread renders into
 * `back`, swaps it with `ready` under the lock, and the event loop swaps `ready` with the one it
 * displays, so neither side ever copies a frame or waits for the other to finish with one.
 *
 * Resolution while moving: the scale s (a fraction of the full width and height) is fixed by the
 * user or adapted after each moving frame as s <- s * (target_ms / ms)^0.35, clamped to
 * [0.25, 1]. Render time is roughly a + b s^2 (per-Gaussian work plus per-pixel work), so the
 * exponent, below the 0.5 a pure per-pixel cost would call for, damps the oscillation the constant
 * term would otherwise cause. The reduced image uses the same field of view (fx, cx scaled by the
 * width ratio, fy, cy by the height ratio) and is stretched to the window by the GPU/SDL.
 *
 * Depth view: the renderer's expected depth z, shown as inverse depth normalised between the 2nd
 * and 98th percentiles of a strided sample of the pixels with alpha > 0.5 (near bright), blended
 * over the background by alpha. Inverse depth spends the grey levels on what is near, where
 * detail is; percentiles keep a floater at the lens from flattening the rest.
 *
 * Not done: a render in progress is not cancelled when a newer request arrives (the renderer has
 * no cancellation point); the newer one starts when it finishes.
 */
#include "view_render.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MESSAGES 8
#define DEPTH_SAMPLES 4096

struct view_renderer {
    view_renderer_desc desc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;

    /* Guarded by lock. */
    view_request request;
    uint64_t version;
    double moving_until; /* monotonic seconds */
    bool quit;
    bool shot_pending;
    char shot_path[4096]; /* "" = automatic name */
    view_frame ready;
    bool ready_fresh;
    struct {
        view_message_kind kind;
        char text[512];
    } messages[MESSAGES];
    int message_first, message_count;

    /* Owned by the thread. */
    cs_renderer *renderer;
    view_frame back;
    float *rgb, *alpha, *depth; /* [pixels * 3] shown (colour or depth view), [pixels], [pixels] */
    size_t pixel_capacity;
    float scale;
    uint64_t done_version;
    bool done_full;
    int done_width, done_height; /* of the image in rgb */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Copy src into dst[size], truncating (messages are for people; a cut path still helps). */
static void copy_text(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Append a message (under the lock); the oldest is dropped when the ring is full. */
static void post_message(view_renderer *vr, view_message_kind kind, const char *text) {
    if (vr->message_count == MESSAGES) {
        vr->message_first = (vr->message_first + 1) % MESSAGES;
        vr->message_count--;
    }
    int slot = (vr->message_first + vr->message_count++) % MESSAGES;
    vr->messages[slot].kind = kind;
    copy_text(vr->messages[slot].text, sizeof vr->messages[slot].text, text);
}

static void notify(view_renderer *vr) {
    if (vr->desc.notify) vr->desc.notify(vr->desc.user);
}

/* Grow the float buffers to hold `pixels`; false when memory runs out. */
static bool reserve_pixels(view_renderer *vr, size_t pixels) {
    if (pixels <= vr->pixel_capacity) return true;
    float *rgb = realloc(vr->rgb, pixels * 3 * sizeof *rgb);
    if (rgb) vr->rgb = rgb;
    float *alpha = realloc(vr->alpha, pixels * sizeof *alpha);
    if (alpha) vr->alpha = alpha;
    float *depth = realloc(vr->depth, pixels * sizeof *depth);
    if (depth) vr->depth = depth;
    if (!rgb || !alpha || !depth) return false;
    vr->pixel_capacity = pixels;
    return true;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Inverse depth normalised between robust bounds, alpha-blended over the background, as grey
 * into rgb (which the renderer did not fill: it drew alpha and depth only). */
static void depth_view(view_renderer *vr, size_t pixels, float bg) {
    float sample[DEPTH_SAMPLES];
    size_t stride = pixels / DEPTH_SAMPLES + 1, n = 0;
    for (size_t i = 0; i < pixels && n < DEPTH_SAMPLES; i += stride)
        if (vr->alpha[i] > 0.5f && vr->depth[i] > 0) sample[n++] = 1.0f / vr->depth[i];
    float lo = 0, hi = 1;
    if (n > 0) {
        qsort(sample, n, sizeof *sample, cmp_float);
        lo = sample[(n - 1) * 2 / 100];
        hi = sample[(n - 1) * 98 / 100];
    }
    float span = hi > lo ? hi - lo : 1.0f;
    for (size_t i = 0; i < pixels; i++) {
        float a = vr->alpha[i], g = 0;
        if (vr->depth[i] > 0) {
            g = (1.0f / vr->depth[i] - lo) / span;
            g = g < 0 ? 0 : g > 1 ? 1 : g;
        }
        float v = a * g + (1 - a) * bg;
        vr->rgb[3 * i] = vr->rgb[3 * i + 1] = vr->rgb[3 * i + 2] = v;
    }
}

/* Render `r` at `scale` of its size into rgb and back. False with err set on failure. */
static bool render_frame(view_renderer *vr, const view_request *r, float scale, char *err,
                         size_t err_len) {
    double t0 = now_s();
    int W = r->camera.width, H = r->camera.height;
    int w = W, h = H;
    if (scale < 1) {
        w = (int)lroundf((float)W * scale);
        h = (int)lroundf((float)H * scale);
        w = w < 8 ? (W < 8 ? W : 8) : w;
        h = h < 8 ? (H < 8 ? H : 8) : h;
    }
    size_t pixels = (size_t)w * (size_t)h, bytes = pixels * 4;
    if (!reserve_pixels(vr, pixels)) {
        snprintf(err, err_len, "view: out of memory for a %dx%d frame", w, h);
        return false;
    }
    if (bytes > vr->back.capacity) {
        uint8_t *p = realloc(vr->back.rgba, bytes);
        if (!p) {
            snprintf(err, err_len, "view: out of memory for a %dx%d frame", w, h);
            return false;
        }
        vr->back.rgba = p;
        vr->back.capacity = bytes;
    }
    cs_camera cam = r->camera;
    float sx = (float)w / (float)W, sy = (float)h / (float)H;
    cam.fx *= sx;
    cam.cx *= sx;
    cam.fy *= sy;
    cam.cy *= sy;
    cam.width = w;
    cam.height = h;
    float bg = r->white_background ? 1.0f : 0.0f;
    cs_render_options opts = {.background = {bg, bg, bg}};
    cs_image rgb = {w, h, 3, vr->rgb}, alpha = {w, h, 1, vr->alpha}, depth = {w, h, 1, vr->depth};
    if (cs_renderer_render(vr->renderer, vr->desc.scene, &cam, &opts, r->depth ? NULL : &rgb,
                           r->depth ? &alpha : NULL, r->depth ? &depth : NULL) != CS_OK) {
        snprintf(err, err_len, "%s", cs_context_last_error(vr->desc.ctx));
        return false;
    }
    if (r->depth) depth_view(vr, pixels, bg);
    for (size_t i = 0; i < pixels; i++) {
        for (int c = 0; c < 3; c++) {
            float v = vr->rgb[3 * i + c];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            vr->back.rgba[4 * i + c] = (uint8_t)(v * 255.0f + 0.5f);
        }
        vr->back.rgba[4 * i + 3] = 255;
    }
    vr->back.width = w;
    vr->back.height = h;
    vr->back.full = w == W && h == H;
    vr->back.ms = 1e3 * (now_s() - t0);
    vr->done_width = w;
    vr->done_height = h;
    return true;
}

/* The first free csplat-screenshot-NNN.png, or "" when 001..999 are all taken. */
static void free_screenshot_name(char *out, size_t len) {
    for (int i = 1; i <= 999; i++) {
        snprintf(out, len, "csplat-screenshot-%03d.png", i);
        if (access(out, F_OK) != 0) return;
    }
    out[0] = '\0';
}

static void save_screenshot(view_renderer *vr, const char *requested) {
    char path[4096], text[4600];
    view_message_kind kind = VIEW_MESSAGE_SAVED;
    if (requested[0])
        snprintf(path, sizeof path, "%s", requested);
    else
        free_screenshot_name(path, sizeof path);
    cs_image img = {vr->done_width, vr->done_height, 3, vr->rgb};
    if (!path[0]) {
        kind = VIEW_MESSAGE_SAVE_FAILED;
        snprintf(text, sizeof text, "csplat-screenshot-001.png .. 999 all exist");
    } else if (cs_image_save_png(vr->desc.ctx, &img, path, 8) != CS_OK) {
        kind = VIEW_MESSAGE_SAVE_FAILED;
        snprintf(text, sizeof text, "%s", cs_context_last_error(vr->desc.ctx));
    } else {
        snprintf(text, sizeof text, "%s", path);
    }
    pthread_mutex_lock(&vr->lock);
    post_message(vr, kind, text);
    pthread_mutex_unlock(&vr->lock);
    notify(vr);
}

static void adapt_scale(view_renderer *vr, double ms) {
    double target_ms = 1e3 / vr->desc.target_fps;
    float s = vr->scale * (float)pow(target_ms / (ms > 0.1 ? ms : 0.1), 0.35);
    vr->scale = s < 0.25f ? 0.25f : s > 1 ? 1 : s;
}

static void *thread_main(void *arg) {
    view_renderer *vr = arg;
    char err[1024];
    if (cs_renderer_create(vr->desc.ctx, NULL, &vr->renderer) != CS_OK) {
        pthread_mutex_lock(&vr->lock);
        post_message(vr, VIEW_MESSAGE_FATAL, cs_context_last_error(vr->desc.ctx));
        pthread_mutex_unlock(&vr->lock);
        notify(vr);
        return NULL;
    }
    pthread_mutex_lock(&vr->lock);
    for (;;) {
        /* Work: a new request (rendered reduced when it is a moving one, whenever it is picked
         * up), the refinement of a reduced frame once the view has settled, or a screenshot. */
        bool fresh = false;
        for (;;) {
            if (vr->quit) break;
            bool settled = now_s() >= vr->moving_until;
            fresh = vr->version != vr->done_version;
            bool refine = vr->version > 0 && !vr->done_full && settled;
            if (fresh || refine || (vr->shot_pending && vr->version > 0)) break;
            if (!settled) {
                double until = vr->moving_until;
                struct timespec ts = {(time_t)until, (long)((until - floor(until)) * 1e9)};
                pthread_cond_timedwait(&vr->wake, &vr->lock, &ts);
            } else {
                pthread_cond_wait(&vr->wake, &vr->lock);
            }
        }
        if (vr->quit) break;
        view_request r = vr->request;
        uint64_t version = vr->version;
        bool moving = fresh && r.moving;
        bool shot = vr->shot_pending;
        char shot_path[sizeof vr->shot_path];
        memcpy(shot_path, vr->shot_path, sizeof shot_path);
        vr->shot_pending = false;
        pthread_mutex_unlock(&vr->lock);

        /* A screenshot needs full resolution, moving or not; reuse the last frame when it is. */
        bool full = !moving || shot;
        bool have = shot && vr->done_full && vr->done_version == version;
        if (!have) {
            float scale = full                        ? 1.0f
                          : vr->desc.moving_scale > 0 ? vr->desc.moving_scale
                                                      : vr->scale;
            if (!render_frame(vr, &r, scale, err, sizeof err)) {
                pthread_mutex_lock(&vr->lock);
                post_message(vr, VIEW_MESSAGE_FATAL, err);
                pthread_mutex_unlock(&vr->lock);
                notify(vr);
                return NULL;
            }
            vr->back.version = version;
            vr->done_version = version;
            vr->done_full = vr->back.full;
            if (!full && vr->desc.moving_scale <= 0) adapt_scale(vr, vr->back.ms);
            pthread_mutex_lock(&vr->lock);
            view_frame t = vr->ready;
            vr->ready = vr->back;
            vr->back = t;
            vr->ready_fresh = true;
            pthread_mutex_unlock(&vr->lock);
            notify(vr);
        }
        if (shot) save_screenshot(vr, shot_path);
        pthread_mutex_lock(&vr->lock);
    }
    pthread_mutex_unlock(&vr->lock);
    return NULL;
}

view_renderer *view_renderer_start(const view_renderer_desc *desc, char *err, size_t err_len) {
    view_renderer *vr = calloc(1, sizeof *vr);
    if (!vr) {
        snprintf(err, err_len, "view: out of memory");
        return NULL;
    }
    vr->desc = *desc;
    if (vr->desc.target_fps <= 0) vr->desc.target_fps = 30;
    vr->scale = 0.5f;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&vr->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&vr->lock, NULL);
    int rc = pthread_create(&vr->thread, NULL, thread_main, vr);
    if (rc != 0) {
        snprintf(err, err_len, "view: cannot start the render thread: %s", strerror(rc));
        pthread_cond_destroy(&vr->wake);
        pthread_mutex_destroy(&vr->lock);
        free(vr);
        return NULL;
    }
    return vr;
}

void view_frame_free(view_frame *frame) {
    free(frame->rgba);
    memset(frame, 0, sizeof *frame);
}

void view_renderer_stop(view_renderer *vr) {
    if (!vr) return;
    pthread_mutex_lock(&vr->lock);
    vr->quit = true;
    pthread_cond_signal(&vr->wake);
    pthread_mutex_unlock(&vr->lock);
    pthread_join(vr->thread, NULL);
    cs_renderer_destroy(vr->renderer);
    view_frame_free(&vr->back);
    view_frame_free(&vr->ready);
    free(vr->rgb);
    free(vr->alpha);
    free(vr->depth);
    pthread_cond_destroy(&vr->wake);
    pthread_mutex_destroy(&vr->lock);
    free(vr);
}

uint64_t view_renderer_request(view_renderer *vr, const view_request *request) {
    pthread_mutex_lock(&vr->lock);
    vr->request = *request;
    uint64_t version = ++vr->version;
    vr->moving_until = request->moving ? now_s() + vr->desc.settle_s : 0;
    pthread_cond_signal(&vr->wake);
    pthread_mutex_unlock(&vr->lock);
    return version;
}

bool view_renderer_take(view_renderer *vr, view_frame *display) {
    pthread_mutex_lock(&vr->lock);
    bool fresh = vr->ready_fresh;
    if (fresh) {
        view_frame t = *display;
        *display = vr->ready;
        vr->ready = t;
        vr->ready_fresh = false;
    }
    pthread_mutex_unlock(&vr->lock);
    return fresh;
}

void view_renderer_screenshot(view_renderer *vr, const char *path) {
    pthread_mutex_lock(&vr->lock);
    copy_text(vr->shot_path, sizeof vr->shot_path, path ? path : "");
    vr->shot_pending = true;
    pthread_cond_signal(&vr->wake);
    pthread_mutex_unlock(&vr->lock);
}

view_message_kind view_renderer_message(view_renderer *vr, char *buf, size_t buf_len) {
    view_message_kind kind = VIEW_MESSAGE_NONE;
    pthread_mutex_lock(&vr->lock);
    if (vr->message_count > 0) {
        kind = vr->messages[vr->message_first].kind;
        copy_text(buf, buf_len, vr->messages[vr->message_first].text);
        vr->message_first = (vr->message_first + 1) % MESSAGES;
        vr->message_count--;
    }
    pthread_mutex_unlock(&vr->lock);
    return kind;
}
