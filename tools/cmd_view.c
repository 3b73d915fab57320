/*
 * cmd_view.c - `csplat view SCENE [--cameras CAMS]`: an SDL2 window that renders the scene in real
 * time with the CPU renderer, with orbit/pan/zoom/fly controls, snapping to dataset cameras, the
 * depth view and screenshots; and a scripted mode (`--frames N --screenshot OUT.png`) that renders
 * N frames along the default orbit and saves the last one at full resolution.
 *
 * Threads: this file is the event loop. It turns input into camera changes (src/view_camera.c)
 * and posts them to the render thread (view_render.c), then shows whatever frame is newest, so
 * input never waits for rendering. The window shows the render stretched to the window (linear
 * filtering) and a text line (view_overlay.c) with the frame rate, Gaussian count and resolution.
 *
 * The default view and the scripted mode's path are `csplat render --orbit`'s turntable
 * (tools/orbit.c, shared): frame i of N is orbit_camera(path, i, N, lens). The lens is render's,
 * scaled to the window width: 960x540 with fx = fy = 700, or with --cameras the first camera's
 * intrinsics; a window of another aspect keeps the principal point's offset from the centre. The
 * scripted frames are rendered as the interactive viewer renders a moving view (reduced
 * resolution), except the last one, rendered at full resolution and saved straight from the
 * renderer's float image, so `view SCENE --frames N --width W` equals frame N-1 of
 * `render SCENE --orbit N --scale W/960` whenever the heights agree.
 *
 * Not done: no HiDPI scaling (the render matches SDL's renderer output size), no roll control,
 * no editing.
 */
#include "cli.h"
#include "orbit.h"
#include "view_camera.h"
#include "view_overlay.h"
#include "view_render.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: csplat view SCENE [--cameras CAMS] [--width W --height H] [--threads N]\n"
    "                   [--frames N [--screenshot OUT.png]] [--moving-scale S]\n\n"
    "Open a window that renders SCENE (any format `convert` reads) in real time.\n\n"
    "  --cameras CAMS      dataset cameras (cameras.json, COLMAP model, transforms.json) to snap\n"
    "                      to; they also orient the default view\n"
    "  --width W, --height H   window size (default 960x540)\n"
    "  --threads N         render threads (default: all cores)\n"
    "  --moving-scale S    resolution scale while the view moves, in (0, 1]; default adaptive,\n"
    "                      aiming at 30 FPS\n"
    "  --frames N          scripted: render N frames along the default orbit (the path of\n"
    "                      `csplat render --orbit N`, at --scale W/960 for a W-wide window),\n"
    "                      print the frame rate and exit\n"
    "  --screenshot OUT    scripted: save the last frame at full resolution as a PNG\n\n"
    "Mouse: left drag orbit, right drag or shift+left drag pan, wheel zoom.\n"
    "Keys: W/S forward/back, A/D left/right, Q/E down/up (shift: faster); 1-9 dataset camera,\n"
    "N or PageDown next camera, B or PageUp previous; R reset view; G background black/white;\n"
    "Z depth view; P screenshot (csplat-screenshot-NNN.png); Esc quit.\n";

#define SETTLE_S 0.2                 /* full resolution this long after the last movement */
#define ORBIT_RAD_PER_PX 3.14159265f /* per window height: a full-height drag turns 180 degrees */
#define WHEEL_FACTOR 0.85f           /* distance factor per wheel notch */
#define FLY_SPEED 0.5f               /* scene radii per second; shift multiplies by 4 */
#define MESSAGE_S 3.0                /* how long a message stays on the overlay line */
#define RECENT 8                     /* frames averaged for the FPS figure */

typedef struct viewer {
    /* scene */
    cs_scene *scene;
    cs_camera_set *cameras;             /* NULL without --cameras */
    int64_t camera_count, camera_index; /* -1 before the first snap */
    orbit_path path;                    /* render --orbit's turntable */
    float center[3];                    /* path.center: the pivot for resets and snaps */
    /* window */
    SDL_Window *window;
    SDL_Renderer *sdl;
    SDL_Texture *frame_tex, *text_tex;
    int tex_w, tex_h, text_w, text_h;
    Uint32 wake_event;
    /* view state */
    cs__view view;
    bool white_background, depth;
    view_renderer *vr;
    view_frame shown;
    bool have_frame;
    /* statistics for the overlay */
    double recent_ms[RECENT]; /* render times of the last reduced (moving) frames, ring */
    int moving_count;
    char message[256];
    double message_until;
    char overlay[320];
} viewer;

static void wake_main(void *user) {
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = *(Uint32 *)user;
    SDL_PushEvent(&e);
}

/* The drawable size in pixels: the full render resolution. */
static void output_size(viewer *v, int *w, int *h) {
    if (SDL_GetRendererOutputSize(v->sdl, w, h) != 0 || *w < 1 || *h < 1) {
        SDL_GetWindowSize(v->window, w, h);
        if (*w < 1) *w = 1;
        if (*h < 1) *h = 1;
    }
}

static uint64_t post_camera(viewer *v, const cs_camera *cam, bool moving) {
    view_request r = {.camera = *cam,
                      .white_background = v->white_background,
                      .depth = v->depth,
                      .moving = moving};
    return view_renderer_request(v->vr, &r);
}

/* Post the interactive view at the window's resolution. */
static uint64_t post_view(viewer *v, bool moving) {
    int w, h;
    output_size(v, &w, &h);
    cs_camera cam = cs__view_camera(&v->view, w, h);
    return post_camera(v, &cam, moving);
}

static void set_message(viewer *v, const char *text) {
    size_t n = strlen(text);
    if (n >= sizeof v->message) n = sizeof v->message - 1;
    memcpy(v->message, text, n);
    v->message[n] = '\0';
    v->message_until = cli_now() + MESSAGE_S;
}

/* Upload the frame just taken to the streaming texture (grown when a frame outgrows it). */
static void upload_frame(viewer *v, bool *failed) {
    view_frame *f = &v->shown;
    if (!v->frame_tex || f->width > v->tex_w || f->height > v->tex_h) {
        if (v->frame_tex) SDL_DestroyTexture(v->frame_tex);
        v->tex_w = f->width > v->tex_w ? f->width : v->tex_w;
        v->tex_h = f->height > v->tex_h ? f->height : v->tex_h;
        v->frame_tex = SDL_CreateTexture(v->sdl, SDL_PIXELFORMAT_RGBA32,
                                         SDL_TEXTUREACCESS_STREAMING, v->tex_w, v->tex_h);
        if (!v->frame_tex) {
            fprintf(stderr, "csplat view: cannot create a %dx%d texture: %s\n", v->tex_w, v->tex_h,
                    SDL_GetError());
            *failed = true;
            return;
        }
    }
    SDL_Rect rect = {0, 0, f->width, f->height};
    SDL_UpdateTexture(v->frame_tex, &rect, f->rgba, 4 * f->width);
    v->have_frame = true;
    if (!f->full) v->recent_ms[v->moving_count++ % RECENT] = f->ms;
}

/* Frames per second: while the view moves, the mean over the recent reduced frames (the rate
 * they reach the screen, since uploading and presenting overlap the next render); once it is
 * still, what the full-resolution frame on screen cost. */
static double current_fps(const viewer *v) {
    if (v->shown.full) return v->shown.ms > 0 ? 1e3 / v->shown.ms : 0;
    int n = v->moving_count < RECENT ? v->moving_count : RECENT;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v->recent_ms[i];
    return sum > 0 ? 1e3 * n / sum : 0;
}

/* Rebuild the overlay line; true when its text changed. */
static bool update_overlay(viewer *v) {
    char text[sizeof v->overlay];
    int n = snprintf(text, sizeof text, "%.1f FPS | %lld Gaussians | %dx%d%s%s", current_fps(v),
                     (long long)cs_scene_count(v->scene), v->shown.width, v->shown.height,
                     v->shown.full ? "" : " (moving)", v->depth ? " | depth" : "");
    if (v->camera_index >= 0 && n > 0 && (size_t)n < sizeof text)
        n += snprintf(text + n, sizeof text - (size_t)n, " | camera %lld/%lld",
                      (long long)v->camera_index + 1, (long long)v->camera_count);
    if (cli_now() < v->message_until && n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, " | %s", v->message);
    if (strcmp(text, v->overlay) == 0) return false;
    memcpy(v->overlay, text, sizeof text);
    int out_w, out_h, scale;
    output_size(v, &out_w, &out_h);
    scale = out_h >= 480 ? 2 : 1;
    int w, h;
    overlay_measure(text, scale, &w, &h);
    uint8_t *rgba = malloc((size_t)w * (size_t)h * 4);
    if (!rgba) return true;
    overlay_draw(text, scale, rgba, w, h);
    if (v->text_tex) SDL_DestroyTexture(v->text_tex);
    v->text_tex = SDL_CreateTexture(v->sdl, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STATIC, w, h);
    if (v->text_tex) {
        SDL_SetTextureBlendMode(v->text_tex, SDL_BLENDMODE_BLEND);
        SDL_UpdateTexture(v->text_tex, NULL, rgba, 4 * w);
        v->text_w = w;
        v->text_h = h;
    }
    free(rgba);
    return true;
}

static void present(viewer *v) {
    SDL_SetRenderDrawColor(v->sdl, 0, 0, 0, 255);
    SDL_RenderClear(v->sdl);
    if (v->have_frame) {
        SDL_Rect src = {0, 0, v->shown.width, v->shown.height};
        SDL_RenderCopy(v->sdl, v->frame_tex, &src, NULL);
    }
    if (v->text_tex) {
        SDL_Rect dst = {8, 8, v->text_w, v->text_h};
        SDL_RenderCopy(v->sdl, v->text_tex, NULL, &dst);
    }
    SDL_RenderPresent(v->sdl);
}

/* render --orbit's lens (960x540 with fx = fy = 700, or the first dataset camera) scaled as
 * render --scale does to a width x height image; another aspect keeps cy's offset from the
 * centre. */
static cs_camera orbit_lens(const viewer *v, int width, int height) {
    cs_camera lens = {.width = 960, .height = 540, .fx = 700, .fy = 700, .cx = 480, .cy = 270};
    if (v->camera_count > 0) lens = *cs_camera_set_camera(v->cameras, 0);
    float s = (float)width / (float)lens.width;
    int scaled_height = (int)lroundf((float)lens.height * s);
    lens.fx *= s;
    lens.fy *= s;
    lens.cx *= s;
    lens.cy *= s;
    lens.cy += 0.5f * (float)(height - scaled_height);
    lens.width = width;
    lens.height = height;
    return lens;
}

/* The default view: the orbit's first camera, pivoting about the scene centre. Fly speed and the
 * closest zoom scale with its distance (2.5 times the 90th-percentile spread without cameras). */
static void reset_view(viewer *v) {
    int w, h;
    output_size(v, &w, &h);
    cs_camera lens = orbit_lens(v, w, h), cam = orbit_camera(&v->path, 0, 1, &lens);
    float eye[3], d2 = 0;
    for (int a = 0; a < 3; a++) {
        eye[a] = -(cam.R[a] * cam.t[0] + cam.R[3 + a] * cam.t[1] + cam.R[6 + a] * cam.t[2]);
        d2 += (eye[a] - v->center[a]) * (eye[a] - v->center[a]);
        v->view.up[a] = (float)v->path.up[a];
    }
    v->view.radius = 0.4f * sqrtf(d2);
    cs__view_snap(&v->view, &cam, v->center);
    v->camera_index = -1;
}

/* Take dataset camera `index`, wrapping around the set (next after the last is the first). */
static void snap(viewer *v, int64_t index) {
    if (v->camera_count == 0) {
        set_message(v, "no cameras (use --cameras)");
        return;
    }
    index = (index % v->camera_count + v->camera_count) % v->camera_count;
    v->camera_index = index;
    cs__view_snap(&v->view, cs_camera_set_camera(v->cameras, index), v->center);
}

/* A key press; true when the view changed (posted at full resolution: a jump, not a motion). */
static bool on_key(viewer *v, const SDL_KeyboardEvent *k, bool *quit) {
    if (k->repeat) return false;
    SDL_Keycode key = k->keysym.sym;
    if (key >= SDLK_1 && key <= SDLK_9) {
        if (key - SDLK_1 >= v->camera_count && v->camera_count > 0) {
            char text[64];
            snprintf(text, sizeof text, "there are %lld cameras", (long long)v->camera_count);
            set_message(v, text);
            return false;
        }
        snap(v, key - SDLK_1);
        return true;
    }
    switch (key) {
    case SDLK_ESCAPE:
        *quit = true;
        return false;
    case SDLK_r:
        reset_view(v);
        return true;
    case SDLK_g:
        v->white_background = !v->white_background;
        return true;
    case SDLK_z:
        v->depth = !v->depth;
        return true;
    case SDLK_n:
    case SDLK_PAGEDOWN:
        snap(v, v->camera_index + 1);
        return true;
    case SDLK_b:
    case SDLK_PAGEUP:
        snap(v, v->camera_index < 0 ? -1 : v->camera_index - 1);
        return true;
    case SDLK_p:
        view_renderer_screenshot(v->vr, NULL);
        return false;
    default:
        return false;
    }
}

/* Mouse motion with a button held; true when the view changed. */
static bool on_drag(viewer *v, const SDL_MouseMotionEvent *m) {
    int win_w, win_h;
    SDL_GetWindowSize(v->window, &win_w, &win_h);
    if (win_h < 1) win_h = 1;
    bool shift = (SDL_GetModState() & KMOD_SHIFT) != 0;
    if ((m->state & SDL_BUTTON_LMASK) && !shift) {
        /* Drag right: the eye goes left, so the scene turns right under the cursor. Drag down:
         * the eye rises and looks further down. */
        float k = ORBIT_RAD_PER_PX / (float)win_h;
        cs__view_orbit(&v->view, -k * (float)m->xrel, -k * (float)m->yrel);
        return true;
    }
    if (m->state & (SDL_BUTTON_LMASK | SDL_BUTTON_RMASK | SDL_BUTTON_MMASK)) {
        cs__view_pan(&v->view, (float)m->xrel, (float)m->yrel, win_h);
        return true;
    }
    return false;
}

/* Held W/A/S/D/Q/E move the view by speed * dt; true when it moved. */
static bool fly(viewer *v, double dt) {
    const Uint8 *keys = SDL_GetKeyboardState(NULL);
    float f = (float)(keys[SDL_SCANCODE_W] - keys[SDL_SCANCODE_S]);
    float r = (float)(keys[SDL_SCANCODE_D] - keys[SDL_SCANCODE_A]);
    float u = (float)(keys[SDL_SCANCODE_E] - keys[SDL_SCANCODE_Q]);
    if (f == 0 && r == 0 && u == 0) return false;
    float step = FLY_SPEED * v->view.radius * (float)(dt < 0.1 ? dt : 0.1);
    if (SDL_GetModState() & KMOD_SHIFT) step *= 4;
    cs__view_fly(&v->view, f * step, r * step, u * step);
    return true;
}

static bool fly_keys_held(void) {
    const Uint8 *k = SDL_GetKeyboardState(NULL);
    return k[SDL_SCANCODE_W] || k[SDL_SCANCODE_A] || k[SDL_SCANCODE_S] || k[SDL_SCANCODE_D] ||
           k[SDL_SCANCODE_Q] || k[SDL_SCANCODE_E];
}

/* Scripted run: frame i of `frames` at angle 2*pi*i/frames, the last at full resolution and
 * saved to `shot` (may be NULL). */
typedef struct script {
    int frames, next;  /* frames to render; index of the next frame to post */
    int width, height; /* of the frames, whatever the window's size */
    const char *shot;
    uint64_t awaited; /* version of the frame in flight */
    bool shot_sent;
    double t_start, t_moving_end;
    double sum_w, sum_h; /* over the moving frames, for the mean resolution */
    int moving_frames;
    double full_ms;
    int full_w, full_h;
} script;

static void script_post(viewer *v, script *s) {
    cs_camera lens = orbit_lens(v, s->width, s->height);
    cs_camera cam = orbit_camera(&v->path, s->next, s->frames, &lens);
    s->awaited = post_camera(v, &cam, s->next < s->frames - 1);
    s->next++;
}

/* A frame arrived in scripted mode; returns 1 when the run is complete, 0 to go on. */
static int script_frame(viewer *v, script *s) {
    if (v->shown.version != s->awaited) return 0;
    if (s->next < s->frames) {
        s->sum_w += v->shown.width;
        s->sum_h += v->shown.height;
        s->moving_frames++;
        s->t_moving_end = cli_now();
        script_post(v, s);
        return 0;
    }
    s->full_ms = v->shown.ms;
    s->full_w = v->shown.width;
    s->full_h = v->shown.height;
    if (s->shot && !s->shot_sent) {
        view_renderer_screenshot(v->vr, s->shot);
        s->shot_sent = true;
        return 0;
    }
    return s->shot ? 0 : 1;
}

static void script_report(const script *s) {
    if (s->moving_frames > 0) {
        double secs = s->t_moving_end - s->t_start;
        printf("view: %d moving frames in %.2f s: %.1f FPS at a mean %.0fx%.0f; ", s->moving_frames,
               secs, secs > 0 ? s->moving_frames / secs : 0.0, s->sum_w / s->moving_frames,
               s->sum_h / s->moving_frames);
    } else {
        printf("view: ");
    }
    printf("last frame %dx%d in %.1f ms (%.1f FPS still)\n", s->full_w, s->full_h, s->full_ms,
           s->full_ms > 0 ? 1e3 / s->full_ms : 0.0);
    fflush(stdout);
}

typedef struct view_args {
    const char *scene, *cameras, *shot;
    long width, height, threads, frames;
    float moving_scale;
} view_args;

static int parse_args(int argc, char **argv, view_args *a) {
    memset(a, 0, sizeof *a);
    a->width = 960;
    a->height = 540;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(o, "--cameras") == 0 && has_value) {
            a->cameras = argv[++i];
        } else if (strcmp(o, "--screenshot") == 0 && has_value) {
            a->shot = argv[++i];
        } else if (strcmp(o, "--width") == 0 && has_value) {
            if (!cli_parse_int(argv[++i], 16, 16384, &a->width))
                return cli_usage_error("view", "--width must be an integer in 16..16384");
        } else if (strcmp(o, "--height") == 0 && has_value) {
            if (!cli_parse_int(argv[++i], 16, 16384, &a->height))
                return cli_usage_error("view", "--height must be an integer in 16..16384");
        } else if (strcmp(o, "--threads") == 0 && has_value) {
            if (!cli_parse_int(argv[++i], 1, 1024, &a->threads))
                return cli_usage_error("view", "--threads must be an integer in 1..1024");
        } else if (strcmp(o, "--frames") == 0 && has_value) {
            if (!cli_parse_int(argv[++i], 1, 1000000, &a->frames))
                return cli_usage_error("view", "--frames must be an integer in 1..1000000");
        } else if (strcmp(o, "--moving-scale") == 0 && has_value) {
            if (!cli_parse_float(argv[++i], &a->moving_scale) || a->moving_scale <= 0 ||
                a->moving_scale > 1)
                return cli_usage_error("view", "--moving-scale must be in (0, 1]");
        } else if (o[0] == '-' && o[1]) {
            return cli_usage_error("view", "unknown option or missing value '%s'", o);
        } else if (a->scene) {
            return cli_usage_error("view", "more than one SCENE given");
        } else {
            a->scene = o;
        }
    }
    if (!a->scene) return cli_usage_error("view", "missing SCENE");
    if (a->shot && a->frames == 0) a->frames = 1;
    return CLI_OK;
}

/* Load the scene and the cameras, plan the orbit. */
static int load(viewer *v, cs_context *ctx, const view_args *a) {
    if (cs_scene_load(ctx, a->scene, &v->scene) != CS_OK) return cli_fail(ctx);
    if (a->cameras) {
        if (cs_camera_set_load(ctx, a->cameras, &v->cameras) != CS_OK) return cli_fail(ctx);
        v->camera_count = cs_camera_set_count(v->cameras);
    }
    if (!orbit_plan(v->scene, v->cameras, &v->path)) {
        fprintf(stderr, "csplat: %s: no finite Gaussian position to orbit around\n", a->scene);
        return CLI_FAILURE;
    }
    for (int i = 0; i < 3; i++) v->center[i] = (float)v->path.center[i];
    return CLI_OK;
}

static int open_window(viewer *v, const view_args *a) {
    char title[512];
    snprintf(title, sizeof title, "csplat view - %s", a->scene);
    Uint32 flags = a->frames ? 0 : SDL_WINDOW_RESIZABLE;
    /* The scripted mode renders at --width x --height whatever the window; its window is only a
     * preview, kept within 1280x720 so large stills work on small (virtual) screens. */
    double fit = 1;
    if (a->frames) {
        double fw = 1280.0 / (double)a->width, fh = 720.0 / (double)a->height;
        fit = fw < fh ? fw : fh;
        fit = fit < 1 ? fit : 1;
    }
    int w = (int)((double)a->width * fit), h = (int)((double)a->height * fit);
    v->window = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                                 w > 16 ? w : 16, h > 16 ? h : 16, flags);
    /* Stills need no GPU: SDL's software renderer on a plain window surface (no framebuffer
     * acceleration, which would load a GL driver anyway) keeps a software GL's threads off the
     * cores the renderer uses, and works wherever a window opens. Interactive use lets SDL
     * choose, which means the GPU when there is one. */
    if (a->frames && !SDL_GetHint(SDL_HINT_RENDER_DRIVER)) {
        SDL_SetHint(SDL_HINT_RENDER_DRIVER, "software");
        SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    }
    if (v->window) v->sdl = SDL_CreateRenderer(v->window, -1, 0);
    if (!v->window || !v->sdl) {
        fprintf(stderr, "csplat view: cannot open a window: %s\n", SDL_GetError());
        return CLI_FAILURE;
    }
    return CLI_OK;
}

/* The event loop, interactive or scripted. */
static int run(viewer *v, script *s) {
    bool quit = false, failed = false, dirty = true;
    double last_tick = cli_now();
    if (s) {
        s->t_start = cli_now();
        script_post(v, s);
    } else {
        post_view(v, false);
    }
    while (!quit && !failed) {
        bool flying = !s && fly_keys_held();
        bool moved = false, jumped = false;
        SDL_Event e;
        int got = SDL_WaitEventTimeout(&e, flying ? 5 : 100);
        while (got) {
            if (e.type == SDL_QUIT) {
                quit = true;
            } else if (e.type == v->wake_event) {
                /* handled below */
            } else if (e.type == SDL_WINDOWEVENT) {
                if (e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED && !s) moved = true;
                dirty = true;
            } else if (!s && e.type == SDL_KEYDOWN) {
                jumped |= on_key(v, &e.key, &quit);
            } else if (s && e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_ESCAPE) {
                quit = true;
            } else if (!s && e.type == SDL_MOUSEMOTION) {
                moved |= on_drag(v, &e.motion);
            } else if (!s && e.type == SDL_MOUSEWHEEL) {
                int notches = e.wheel.y;
                if (e.wheel.direction == SDL_MOUSEWHEEL_FLIPPED) notches = -notches;
                if (notches) {
                    cs__view_zoom(&v->view, powf(WHEEL_FACTOR, (float)notches));
                    moved = true;
                }
            }
            got = SDL_PollEvent(&e);
        }
        double now = cli_now();
        if (!s) moved |= fly(v, now - last_tick);
        last_tick = now;
        if (jumped)
            post_view(v, false);
        else if (moved)
            post_view(v, true);

        char text[4700];
        view_message_kind kind;
        while ((kind = view_renderer_message(v->vr, text, sizeof text)) != VIEW_MESSAGE_NONE) {
            if (kind == VIEW_MESSAGE_FATAL) {
                fprintf(stderr, "csplat: %s\n", text);
                failed = true;
            } else if (kind == VIEW_MESSAGE_SAVED) {
                if (s) {
                    quit = true;
                } else {
                    char line[4800];
                    snprintf(line, sizeof line, "saved %s", text);
                    fprintf(stderr, "csplat view: %s\n", line);
                    set_message(v, line);
                }
            } else {
                fprintf(stderr, "csplat view: screenshot failed: %s\n", text);
                if (s) failed = true;
                set_message(v, "screenshot failed");
            }
        }
        if (view_renderer_take(v->vr, &v->shown)) {
            /* Post the next scripted frame first so the thread renders while this one shows. */
            if (s && script_frame(v, s)) quit = true;
            upload_frame(v, &failed);
            dirty = true;
        }
        dirty |= update_overlay(v);
        if (dirty && !failed) present(v);
        dirty = false;
    }
    if (s && !failed && !(s->shot ? s->shot_sent : s->next == s->frames)) {
        fprintf(stderr, "csplat view: interrupted before the last frame\n");
        failed = true;
    }
    if (s && !failed) script_report(s);
    return failed ? CLI_FAILURE : CLI_OK;
}

int cmd_view(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    view_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) return rc;
    /* Fail before loading a large scene when there is no display at all. */
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr,
                "csplat view: cannot open a window: %s\n"
                "(no display? set DISPLAY, or run under xvfb-run for the scripted mode)\n",
                SDL_GetError());
        return CLI_FAILURE;
    }
    /* With no display SDL falls back to its offscreen driver: fine for stills, but an interactive
     * window nobody can see would just hang, so say so unless the user chose that driver. */
    const char *driver = SDL_GetCurrentVideoDriver();
    if (!a.frames && driver && !getenv("SDL_VIDEODRIVER") &&
        (strcmp(driver, "offscreen") == 0 || strcmp(driver, "dummy") == 0)) {
        fprintf(stderr,
                "csplat view: cannot open a window: no display (SDL found only its '%s' "
                "driver)\n"
                "Set DISPLAY or WAYLAND_DISPLAY, or make stills with --frames N "
                "--screenshot OUT.png.\n",
                driver);
        SDL_Quit();
        return CLI_FAILURE;
    }
    viewer v;
    memset(&v, 0, sizeof v);
    v.camera_index = -1;
    cs_context *ctx = cli_context((int)a.threads);
    rc = ctx ? load(&v, ctx, &a) : CLI_FAILURE;
    /* Linear filtering when a reduced frame is stretched to the window (set before textures). */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    if (rc == CLI_OK) rc = open_window(&v, &a);
    if (rc == CLI_OK) {
        v.wake_event = SDL_RegisterEvents(1);
        reset_view(&v);
        view_renderer_desc d = {.ctx = ctx,
                                .scene = v.scene,
                                .moving_scale = a.moving_scale,
                                /* 30 on screen: the render thread times only its
                                 * renders, and presenting a frame takes about a fifth
                                 * of the budget on 2 cores (measured on the garden) */
                                .target_fps = 36,
                                .settle_s = SETTLE_S,
                                .notify = wake_main,
                                .user = &v.wake_event};
        char err[256];
        v.vr = view_renderer_start(&d, err, sizeof err);
        if (!v.vr) {
            fprintf(stderr, "csplat %s\n", err);
            rc = CLI_FAILURE;
        }
    }
    if (rc == CLI_OK) {
        script s = {.frames = (int)a.frames,
                    .width = (int)a.width,
                    .height = (int)a.height,
                    .shot = a.shot};
        if (!a.frames)
            fputs("csplat view: drag to orbit, right-drag to pan, wheel to zoom, WASD/QE to fly; "
                  "`csplat view --help` lists the keys\n",
                  stderr);
        rc = run(&v, a.frames ? &s : NULL);
    }
    view_renderer_stop(v.vr);
    view_frame_free(&v.shown);
    if (v.frame_tex) SDL_DestroyTexture(v.frame_tex);
    if (v.text_tex) SDL_DestroyTexture(v.text_tex);
    if (v.sdl) SDL_DestroyRenderer(v.sdl);
    if (v.window) SDL_DestroyWindow(v.window);
    SDL_Quit();
    cs_camera_set_destroy(v.cameras);
    cs_scene_destroy(v.scene);
    cs_context_destroy(ctx);
    return rc;
}
