/*
 * test_view.c - the viewer's camera controller (src/view_camera.c): orbit, pan, zoom, fly, snap;
 * and `csplat view` itself: its scripted mode under xvfb-run (exit status, frame rate line, the
 * still's size and content) and its exit status when no window can open. That the scripted still
 * equals `csplat render --orbit` is tests/view_check.sh's job (`make test`).
 *
 * Expected values are hand-derived: projections through u = fx X/Z + cx and the controller's
 * invariants (the pivot stays put while orbiting, a point at the pivot's depth follows a pan by
 * exactly the dragged pixels, a snapped view reproduces its camera). The CLI tests need
 * $CSPLAT_CLI (set by `make unit-test`) and skip without it; the scripted one also skips without
 * xvfb-run.
 */
#include "internal.h"
#include "test.h"
#include "view_camera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const float PI = 3.14159265f;

static void project(const cs_camera *c, const float p[3], float *u, float *v, float *z) {
    float x[3];
    for (int r = 0; r < 3; r++)
        x[r] = c->R[3 * r] * p[0] + c->R[3 * r + 1] * p[1] + c->R[3 * r + 2] * p[2] + c->t[r];
    *z = x[2];
    *u = c->fx * x[0] / x[2] + c->cx;
    *v = c->fy * x[1] / x[2] + c->cy;
}

static void center_of(const cs_camera *c, float out[3]) {
    for (int a = 0; a < 3; a++)
        out[a] = -(c->R[a] * c->t[0] + c->R[3 + a] * c->t[1] + c->R[6 + a] * c->t[2]);
}

static float dot3(const float *a, const float *b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static float dist3(const float *a, const float *b) {
    float d[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    return sqrtf(dot3(d, d));
}

/* R R^T = I and det R = +1 (a rotation, right-handed OpenCV frame). */
static void check_rotation(const float R[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) CHECK_NEAR(dot3(R + 3 * i, R + 3 * j), i == j, 1e-5);
    float det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                R[2] * (R[3] * R[7] - R[4] * R[6]);
    CHECK_NEAR(det, 1, 1e-5);
}

/* A pinhole camera at eye looking at target with the image's -y along up (OpenCV axes). */
static cs_camera look_at(const float eye[3], const float target[3], const float up[3], int width,
                         int height, float focal) {
    cs_camera c;
    memset(&c, 0, sizeof c);
    float f[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]};
    float n = sqrtf(dot3(f, f));
    for (int a = 0; a < 3; a++) f[a] /= n;
    float r[3] = {f[1] * up[2] - f[2] * up[1], f[2] * up[0] - f[0] * up[2],
                  f[0] * up[1] - f[1] * up[0]};
    n = sqrtf(dot3(r, r));
    for (int a = 0; a < 3; a++) r[a] /= n;
    float d[3] = {f[1] * r[2] - f[2] * r[1], f[2] * r[0] - f[0] * r[2], f[0] * r[1] - f[1] * r[0]};
    for (int a = 0; a < 3; a++) {
        c.R[a] = r[a];
        c.R[3 + a] = d[a];
        c.R[6 + a] = f[a];
    }
    for (int row = 0; row < 3; row++) c.t[row] = -dot3(c.R + 3 * row, eye);
    c.fx = c.fy = focal;
    c.cx = 0.5f * (float)width;
    c.cy = 0.5f * (float)height;
    c.width = width;
    c.height = height;
    return c;
}

/* A level view of the origin from 3 units away, up = -y (OpenCV's usual world), radius 1. */
static cs__view test_view(void) {
    cs__view v;
    memset(&v, 0, sizeof v);
    v.up[1] = -1;
    v.radius = 1;
    float eye[3] = {2.4f, -0.9f, -1.5f}, target[3] = {0, 0, 0};
    cs_camera cam = look_at(eye, target, v.up, 800, 600, 700);
    cs__view_snap(&v, &cam, target);
    return v;
}

static void pivot_of(const cs__view *v, float out[3]) {
    for (int a = 0; a < 3; a++) out[a] = v->eye[a] + v->dist * v->R[6 + a];
}

TEST(view_orbit_keeps_pivot_and_turns_the_right_way) {
    cs__view v = test_view();
    float pivot[3], eye0[3], right0[3];
    pivot_of(&v, pivot);
    memcpy(eye0, v.eye, sizeof eye0);
    memcpy(right0, v.R, sizeof right0);
    cs__view_orbit(&v, 0.1f, 0);
    float moved[3] = {v.eye[0] - eye0[0], v.eye[1] - eye0[1], v.eye[2] - eye0[2]}, p2[3];
    CHECK(dot3(moved, right0) > 0);         /* positive yaw: eye to the right */
    CHECK_NEAR(dot3(moved, v.up), 0, 1e-5); /* yaw keeps the height */
    pivot_of(&v, p2);
    for (int a = 0; a < 3; a++) CHECK_NEAR(p2[a], pivot[a], 1e-5);
    CHECK_NEAR(dist3(v.eye, pivot), v.dist, 1e-5);
    /* Positive pitch raises forward by that angle (level camera, away from the clamp). */
    float before = asinf(dot3(v.R + 6, v.up));
    cs__view_orbit(&v, 0, 0.2f);
    CHECK_NEAR(asinf(dot3(v.R + 6, v.up)), before + 0.2f, 1e-4);
    pivot_of(&v, p2);
    for (int a = 0; a < 3; a++) CHECK_NEAR(p2[a], pivot[a], 1e-5);
    check_rotation(v.R);
    /* The clamp holds forward at 85 degrees, both ways, with the horizon still level. */
    cs__view_orbit(&v, 0, 10);
    CHECK_NEAR(asinf(dot3(v.R + 6, v.up)), 85 * PI / 180, 1e-3);
    cs__view_orbit(&v, 0, -20);
    CHECK_NEAR(asinf(dot3(v.R + 6, v.up)), -85 * PI / 180, 1e-3);
    CHECK_NEAR(dot3(v.R, v.up), 0, 1e-5);
    /* A full turn in many small steps comes back (no drift). */
    cs__view w = test_view();
    for (int i = 0; i < 1000; i++) cs__view_orbit(&w, 2 * PI / 1000, 0);
    cs__view w0 = test_view();
    for (int a = 0; a < 3; a++) CHECK_NEAR(w.eye[a], w0.eye[a], 1e-3);
    for (int i = 0; i < 9; i++) CHECK_NEAR(w.R[i], w0.R[i], 1e-3);
}

TEST(view_pan_follows_the_cursor) {
    cs__view v = test_view();
    float pivot[3], u0, v0, z, u1, v1;
    pivot_of(&v, pivot);
    cs_camera cam = cs__view_camera(&v, 800, 600);
    project(&cam, pivot, &u0, &v0, &z);
    cs__view_pan(&v, 30, -12, 600);
    cam = cs__view_camera(&v, 800, 600);
    project(&cam, pivot, &u1, &v1, &z);
    CHECK_NEAR(u1 - u0, 30, 1e-3);
    CHECK_NEAR(v1 - v0, -12, 1e-3);
}

TEST(view_zoom_and_fly) {
    cs__view v = test_view();
    float pivot[3], p2[3];
    pivot_of(&v, pivot);
    float d0 = v.dist;
    cs__view_zoom(&v, 0.5f);
    CHECK_NEAR(v.dist, 0.5f * d0, 1e-6);
    pivot_of(&v, p2);
    for (int a = 0; a < 3; a++) CHECK_NEAR(p2[a], pivot[a], 1e-5);
    /* Down at the closest distance, zooming in moves eye and pivot on by 0.1 radius * (1 - f). */
    v.dist = 0.02f * v.radius;
    float eye0[3];
    memcpy(eye0, v.eye, sizeof eye0);
    cs__view_zoom(&v, 0.8f);
    CHECK_NEAR(v.dist, 0.02f * v.radius, 1e-7);
    CHECK_NEAR(dist3(v.eye, eye0), 0.02f * v.radius, 1e-6);
    memcpy(eye0, v.eye, sizeof eye0);
    cs__view_fly(&v, 1, 2, 3);
    for (int a = 0; a < 3; a++)
        CHECK_NEAR(v.eye[a], eye0[a] + v.R[6 + a] + 2 * v.R[a] + 3 * v.up[a], 1e-5);
}

TEST(view_snap_reproduces_the_dataset_camera) {
    cs__view v = test_view();
    float from[3] = {-1.2f, 0.4f, 3.0f}, at[3] = {0.3f, 0, 0.2f}, up[3] = {0, 0, 1};
    cs_camera cam = look_at(from, at, up, 648, 420, 480);
    cam.fy *= 1.1f; /* a focal length different from the view's */
    float target[3] = {0.1f, 0.2f, 0.3f};
    cs__view_snap(&v, &cam, target);
    cs_camera back = cs__view_camera(&v, 648, 420);
    for (int i = 0; i < 9; i++) CHECK_NEAR(back.R[i], cam.R[i], 1e-6);
    for (int i = 0; i < 3; i++) CHECK_NEAR(back.t[i], cam.t[i], 1e-5);
    CHECK_NEAR(back.fy, cam.fy, 1e-3);
    /* At another window height the vertical field of view is kept. */
    CHECK_NEAR(cs__view_camera(&v, 960, 540).fy, cam.fy * 540 / 420, 1e-3);
    /* The pivot is the point of the axis nearest the target. */
    float eye[3], to[3];
    center_of(&cam, eye);
    for (int a = 0; a < 3; a++) to[a] = target[a] - eye[a];
    CHECK_NEAR(v.dist, dot3(to, cam.R + 6), 1e-5);
}

/* Run `$CSPLAT_CLI args` (through `prefix`, e.g. xvfb-run) with stdout and stderr in files under
 * the test folder; returns the exit code, -1 when it did not exit normally. */
static int run_view(const char *prefix, const char *args, char *log, size_t log_len) {
    char cmd[8192], out[4096];
    snprintf(out, sizeof out, "%s", test_tmp("view.log"));
    /* Under SAN=address, LeakSanitizer must not blame csplat for libdbus's connection. */
    const char *lsan = getenv("LSAN_OPTIONS");
    snprintf(cmd, sizeof cmd,
             "LSAN_OPTIONS='suppressions=tests/view_lsan.supp%s%s' %s '%s' view %s >'%s' 2>&1",
             lsan ? ":" : "", lsan ? lsan : "", prefix, getenv("CSPLAT_CLI"), args, out);
    int status = system(cmd);
    size_t len = 0;
    unsigned char *b = test_read_file(out, &len);
    snprintf(log, log_len, "%s", b ? (const char *)b : "");
    free(b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A scene of 400 Gaussians of SH degree 1 in a box, varied sizes, colours and opacities. */
static cs_scene *random_scene(cs_context *ctx) {
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 400, 1, &s));
    cs_scene_params p = cs_scene_get_params(s);
    test_rng rng = test_rng_seed(11);
    for (int i = 0; i < 400; i++) {
        for (int a = 0; a < 3; a++) {
            p.means[3 * i + a] = (float)test_rng_uniform(&rng) * (a == 1 ? 0.5f : 2.0f) - 1.0f;
            p.log_scales[3 * i + a] = (float)test_rng_uniform(&rng) * 1.5f - 3.5f;
        }
        for (int a = 0; a < 4; a++) p.quats[4 * i + a] = (float)test_rng_normal(&rng);
        p.opacities[i] = (float)test_rng_normal(&rng) + 1.0f;
        for (int c = 0; c < 12; c++) p.sh[12 * i + c] = (float)test_rng_normal(&rng) * 0.5f;
    }
    return s;
}

TEST(view_scripted_mode_writes_the_still) {
    if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))
        SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");
    if (system("command -v xvfb-run >/dev/null 2>&1") != 0)
        SKIP("xvfb-run is not installed (Debian package xvfb)");
    cs_context *ctx = test_context(1);
    cs_scene *s = random_scene(ctx);
    char scene[4096], shot[4096], args[16384], log[8192];
    snprintf(scene, sizeof scene, "%s", test_tmp("view_scene.ply"));
    snprintf(shot, sizeof shot, "%s", test_tmp("view_shot.png"));
    CHECK_OK(ctx, cs_scene_save(ctx, s, scene));
    snprintf(args, sizeof args,
             "'%s' --frames 5 --screenshot '%s' --width 200 --height 120 --threads 2", scene,
             shot);
    int rc = run_view("xvfb-run -a", args, log, sizeof log);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log);
    /* "view: 4 moving frames in T s: F FPS at a mean WxH; last frame 200x120 in M ms ..." */
    CHECK_MSG(strstr(log, "4 moving frames") && strstr(log, "FPS") &&
                  strstr(log, "last frame 200x120"),
              "unexpected report: %s", log);
    cs_image saved = {0};
    if (rc == 0) CHECK_OK(ctx, cs_image_load(ctx, shot, &saved));
    if (saved.data) {
        CHECK(saved.width == 200 && saved.height == 120 && saved.channels == 3);
        /* The Gaussians sit at the orbit's centre: the middle of the still is not background. */
        double centre = 0, border = 0;
        for (int y = 0; y < 120; y++)
            for (int x = 0; x < 200; x++)
                for (int c = 0; c < 3; c++) {
                    double v = saved.data[3 * (y * 200 + x) + c];
                    if (x >= 80 && x < 120 && y >= 40 && y < 80) centre += v;
                    if (y < 4) border += v;
                }
        CHECK_MSG(centre / (40 * 40 * 3) > 0.05, "centre mean %g", centre / (40 * 40 * 3));
        CHECK_MSG(border / (200 * 4 * 3) < centre / (40 * 40 * 3), "border %g", border);
    }
    /* No frame count: usage error, nothing written. */
    CHECK(run_view("xvfb-run -a", "--frames", log, sizeof log) == 2);
    cs_image_free(&saved);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(view_without_display_fails_cleanly) {
    if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))
        SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");
    char scene[4096], args[8192], log[8192];
    snprintf(scene, sizeof scene, "%s", test_tmp("view_empty.ply"));
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 1, 0, &s));
    CHECK_OK(ctx, cs_scene_save(ctx, s, scene));
    snprintf(args, sizeof args, "'%s'", scene);
    /* X11 forced with no server to talk to: SDL cannot initialise video. */
    int rc =
        run_view("env -u DISPLAY -u WAYLAND_DISPLAY SDL_VIDEODRIVER=x11", args, log, sizeof log);
    CHECK_MSG(rc == 1 && strstr(log, "cannot open a window"), "exit %d: %s", rc, log);
    /* No display and SDL's own choice (its offscreen fallback): still refused, interactively. */
    rc = run_view("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER", args, log, sizeof log);
    CHECK_MSG(rc == 1 && strstr(log, "cannot open a window"), "exit %d: %s", rc, log);
    /* Bad usage is exit 2. */
    CHECK(run_view("", "--frames 0 x.ply", log, sizeof log) == 2);
    CHECK(run_view("", "", log, sizeof log) == 2);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}
