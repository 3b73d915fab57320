/*
 * cmd_render.c - `csplat render`: render a scene (any format cs_scene_load reads) through
 * cameras from a camera set (Inria cameras.json, COLMAP model, transforms.json), or along a
 * turntable orbit, to PNG files; optionally depth maps and an .mp4 of the orbit.
 *
 * Outputs: RGB as 8-bit PNG (values clamped to [0, 1], no gamma, as DESIGN.md says colours are
 * stored). Depth as a 16-bit grayscale PNG: the expected depth of pixels where something was drawn
 * mapped linearly from [min, max] of those depths to [1, 65535]; 0 where nothing was drawn; the
 * range is printed. Files are written atomically by cs_image_save_png.
 */
#include "cli.h"
#include "orbit.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char help[] =
    "usage: csplat render SCENE --cameras CAMS [--camera I | --all] -o OUT.png|DIR\n"
    "                     [--scale S] [--bg R,G,B] [--threads N] [--depth OUT.png|DIR]\n"
    "       csplat render SCENE [--cameras CAMS] --orbit N -o DIR [options]\n\n"
    "Render a Gaussian scene (.ply, .splat, ...) with the exact 3DGS rasterizer.\n\n"
    "  --cameras CAMS  an Inria cameras.json, a COLMAP model folder or a transforms.json\n"
    "  --camera I      the camera to render (default 0); -o names a .png file\n"
    "  --all           every camera; -o names a folder, files are named after the images\n"
    "  --orbit N       N views on a circle around the scene's centre, looking at it, written\n"
    "                  to DIR/frame_0000.png...; also DIR/orbit.mp4 when ffmpeg is installed.\n"
    "                  The circle follows the cameras (their up, distance and height) when\n"
    "                  given, else the scene's spread; intrinsics from --camera I, else\n"
    "                  960x540 with a 69 degree field of view\n"
    "  --scale S       scale the image size and intrinsics (0.5 = half resolution)\n"
    "  --bg R,G,B      background colour, each in [0, 1] (default 0,0,0)\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  --depth PATH    also write expected depth as 16-bit PNG, linear from the smallest to\n"
    "                  the largest drawn depth (0 = nothing drawn); a folder for many views\n";

typedef struct render_opts {
    const char *scene, *cameras, *out, *depth;
    long camera, orbit, threads;
    bool all;
    float scale, bg[3];
} render_opts;

static int parse_args(int argc, char **argv, render_opts *o) {
    memset(o, 0, sizeof *o);
    o->scale = 1.0f;
    bool camera_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--all") == 0) {
            o->all = true;
        } else if (a[0] == '-' && a[1] && !has_value) {
            return cli_usage_error("render", "'%s' needs a value or is unknown", a);
        } else if (strcmp(a, "--cameras") == 0) {
            o->cameras = argv[++i];
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o->out = argv[++i];
        } else if (strcmp(a, "--depth") == 0) {
            o->depth = argv[++i];
        } else if (strcmp(a, "--camera") == 0) {
            if (!cli_parse_int(argv[++i], 0, INT32_MAX, &o->camera))
                return cli_usage_error("render", "--camera wants an index >= 0, not '%s'", argv[i]);
            camera_given = true;
        } else if (strcmp(a, "--orbit") == 0) {
            if (!cli_parse_int(argv[++i], 1, 1000000, &o->orbit))
                return cli_usage_error("render", "--orbit wants a view count >= 1, not '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(argv[++i], 1, 1024, &o->threads))
                return cli_usage_error("render", "--threads wants 1..1024, not '%s'", argv[i]);
        } else if (strcmp(a, "--scale") == 0) {
            if (!cli_parse_float(argv[++i], &o->scale) || !(o->scale > 0.0f) || o->scale > 64.0f)
                return cli_usage_error("render", "--scale wants a number in (0, 64], not '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--bg") == 0) {
            char rest[64];
            const char *v = argv[++i];
            if (sscanf(v, "%f,%f,%f%63s", &o->bg[0], &o->bg[1], &o->bg[2], rest) != 3 ||
                !isfinite(o->bg[0]) || !isfinite(o->bg[1]) || !isfinite(o->bg[2]))
                return cli_usage_error("render", "--bg wants R,G,B numbers, not '%s'", v);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("render", "unknown option '%s'", a);
        } else if (o->scene) {
            return cli_usage_error("render", "more than one SCENE given");
        } else {
            o->scene = a;
        }
    }
    if (!o->scene) return cli_usage_error("render", "missing SCENE");
    if (!o->out) return cli_usage_error("render", "missing -o OUT");
    if (o->all && (o->orbit || camera_given))
        return cli_usage_error("render", "--all does not combine with --orbit or --camera");
    if (!o->cameras && !o->orbit)
        return cli_usage_error("render", "give --cameras CAMS, or --orbit N for a turntable");
    bool many = o->all || o->orbit;
    size_t n = strlen(o->out);
    bool png = n > 4 && strcmp(o->out + n - 4, ".png") == 0;
    if (!many && !png) return cli_usage_error("render", "-o must name a .png file");
    if (many && png) return cli_usage_error("render", "-o must name a folder with --all/--orbit");
    return -1;
}

/* Create dir if missing (one level); false with errno set otherwise. */
static bool ensure_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return true;
        errno = ENOTDIR;
        return false;
    }
    return mkdir(dir, 0777) == 0;
}

/* "DIR/NAME.png" with NAME the image name without its extension, or frame_%04lld. */
static void frame_path(char *buf, size_t cap, const char *dir, const char *name, int64_t i) {
    char stem[1024];
    const char *base = strrchr(name, '/');
    snprintf(stem, sizeof stem, "%s", base ? base + 1 : name);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    if (stem[0]) snprintf(buf, cap, "%s/%s.png", dir, stem);
    else snprintf(buf, cap, "%s/frame_%04lld.png", dir, (long long)i);
}

/* Write the depth image as 16-bit PNG normalised to the drawn range. */
static cs_status save_depth(cs_context *ctx, cs_image *depth, const cs_image *alpha,
                            const char *path, float *lo_out, float *hi_out) {
    size_t n = (size_t)depth->width * (size_t)depth->height;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t q = 0; q < n; q++)
        if (alpha->data[q] > 0.0f) {
            lo = depth->data[q] < lo ? depth->data[q] : lo;
            hi = depth->data[q] > hi ? depth->data[q] : hi;
        }
    float span = hi > lo ? hi - lo : 1.0f;
    for (size_t q = 0; q < n; q++)
        depth->data[q] = alpha->data[q] > 0.0f
                             ? (1.0f + (depth->data[q] - lo) / span * 65534.0f) / 65535.0f
                             : 0.0f;
    *lo_out = lo <= hi ? lo : 0.0f;
    *hi_out = lo <= hi ? hi : 0.0f;
    return cs_image_save_png(ctx, depth, path, 16);
}

static bool on_path(const char *exe) {
    const char *path = getenv("PATH");
    if (!path) return false;
    char dir[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)len, path, exe);
        if (len && access(dir, X_OK) == 0) return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* DIR/orbit.mp4 from DIR/frame_%04d.png through ffmpeg (written to a temporary name, then
 * renamed). A missing ffmpeg is a note, not an error. */
static void encode_mp4(const char *dir) {
    if (!on_path("ffmpeg")) {
        fprintf(stderr, "csplat: ffmpeg is not installed; frames only, no orbit.mp4\n");
        return;
    }
    char pattern[4096], tmp[4096], final[4096];
    snprintf(pattern, sizeof pattern, "%s/frame_%%04d.png", dir);
    snprintf(tmp, sizeof tmp, "%s/orbit.tmp.%ld.mp4", dir, (long)getpid());
    snprintf(final, sizeof final, "%s/orbit.mp4", dir);
    char *args[] = {"ffmpeg", "-y", "-loglevel", "error", "-framerate", "30", "-i", pattern,
                    "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", tmp, NULL};
    pid_t pid;
    int status = 0;
    if (posix_spawnp(&pid, "ffmpeg", NULL, NULL, args, environ) != 0 ||
        waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        rename(tmp, final) != 0) {
        remove(tmp);
        fprintf(stderr, "csplat: ffmpeg failed; frames only, no orbit.mp4\n");
        return;
    }
    fprintf(stderr, "csplat: wrote %s\n", final);
}

static cs_camera scaled(cs_camera c, float s) {
    if (s == 1.0f) return c;
    c.width = (int)lroundf((float)c.width * s);
    c.height = (int)lroundf((float)c.height * s);
    c.fx *= s;
    c.fy *= s;
    c.cx *= s; /* pixel edges scale, so does the principal point */
    c.cy *= s;
    return c;
}

typedef struct render_run {
    cs_context *ctx;
    cs_renderer *renderer;
    cs_image rgb, alpha, depth;
    cs_render_options opt;
} render_run;

/* Render cam to rgb_path (and depth_path); returns CLI_OK or a failure already reported. */
static int render_one(render_run *run, cs_scene *scene, const cs_camera *cam,
                      const char *rgb_path, const char *depth_path, bool quiet) {
    cs_context *ctx = run->ctx;
    if (run->rgb.width != cam->width || run->rgb.height != cam->height) {
        cs_image_free(&run->rgb);
        cs_image_free(&run->alpha);
        cs_image_free(&run->depth);
        if (cs_image_alloc(ctx, cam->width, cam->height, 3, &run->rgb) != CS_OK ||
            cs_image_alloc(ctx, cam->width, cam->height, 1, &run->alpha) != CS_OK ||
            cs_image_alloc(ctx, cam->width, cam->height, 1, &run->depth) != CS_OK)
            return cli_fail(ctx);
    }
    if (cs_renderer_render(run->renderer, scene, cam, &run->opt, &run->rgb,
                           depth_path ? &run->alpha : NULL, depth_path ? &run->depth : NULL) !=
            CS_OK ||
        cs_image_save_png(ctx, &run->rgb, rgb_path, 8) != CS_OK)
        return cli_fail(ctx);
    float lo = 0, hi = 0;
    if (depth_path && save_depth(ctx, &run->depth, &run->alpha, depth_path, &lo, &hi) != CS_OK)
        return cli_fail(ctx);
    if (!quiet) {
        cs_render_stats s;
        cs_renderer_get_stats(run->renderer, &s);
        fprintf(stderr, "csplat: wrote %s (%dx%d, %lld of %lld Gaussians visible, %.1f ms)\n",
                rgb_path, cam->width, cam->height, (long long)s.visible, (long long)s.gaussians,
                s.ms_total);
        if (depth_path)
            fprintf(stderr, "csplat: wrote %s (depth %g..%g mapped to 1..65535)\n", depth_path,
                    (double)lo, (double)hi);
    }
    return CLI_OK;
}

int cmd_render(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    render_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    cs_context *ctx = cli_context((int)o.threads);
    if (!ctx) return CLI_FAILURE;
    cs_scene *scene = NULL;
    cs_camera_set *cams = NULL;
    render_run run = {.ctx = ctx, .opt = {.background = {o.bg[0], o.bg[1], o.bg[2]}}};
    rc = CLI_OK;
    if (cs_scene_load(ctx, o.scene, &scene) != CS_OK ||
        (o.cameras && cs_camera_set_load(ctx, o.cameras, &cams) != CS_OK) ||
        cs_renderer_create(ctx, NULL, &run.renderer) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    int64_t ncam = cams ? cs_camera_set_count(cams) : 0;
    if (cams && (ncam == 0 || o.camera >= ncam)) {
        rc = cli_usage_error("render", "%s has %lld cameras; --camera %ld is out of range",
                             o.cameras, (long long)ncam, o.camera);
        goto done;
    }
    bool many = o.all || o.orbit;
    if (many && (!ensure_dir(o.out) || (o.depth && !ensure_dir(o.depth)))) {
        fprintf(stderr, "csplat: cannot create folder %s: %s\n",
                errno == ENOTDIR ? o.out : (o.depth ? o.depth : o.out), strerror(errno));
        rc = CLI_FAILURE;
        goto done;
    }
    if (!many) {
        cs_camera cam = scaled(*cs_camera_set_camera(cams, o.camera), o.scale);
        rc = render_one(&run, scene, &cam, o.out, o.depth, false);
        goto done;
    }

    orbit_path path;
    cs_camera lens = {.width = 960, .height = 540, .fx = 700, .fy = 700, .cx = 480, .cy = 270};
    if (cams) lens = *cs_camera_set_camera(cams, o.camera);
    if (o.orbit && !orbit_plan(scene, cams, &path)) {
        fprintf(stderr, "csplat: %s: no finite Gaussian position to orbit around\n", o.scene);
        rc = CLI_FAILURE;
        goto done;
    }
    int64_t views = o.orbit ? o.orbit : ncam;
    cli_progress progress;
    cli_progress_begin(&progress, o.orbit ? "orbit" : "render", "views", views);
    char rgb_path[8192], depth_path[8192];
    for (int64_t i = 0; i < views && rc == CLI_OK; i++) {
        cs_camera cam = o.orbit ? orbit_camera(&path, i, views, &lens)
                                : *cs_camera_set_camera(cams, i);
        cam = scaled(cam, o.scale);
        const char *name = o.orbit ? "" : cs_camera_set_name(cams, i);
        frame_path(rgb_path, sizeof rgb_path, o.out, name, i);
        if (o.depth) frame_path(depth_path, sizeof depth_path, o.depth, name, i);
        rc = render_one(&run, scene, &cam, rgb_path, o.depth ? depth_path : NULL, true);
        cli_progress_update(&progress, i + 1, NULL);
    }
    if (rc == CLI_OK) {
        cli_progress_end(&progress, views, NULL);
        fprintf(stderr, "csplat: wrote %lld views to %s\n", (long long)views, o.out);
        if (o.orbit) encode_mp4(o.out);
    }
done:
    cs_image_free(&run.rgb);
    cs_image_free(&run.alpha);
    cs_image_free(&run.depth);
    cs_renderer_destroy(run.renderer);
    cs_camera_set_destroy(cams);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return rc;
}
