/*
 * test_cli_render.c - `csplat render` as scripts use it: one camera against an in-process render
 * of the same view, --all with files named after the images, --scale, --bg, --depth (16-bit,
 * zero exactly where nothing was drawn), --orbit with and without cameras and its .mp4 through
 * ffmpeg (a stand-in script), and the exit codes (2 bad usage, 1 runtime failure). The binary
 * comes from $CSPLAT_CLI (`make unit-test`).
 */
#include "render_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEED_CLI()                                                                                \
    do {                                                                                          \
        if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))                                      \
            SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");                         \
    } while (0)

/* Run `$CSPLAT_CLI render ARGS` in the test folder, output discarded, with path_dir (may be
 * NULL) in front of PATH; the exit code. */
static int run_render_path(const char *path_dir, const char *args) {
    char cmd[16384], cwd[4096], cli[4096 + 8], path[4200] = "";
    const char *env = getenv("CSPLAT_CLI");
    /* the command runs in the test folder: make a relative binary path absolute */
    if (env[0] != '/' && getcwd(cwd, sizeof cwd)) snprintf(cli, sizeof cli, "%s/%s", cwd, env);
    else snprintf(cli, sizeof cli, "%s", env);
    if (path_dir) snprintf(path, sizeof path, "PATH='%s':\"$PATH\" ", path_dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s'%s' render %s >/dev/null 2>render.stderr",
             test_tmpdir(), path, cli, args);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_render(const char *args) {
    return run_render_path(NULL, args);
}

/* A random scene saved as scene.ply and two cameras as cameras.json in the test folder. */
static void write_inputs(cs_context *ctx, cs_camera cams[2]) {
    float eye0[3] = {0, -6, 1}, eye1[3] = {4, -4, 2}, target[3] = {0, 0, 0};
    cams[0] = fixture_camera(96, 64, 90.0f, eye0, target, 0.0f, 0.0f);
    cams[1] = fixture_camera(80, 60, 70.0f, eye1, target, 0.0f, 0.0f);
    cs_scene *scene = fixture_random_scene(ctx, &cams[0], 1500, 2, 77);
    CHECK_OK(ctx, cs_scene_save(ctx, scene, test_tmp("scene.ply")));
    cs_scene_destroy(scene);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_create(ctx, &set));
    CHECK_OK(ctx, cs_camera_set_add(set, &cams[0], "first.jpg", NULL));
    CHECK_OK(ctx, cs_camera_set_add(set, &cams[1], "second.jpg", NULL));
    CHECK_OK(ctx, cs_camera_set_save(ctx, set, test_tmp("cameras.json")));
    cs_camera_set_destroy(set);
}

TEST(cli_render_camera_matches_library) {
    NEED_CLI();
    cs_context *ctx = test_context(1);
    cs_camera cams[2];
    write_inputs(ctx, cams);
    CHECK(run_render("scene.ply --cameras cameras.json --camera 1 -o one.png --bg 0.2,0.4,0.6 "
                     "--depth depth.png --threads 2") == 0);
    /* The same view in-process, from the files the CLI read (cameras.json stores the pose as
     * position + rotation, so rebuild the camera the same way). */
    cs_scene *scene;
    cs_camera_set *set;
    CHECK_OK(ctx, cs_scene_load(ctx, test_tmp("scene.ply"), &scene));
    CHECK_OK(ctx, cs_camera_set_load(ctx, test_tmp("cameras.json"), &set));
    const cs_camera *cam = cs_camera_set_camera(set, 1);
    cs_image want = fixture_image(cam->width, cam->height, 3), alpha = fixture_image(80, 60, 1);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs_render_options opt = {.background = {0.2f, 0.4f, 0.6f}};
    CHECK_OK(ctx, cs_renderer_render(r, scene, cam, &opt, &want, &alpha, NULL));
    cs_image got = {0}, depth = {0};
    CHECK_OK(ctx, cs_image_load(ctx, test_tmp("one.png"), &got));
    CHECK_OK(ctx, cs_image_load(ctx, test_tmp("depth.png"), &depth));
    CHECK(got.width == 80 && got.height == 60 && got.channels == 3);
    CHECK(depth.width == 80 && depth.height == 60 && depth.channels == 1);
    if (got.data && depth.data && got.width == 80 && depth.width == 80) {
        double worst = 0;
        int depth_bad = 0, drawn = 0;
        for (int q = 0; q < 80 * 60; q++) {
            for (int c = 0; c < 3; c++) {
                double v = fmin(1.0, fmax(0.0, (double)want.data[3 * q + c]));
                worst = fmax(worst, fabs(v - (double)got.data[3 * q + c]));
            }
            drawn += alpha.data[q] > 0.0f;
            depth_bad += (alpha.data[q] > 0.0f) != (depth.data[q] > 0.0f);
        }
        CHECK_MSG(worst <= 0.5 / 255 + 1e-6, "8-bit PNG differs from the render by %g", worst);
        CHECK(drawn > 1000 && depth_bad == 0);
    }
    cs_image_free(&got);
    cs_image_free(&depth);
    fixture_image_free(&want);
    fixture_image_free(&alpha);
    cs_renderer_destroy(r);
    cs_camera_set_destroy(set);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

TEST(cli_render_all_scale_and_orbit) {
    NEED_CLI();
    cs_context *ctx = test_context(1);
    cs_camera cams[2];
    write_inputs(ctx, cams);
    CHECK(run_render("scene.ply --cameras cameras.json --all --scale 0.5 -o all") == 0);
    cs_image im = {0};
    CHECK_OK(ctx, cs_image_load(ctx, test_tmp("all/first.png"), &im));
    CHECK(im.width == 48 && im.height == 32);
    cs_image_free(&im);
    CHECK_OK(ctx, cs_image_load(ctx, test_tmp("all/second.png"), &im));
    CHECK(im.width == 40 && im.height == 30);
    cs_image_free(&im);
    /* a turntable without cameras (default lens 960x540, here halved) and with them */
    CHECK(run_render("scene.ply --orbit 3 --scale 0.5 -o orbit") == 0);
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "orbit/frame_%04d.png", i);
        CHECK_OK(ctx, cs_image_load(ctx, test_tmp(name), &im));
        CHECK(im.width == 480 && im.height == 270);
        cs_image_free(&im);
    }
    CHECK(run_render("scene.ply --cameras cameras.json --orbit 2 -o orbit2") == 0);
    CHECK_OK(ctx, cs_image_load(ctx, test_tmp("orbit2/frame_0001.png"), &im));
    CHECK(im.width == 96 && im.height == 64); /* the lens of camera 0 */
    /* the scene is in view: not all background */
    double sum = 0;
    for (int q = 0; im.data && q < 96 * 64 * 3; q++) sum += (double)im.data[q];
    CHECK(sum > 10);
    cs_image_free(&im);
    cs_context_destroy(ctx);
}

TEST(cli_render_exit_codes) {
    NEED_CLI();
    cs_context *ctx = test_context(1);
    cs_camera cams[2];
    write_inputs(ctx, cams);
    CHECK(run_render("scene.ply --cameras cameras.json") == 2);                 /* no -o */
    CHECK(run_render("scene.ply -o x.png") == 2);                               /* no cameras */
    CHECK(run_render("scene.ply --cameras cameras.json --camera 2 -o x.png") == 2);
    CHECK(run_render("scene.ply --cameras cameras.json -o x.png --bg 1,2") == 2);
    CHECK(run_render("scene.ply --cameras cameras.json -o x.png --frobnicate") == 2);
    CHECK(run_render("scene.ply --cameras cameras.json --all -o x.png") == 2);  /* needs a folder */
    CHECK(run_render("missing.ply --cameras cameras.json -o x.png") == 1);
    CHECK(run_render("scene.ply --cameras missing.json -o x.png") == 1);
    cs_context_destroy(ctx);
}

/* --orbit hands the frames to ffmpeg when it is on PATH and renames its output to orbit.mp4;
 * a stand-in ffmpeg script checks the arguments and writes the file it is asked for. */
TEST(cli_render_orbit_mp4_through_ffmpeg) {
    NEED_CLI();
    cs_context *ctx = test_context(1);
    cs_camera cams[2];
    write_inputs(ctx, cams);
    char script[4200], bin[4096];
    snprintf(bin, sizeof bin, "%s", test_tmp("fakebin"));
    CHECK(mkdir(bin, 0700) == 0);
    snprintf(script, sizeof script, "%s/ffmpeg", bin);
    static const char body[] =
        "#!/bin/sh\n"
        "# the last argument is the output; the frames pattern follows -i\n"
        "for a in \"$@\"; do out=\"$a\"; done\n"
        "case \"$*\" in *frame_%04d.png*) ;; *) exit 3 ;; esac\n"
        "echo fake > \"$out\"\n";
    CHECK(test_write_file(script, body, sizeof body - 1));
    CHECK(chmod(script, 0700) == 0);
    CHECK(run_render_path(bin, "scene.ply --orbit 2 --scale 0.25 -o spin") == 0);
    size_t len = 0;
    unsigned char *mp4 = test_read_file(test_tmp("spin/orbit.mp4"), &len);
    CHECK_MSG(mp4 && len == 5 && memcmp(mp4, "fake\n", 5) == 0, "orbit.mp4 not written");
    free(mp4);
    cs_context_destroy(ctx);
}
