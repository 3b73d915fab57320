/*
 * view_render.h - the viewer's render thread (tools/view_render.c). The event loop posts view
 * requests (camera, background, depth view, moving or not) and never waits for a frame; the
 * thread renders the newest request, at reduced resolution while the view moves and at full
 * resolution once it has settled, and hands finished RGBA8 frames back through a triple buffer.
 * Screenshots are rendered and written on the thread too, so saving never stalls input.
 *
 * No window-system calls: the thread wakes the event loop through the notify callback (the viewer
 * passes one that pushes an SDL user event).
 */
#ifndef CSPLAT_VIEW_RENDER_H
#define CSPLAT_VIEW_RENDER_H

#include "csplat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct view_request {
    cs_camera camera;      /* full-resolution pinhole camera */
    bool white_background; /* else black */
    bool depth;            /* show expected depth (near bright) instead of colour */
    bool moving;           /* the view is changing: reduced resolution until it settles */
} view_request;

/* A finished frame. The event loop owns the one it took until it takes the next. */
typedef struct view_frame {
    uint8_t *rgba;   /* [height, width, 4] R, G, B, 255 */
    size_t capacity; /* bytes allocated at rgba */
    int width, height;
    bool full;        /* rendered at the request's full resolution */
    uint64_t version; /* of the request it shows (view_renderer_request's return) */
    double ms;        /* render time, conversion included */
} view_frame;

typedef enum view_message_kind {
    VIEW_MESSAGE_NONE,
    VIEW_MESSAGE_SAVED,       /* a screenshot was written; text is its path */
    VIEW_MESSAGE_SAVE_FAILED, /* text says why; the viewer goes on */
    VIEW_MESSAGE_FATAL        /* rendering failed; text says why; the thread has stopped */
} view_message_kind;

typedef struct view_renderer_desc {
    cs_context *ctx;            /* used only by the render thread from start to stop */
    const cs_scene *scene;      /* read-only while the thread runs */
    float moving_scale;         /* fixed resolution scale while moving in (0, 1]; 0 = adaptive */
    double target_fps;          /* the adaptive scale aims for this frame rate while moving */
    double settle_s;            /* full resolution this long after the last moving request */
    void (*notify)(void *user); /* called from the thread after a frame or a message */
    void *user;
} view_renderer_desc;

typedef struct view_renderer view_renderer;

/* Start the thread; NULL when memory or a thread cannot be had (errno-style message in err). */
view_renderer *view_renderer_start(const view_renderer_desc *desc, char *err, size_t err_len);
/* Stop and join the thread, free everything. NULL is a no-op. */
void view_renderer_stop(view_renderer *vr);
/* Post the view to render next (replacing any not yet started); returns its version (1, 2, ...). */
uint64_t view_renderer_request(view_renderer *vr, const view_request *request);
/* Swap the newest finished frame into *display; false (display untouched) when none is new.
 * Zero *display before the first call; view_frame_free releases it at the end. */
bool view_renderer_take(view_renderer *vr, view_frame *display);
void view_frame_free(view_frame *frame);
/* Save a full-resolution PNG of the current request: to path, or with path NULL to the first free
 * csplat-screenshot-NNN.png (001..999) in the current folder. Answered by a SAVED or SAVE_FAILED
 * message. */
void view_renderer_screenshot(view_renderer *vr, const char *path);
/* The oldest unread message (text copied into buf); VIEW_MESSAGE_NONE when there is none. */
view_message_kind view_renderer_message(view_renderer *vr, char *buf, size_t buf_len);

#endif
