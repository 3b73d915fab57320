/*
 * test_view.c - the orbit every still and the viewer start from (cs_orbit_fit, cs_orbit_camera,
 * cs_orbit_frame), the viewer's camera controller (src/view_camera.c): orbit, pan, zoom, fly,
 * snap; and `csplat view` itself: its scripted mode under xvfb-run against a direct render of the
 * same camera through the library, and its exit status when no window can open.
 *
 * Expected values are hand-derived: medians and percentiles against a sorted copy, projections
 * through u = fx X/Z + cx, the orbit's geometry (distance radius / sin(fov/2), elevation angle),
 * and the controller's invariants (the pivot stays put while orbiting, a point at the pivot's
 * depth follows a pan by exactly the dragged pixels). The CLI tests need $CSPLAT_CLI (set by
 * `make unit-test`) and skip without it; the scripted test also skips without xvfb-run.
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

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

TEST(orbit_fit_center_radius_match_sorted_percentiles) {
    cs_context *ctx = test_context(1);
    const int n = 1001;
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, n + 1, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    test_rng rng = test_rng_seed(7);
    /* Many repeated values exercise the quickselect's equal-key handling. */
    for (int i = 0; i < 3 * n; i++) p.means[i] = (float)(test_rng_u32(&rng) % 50) * 0.5f - 3.0f;
    for (int a = 0; a < 3; a++) p.means[3 * n + a] = NAN; /* ignored */
    cs_orbit o;
    CHECK_OK(ctx, cs_orbit_fit(ctx, s, NULL, 0, &o));
    float col[1001], lo[3], hi[3];
    for (int a = 0; a < 3; a++) {
        for (int i = 0; i < n; i++) col[i] = p.means[3 * i + a];
        qsort(col, (size_t)n, sizeof *col, cmp_float);
        CHECK(o.center[a] == col[500]);
        lo[a] = col[50]; /* floor(0.05 * 1000) */
        hi[a] = col[950];
    }
    float d[3] = {hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]};
    CHECK_NEAR(o.radius, 0.5f * sqrtf(dot3(d, d)), 1e-5);
    CHECK_NEAR(o.elevation, 25 * PI / 180, 1e-6);
    CHECK_NEAR(o.fov, 50 * PI / 180, 1e-6);
    CHECK_NEAR(dot3(o.up, o.up), 1, 1e-5);
    CHECK_NEAR(dot3(o.start, o.up), 0, 1e-5);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(orbit_fit_up_from_points_and_cameras) {
    cs_context *ctx = test_context(1);
    const int n = 4000;
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, n, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    test_rng rng = test_rng_seed(3);
    /* A ground plane spread over x and z with a thin layer in y, plus objects rising towards -y
     * (OpenCV-style up), tilted by a rotation about x so the answer is not an axis. */
    float tilt = 0.3f, c = cosf(tilt), sn = sinf(tilt);
    for (int i = 0; i < n; i++) {
        float x = (float)test_rng_uniform(&rng) * 10 - 5,
              z = (float)test_rng_uniform(&rng) * 10 - 5;
        float y = (float)test_rng_normal(&rng) * 0.05f;
        if (i % 4 == 0) y -= (float)test_rng_uniform(&rng) * 2.0f;
        p.means[3 * i] = x;
        p.means[3 * i + 1] = c * y - sn * z;
        p.means[3 * i + 2] = sn * y + c * z;
    }
    cs_orbit o;
    CHECK_OK(ctx, cs_orbit_fit(ctx, s, NULL, 0, &o));
    float expect_up[3] = {0, -c, -sn};
    CHECK_MSG(dot3(o.up, expect_up) > 0.99f, "up (%g %g %g)", (double)o.up[0], (double)o.up[1],
              (double)o.up[2]);
    /* Without cameras start is the world axis least aligned with up (x here). */
    CHECK_NEAR(o.start[0], 1, 1e-5);

    /* Cameras decide up (their mean -y axis) and start (towards the first one). */
    cs_camera cams[2];
    memset(cams, 0, sizeof cams);
    float R[9] = {1, 0, 0, 0, 0, -1, 0, 1, 0}; /* down = -z: up = +z; forward = +y */
    for (int k = 0; k < 2; k++) memcpy(cams[k].R, R, sizeof R);
    /* centre (0, -8, 1): t = -R c */
    float cc[3] = {0, -8, 1};
    for (int r = 0; r < 3; r++) cams[0].t[r] = -dot3(R + 3 * r, cc);
    CHECK_OK(ctx, cs_orbit_fit(ctx, s, cams, 2, &o));
    CHECK_NEAR(o.up[0], 0, 1e-6);
    CHECK_NEAR(o.up[1], 0, 1e-6);
    CHECK_NEAR(o.up[2], 1, 1e-6);
    float toward[3] = {cc[0] - o.center[0], cc[1] - o.center[1], 0};
    float len = sqrtf(dot3(toward, toward));
    for (int a = 0; a < 3; a++) CHECK_NEAR(o.start[a], toward[a] / len, 1e-5);
    CHECK(cs_orbit_fit(ctx, s, NULL, 3, &o) == CS_ERR_ARGUMENT);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(orbit_fit_empty_scene_defaults) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 0, 0, &s));
    cs_orbit o;
    CHECK_OK(ctx, cs_orbit_fit(ctx, s, NULL, 0, &o));
    CHECK(o.center[0] == 0 && o.center[1] == 0 && o.center[2] == 0);
    CHECK(o.radius == 1 && o.up[1] == -1);
    cs_camera cam = cs_orbit_camera(&o, 0, 64, 48);
    check_rotation(cam.R);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(orbit_camera_geometry) {
    cs_orbit o = {.center = {1, 2, 3},
                  .up = {0, 0, 1},
                  .start = {1, 0, 0},
                  .radius = 2,
                  .elevation = 0.4f,
                  .fov = 1.0f};
    float d = 2 / sinf(0.5f);
    for (int i = 0; i < 8; i++) {
        float angle = 2 * PI * (float)i / 8;
        cs_camera cam = cs_orbit_camera(&o, angle, 640, 480);
        check_rotation(cam.R);
        float eye[3];
        center_of(&cam, eye);
        float expect[3] = {1 + d * cosf(0.4f) * cosf(angle), 2 + d * cosf(0.4f) * sinf(angle),
                           3 + d * sinf(0.4f)};
        for (int a = 0; a < 3; a++) CHECK_NEAR(eye[a], expect[a], 1e-4);
        /* The centre lands on the principal point; a point above it lands higher (smaller v). */
        float u, v, z;
        project(&cam, o.center, &u, &v, &z);
        CHECK_NEAR(u, 320, 1e-3);
        CHECK_NEAR(v, 240, 1e-3);
        CHECK_NEAR(z, d, 1e-4);
        float above[3] = {1, 2, 3.5f};
        project(&cam, above, &u, &v, &z);
        CHECK(v < 239);
        CHECK_NEAR(u, 320, 1e-3);
    }
    /* The shorter side (height 480) spans fov: tan(fov/2) = 240 / f. */
    cs_camera cam = cs_orbit_camera(&o, 0, 640, 480);
    CHECK_NEAR(cam.fy, 240 / tanf(0.5f), 1e-3);
    CHECK(cam.fx == cam.fy && cam.cx == 320 && cam.cy == 240 && cam.width == 640);
    cs_camera tall = cs_orbit_camera(&o, 0, 300, 900);
    CHECK_NEAR(tall.fx, 150 / tanf(0.5f), 1e-3);
    /* Frame 3 of 8 is the camera at 3/4 pi; frame 0 at angle 0. */
    cs_camera f3 = cs_orbit_frame(&o, 3, 8, 640, 480),
              a3 = cs_orbit_camera(&o, 0.75f * PI, 640, 480);
    for (int i = 0; i < 9; i++) CHECK_NEAR(f3.R[i], a3.R[i], 1e-6);
    cs_camera f0 = cs_orbit_frame(&o, 0, 8, 640, 480);
    CHECK(memcmp(&f0, &cam, sizeof cam) == 0);
}

static cs__view test_view(void) {
    cs_orbit o = {.center = {0, 0, 0},
                  .up = {0, -1, 0},
                  .start = {0, 0, -1},
                  .radius = 1,
                  .elevation = 0.3f,
                  .fov = 0.8f};
    cs__view v;
    cs__view_from_orbit(&v, &o, 0.7f);
    return v;
}

static void pivot_of(const cs__view *v, float out[3]) {
    for (int a = 0; a < 3; a++) out[a] = v->eye[a] + v->dist * v->R[6 + a];
}

TEST(view_from_orbit_matches_orbit_camera) {
    cs_orbit o = {.center = {0.5f, 0, 1},
                  .up = {0, -1, 0},
                  .start = {0, 0, -1},
                  .radius = 3,
                  .elevation = 0.3f,
                  .fov = 0.8f};
    cs__view v;
    cs__view_from_orbit(&v, &o, 1.1f);
    cs_camera a = cs_orbit_camera(&o, 1.1f, 960, 540), b = cs__view_camera(&v, 960, 540);
    for (int i = 0; i < 9; i++) CHECK_NEAR(a.R[i], b.R[i], 1e-6);
    for (int i = 0; i < 3; i++) CHECK_NEAR(a.t[i], b.t[i], 1e-5);
    CHECK_NEAR(a.fx, b.fx, 1e-3);
    CHECK(a.cx == b.cx && a.cy == b.cy && b.width == 960 && b.height == 540);
    float pivot[3];
    pivot_of(&v, pivot);
    for (int i = 0; i < 3; i++) CHECK_NEAR(pivot[i], o.center[i], 1e-5);
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
    cs_orbit o = {.center = {0, 0, 0},
                  .up = {0, 0, 1},
                  .start = {0.6f, 0.8f, 0},
                  .radius = 2,
                  .elevation = -0.2f,
                  .fov = 0.7f};
    cs_camera cam = cs_orbit_camera(&o, 2.0f, 648, 420);
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

TEST(view_scripted_screenshot_matches_direct_render) {
    if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))
        SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");
    if (system("command -v xvfb-run >/dev/null 2>&1") != 0)
        SKIP("xvfb-run is not installed (Debian package xvfb)");
    cs_context *ctx = test_context(2);
    cs_scene *s = random_scene(ctx);
    char scene[4096], shot[4096], args[16384], log[8192];
    snprintf(scene, sizeof scene, "%s", test_tmp("view_scene.ply"));
    snprintf(shot, sizeof shot, "%s", test_tmp("view_shot.png"));
    CHECK_OK(ctx, cs_scene_save(ctx, s, scene));
    snprintf(args, sizeof args, "'%s' --frames 5 --screenshot '%s' --width 200 --height 120", scene,
             shot);
    int rc = run_view("xvfb-run -a", args, log, sizeof log);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log);
    CHECK_MSG(strstr(log, "FPS") != NULL, "no frame rate reported: %s", log);

    /* The same camera rendered directly: frame 4 of 5 on the fitted orbit, black background. */
    cs_orbit o;
    CHECK_OK(ctx, cs_orbit_fit(ctx, s, NULL, 0, &o));
    cs_camera cam = cs_orbit_frame(&o, 4, 5, 200, 120);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs_image direct, saved = {0};
    CHECK_OK(ctx, cs_image_alloc(ctx, 200, 120, 3, &direct));
    CHECK_OK(ctx, cs_renderer_render(r, s, &cam, NULL, &direct, NULL, NULL));
    if (rc == 0) CHECK_OK(ctx, cs_image_load(ctx, shot, &saved));
    if (saved.data) {
        CHECK(saved.width == 200 && saved.height == 120 && saved.channels == 3);
        /* The same floats rounded to 8 bits: every level equal. */
        int off = 0;
        double sum = 0;
        for (int i = 0; i < 200 * 120 * 3; i++) {
            float v = direct.data[i] < 0 ? 0 : direct.data[i] > 1 ? 1 : direct.data[i];
            off += lroundf(saved.data[i] * 255) != lroundf(v * 255);
            sum += (double)v;
        }
        CHECK_MSG(off == 0, "%d of %d values differ", off, 200 * 120 * 3);
        CHECK_MSG(sum > 200 * 120 * 3 * 0.02, "the view shows almost nothing (mean %g)",
                  sum / (200 * 120 * 3));
    }
    cs_image_free(&saved);
    cs_image_free(&direct);
    cs_renderer_destroy(r);
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
