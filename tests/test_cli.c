/*
 * test_cli.c - the csplat command line as scripts use it: `info` (text and --json) and `convert`
 * on generated scenes, the exit codes of DESIGN.md (0 success, 1 runtime failure with the file
 * named on stderr, 2 bad usage), --help on every subcommand, and outputs that appear whole or not
 * at all. The binary comes from $CSPLAT_CLI (set by `make unit-test`); without it the tests skip.
 */
#include "internal.h"
#include "test.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Run `$CSPLAT_CLI args` with stdout and stderr captured into static buffers; returns the exit
 * code, or -1 when it did not exit normally. */
static char cli_out[65536], cli_err[65536];

static void read_capture(const char *path, char *dst, size_t cap) {
    size_t len = 0;
    unsigned char *b = test_read_file(path, &len);
    snprintf(dst, cap, "%s", b ? (const char *)b : "");
    free(b);
}

static int run_cli(const char *args) {
    char cmd[32768], out[4096], err[4096];
    snprintf(out, sizeof out, "%s", test_tmp("cli.stdout"));
    snprintf(err, sizeof err, "%s", test_tmp("cli.stderr"));
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", getenv("CSPLAT_CLI"), args, out, err);
    int status = system(cmd);
    read_capture(out, cli_out, sizeof cli_out);
    read_capture(err, cli_err, sizeof cli_err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define NEED_CLI()                                                                                 \
    do {                                                                                           \
        if (!getenv("CSPLAT_CLI") || !*getenv("CSPLAT_CLI"))                                       \
            SKIP("CSPLAT_CLI is not set (run through `make unit-test`)");                          \
    } while (0)

/* A degree-1 scene of n Gaussians with known bounds: x = i, y = -i, z = 0.5; opacity 0. */
static void write_scene(const char *path, int n) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, n, 1, &s));
    cs_scene_params p = cs_scene_get_params(s);
    for (int i = 0; i < n; i++) {
        p.means[3 * i] = (float)i;
        p.means[3 * i + 1] = (float)-i;
        p.means[3 * i + 2] = 0.5f;
        p.log_scales[3 * i] = (float)i * 0.01f - 3.0f;
        p.sh[12 * i] = 0.25f;
    }
    CHECK_OK(ctx, cs_scene_save(ctx, s, path));
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(cli_info_text_and_json) {
    NEED_CLI();
    char ply[4096], args[8192];
    snprintf(ply, sizeof ply, "%s", test_tmp("info.ply"));
    write_scene(ply, 40);
    snprintf(args, sizeof args, "info '%s'", ply);
    CHECK(run_cli(args) == 0);
    CHECK(strstr(cli_out, "format      ply") && strstr(cli_out, "gaussians   40"));
    CHECK(strstr(cli_out, "sh degree   1") && strstr(cli_out, "non-finite  0"));
    snprintf(args, sizeof args, "info --json '%s'", ply);
    CHECK(run_cli(args) == 0);
    cJSON *j = cJSON_Parse(cli_out);
    CHECK_MSG(j != NULL, "not JSON: %.200s", cli_out);
    if (j) {
        cJSON *count = cJSON_GetObjectItem(j, "count"), *deg = cJSON_GetObjectItem(j, "sh_degree");
        cJSON *format = cJSON_GetObjectItem(j, "format");
        cJSON *max = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "bounds"), "max");
        CHECK(cJSON_IsNumber(count) && count->valuedouble == 40);
        CHECK(cJSON_IsNumber(deg) && deg->valuedouble == 1);
        CHECK(cJSON_IsString(format) && strcmp(format->valuestring, "ply") == 0);
        CHECK(cJSON_GetArraySize(max) == 3 && cJSON_GetArrayItem(max, 0)->valuedouble == 39);
        CHECK(cJSON_GetArrayItem(max, 2)->valuedouble == 0.5);
        cJSON_Delete(j);
    }
}

TEST(cli_convert_ply_splat_ply) {
    NEED_CLI();
    char ply[4096], splat[4096], back[4096], args[16384];
    snprintf(ply, sizeof ply, "%s", test_tmp("conv.ply"));
    snprintf(splat, sizeof splat, "%s", test_tmp("conv.splat"));
    snprintf(back, sizeof back, "%s", test_tmp("conv_back.ply"));
    write_scene(ply, 25);
    snprintf(args, sizeof args, "convert '%s' '%s'", ply, splat);
    CHECK(run_cli(args) == 0);
    CHECK(strstr(cli_err, "25 Gaussians") != NULL);
    CHECK(strstr(cli_err, "SH degree 0 only") != NULL); /* the degree-1 warning */
    snprintf(args, sizeof args, "convert '%s' '%s'", splat, back);
    CHECK(run_cli(args) == 0);
    snprintf(args, sizeof args, "info --json '%s'", splat);
    CHECK(run_cli(args) == 0 && strstr(cli_out, "\"format\":\t\"splat\""));
    cs_context *ctx = test_context(1);
    cs_scene *s = NULL;
    CHECK_OK(ctx, cs_scene_load(ctx, back, &s));
    if (s) {
        /* Largest first: Gaussian i has log-scale 0.01 i - 3, so the order is reversed. */
        cs_scene_params p = cs_scene_get_params(s);
        CHECK(p.count == 25 && p.sh_degree == 0);
        for (int j = 0; j < 25 && p.count == 25; j++) {
            int i = 24 - j;
            CHECK(p.means[3 * j] == (float)i && p.means[3 * j + 1] == (float)-i);
            CHECK_NEAR(p.log_scales[3 * j], (float)i * 0.01f - 3.0f, 1e-6);
            CHECK_NEAR(0.5 + 0.28209479177387814 * (double)p.sh[3 * j],
                       0.5 + 0.28209479177387814 * 0.25, 0.5 / 255 + 1e-6);
        }
    }
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(cli_bad_usage_exits_2) {
    NEED_CLI();
    static const char *const cases[] = {
        "",                           /* no command */
        "frobnicate",                 /* unknown command */
        "info",                       /* missing SCENE */
        "info --bogus x.ply",         /* unknown option */
        "info a.ply b.ply",           /* two scenes */
        "convert only_one.ply",       /* missing OUT */
        "convert a.ply b.ply c.ply",  /* too many */
        "convert --fast a.ply b.ply", /* unknown option */
        "convert a.ply b.unknown",    /* no output format */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = run_cli(cases[i]);
        CHECK_MSG(rc == 2, "'csplat %s' exited %d", cases[i], rc);
        CHECK_MSG(cli_err[0] != 0, "'csplat %s' printed nothing on stderr", cases[i]);
    }
}

TEST(cli_help_exits_0) {
    NEED_CLI();
    static const char *const cases[] = {"--help", "info --help", "convert --help", "info -h"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = run_cli(cases[i]);
        CHECK_MSG(rc == 0 && strstr(cli_out, "usage: csplat"), "'csplat %s' exited %d", cases[i],
                  rc);
    }
}

/* Names in test_tmpdir() that contain `part` (to catch stray temporary files). */
static int count_files_containing(const char *part) {
    DIR *d = opendir(test_tmpdir());
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

TEST(cli_runtime_failures_exit_1_and_leave_no_output) {
    NEED_CLI();
    char missing[4096], corrupt[4096], out[4096], existing[4096], args[16384];
    snprintf(missing, sizeof missing, "%s", test_tmp("no_such_scene.ply"));
    snprintf(corrupt, sizeof corrupt, "%s", test_tmp("corrupt_scene.ply"));
    snprintf(out, sizeof out, "%s", test_tmp("never_written.splat"));
    snprintf(existing, sizeof existing, "%s", test_tmp("kept_output.ply"));
    /* A header promising more vertices than the file holds. */
    write_scene(corrupt, 10);
    size_t len = 0;
    unsigned char *good = test_read_file(corrupt, &len);
    CHECK(good && test_write_file(corrupt, good, len - 7));
    free(good);

    snprintf(args, sizeof args, "info '%s'", missing);
    CHECK(run_cli(args) == 1 && strstr(cli_err, "no_such_scene.ply"));
    snprintf(args, sizeof args, "info '%s'", corrupt);
    CHECK(run_cli(args) == 1 && strstr(cli_err, "corrupt_scene.ply: vertex count 10 needs"));
    snprintf(args, sizeof args, "convert '%s' '%s'", corrupt, out);
    CHECK(run_cli(args) == 1 && strstr(cli_err, "corrupt_scene.ply"));
    CHECK(!cs__file_exists(out));
    /* Converting a corrupt input over an existing file leaves that file as it was. */
    CHECK(test_write_file(existing, "previous contents", 17));
    snprintf(args, sizeof args, "convert '%s' '%s'", corrupt, existing);
    CHECK(run_cli(args) == 1);
    unsigned char *kept = test_read_file(existing, &len);
    CHECK(kept && len == 17 && memcmp(kept, "previous contents", 17) == 0);
    free(kept);
    /* A write that fails (the output folder does not exist) names it and leaves nothing. */
    char ply[4096];
    snprintf(ply, sizeof ply, "%s", test_tmp("fine.ply"));
    write_scene(ply, 3);
    snprintf(args, sizeof args, "convert '%s' '%s/no_dir/out.ply'", ply, test_tmpdir());
    CHECK(run_cli(args) == 1 && strstr(cli_err, "no_dir/out.ply"));
    CHECK(count_files_containing(".tmp.") == 0);
}
