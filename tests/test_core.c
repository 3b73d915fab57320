/*
 * test_core.c - context, status table, allocation-failure injection, overflow-checked sizes,
 * atomic output files, the thread pool, and scene storage/statistics.
 */
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

TEST(status_strings_cover_every_code) {
    for (int s = 0; s < (int)CS_STATUS_COUNT_; s++) {
        const char *t = cs_status_string((cs_status)s);
        CHECK(t && *t && strcmp(t, "unknown status") != 0);
    }
    CHECK(strcmp(cs_status_string(CS_ERR_FORMAT), "malformed input") == 0);
    CHECK(strcmp(cs_status_string((cs_status)999), "unknown status") == 0);
}

TEST(context_defaults_and_errors) {
    cs_context *ctx;
    CHECK_OK(NULL, cs_context_create(NULL, &ctx));
    CHECK(cs_context_threads(ctx) >= 1);
    CHECK(strcmp(cs_context_last_error(ctx), "") == 0);
    CHECK(cs__error(ctx, CS_ERR_IO, "x.ply: %s", "broken") == CS_ERR_IO);
    CHECK(strcmp(cs_context_last_error(ctx), "x.ply: broken") == 0);
    cs_context_destroy(ctx);
    cs_context_destroy(NULL);
    cs_context_desc bad = {.threads = -1};
    CHECK(cs_context_create(&bad, &ctx) == CS_ERR_ARGUMENT && ctx == NULL);
}

static void log_collect(void *user, cs_log_level level, const char *message) {
    char *buf = user;
    snprintf(buf, 256, "%d:%s", (int)level, message);
}

TEST(context_log_callback) {
    char got[256] = "";
    cs_context *ctx;
    cs_context_desc desc = {.threads = 1, .log = log_collect, .log_user = got};
    CHECK_OK(NULL, cs_context_create(&desc, &ctx));
    cs__log(ctx, CS_LOG_WARN, "skipped %d frames", 3);
    CHECK(strcmp(got, "2:skipped 3 frames") == 0);
    cs_context_destroy(ctx);
}

TEST(size_arithmetic_reports_overflow) {
    size_t r;
    CHECK(cs__mul_size(1000, 1000, &r) && r == 1000000);
    CHECK(!cs__mul_size(SIZE_MAX / 2 + 1, 2, &r));
    CHECK(cs__add_size(1, 2, &r) && r == 3);
    CHECK(!cs__add_size(SIZE_MAX, 1, &r));
}

TEST(scene_create_layout_and_bad_arguments) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 5, 3, &s));
    cs_scene_params p = cs_scene_get_params(s);
    CHECK(p.count == 5 && p.sh_degree == 3 && p.sh_coeffs == 16);
    CHECK(p.log_scales == p.means + 15 && p.quats == p.log_scales + 15);
    CHECK(p.opacities == p.quats + 20 && p.sh == p.opacities + 5);
    CHECK(p.quats[0] == 1.0f && p.quats[1] == 0.0f && p.quats[4] == 1.0f);
    p.sh[5 * 48 - 1] = 1.0f; /* last float of the block is writable (ASan checks the bound) */
    cs_scene_destroy(s);
    CHECK(cs_scene_create(ctx, -1, 0, &s) == CS_ERR_ARGUMENT && s == NULL);
    CHECK(cs_scene_create(ctx, 1, 4, &s) == CS_ERR_ARGUMENT);
    CHECK(cs_scene_create(ctx, INT64_MAX / 2, 3, &s) == CS_ERR_ARGUMENT);
    CHECK(strstr(cs_context_last_error(ctx), "overflow") != NULL);
    cs_scene_destroy(NULL);
    cs_context_destroy(ctx);
}

TEST(allocation_failure_is_reported) {
    cs_context *ctx = test_context(1);
    cs_scene *s = NULL;
    int reported = 0;
    /* Fail each allocation of scene creation in turn; every one must give CS_ERR_NOMEM. */
    for (long n = 1; n <= 2; n++) {
        cs__test_fail_alloc_after(n);
        cs_status st = cs_scene_create(ctx, 10, 1, &s);
        cs__test_fail_alloc_after(0);
        CHECK_MSG(st == CS_ERR_NOMEM && s == NULL, "allocation %ld: status %s", n,
                  cs_status_string(st));
        reported += st == CS_ERR_NOMEM;
        cs_scene_destroy(s);
    }
    CHECK(reported == 2);
    cs_context_destroy(ctx);
}

TEST(scene_stats) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 3, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    float means[9] = {0, 0, 0, 1, 2, 3, -1, 5, NAN};
    memcpy(p.means, means, sizeof means);
    p.log_scales[0] = logf(2.0f);
    p.log_scales[3] = logf(4.0f);
    p.opacities[1] = 100.0f;
    cs_scene_stats st;
    CHECK_OK(ctx, cs_scene_compute_stats(ctx, s, &st));
    CHECK(st.count == 3 && st.non_finite == 1);
    CHECK_NEAR(st.bounds_min[0], 0.0, 0);
    CHECK_NEAR(st.bounds_max[2], 3.0, 0);
    CHECK_NEAR(st.scale_max, 4.0, 1e-6);
    CHECK_NEAR(st.scale_median, 2.0, 1e-6);
    CHECK_NEAR(st.opacity_max, 1.0, 1e-9);
    CHECK_NEAR(st.opacity_min, 0.5, 1e-9);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(outfile_is_atomic) {
    cs_context *ctx = test_context(1);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("atomic.bin"));
    CHECK(test_write_file(path, "old", 3));
    cs_outfile of;
    CHECK_OK(ctx, cs__outfile_open(ctx, path, &of));
    CHECK_OK(ctx, cs__outfile_write(ctx, &of, "new data", 8));
    size_t len = 0;
    unsigned char *before = test_read_file(path, &len);
    CHECK(before && len == 3); /* the target is untouched until commit */
    free(before);
    cs__outfile_abort(&of);
    unsigned char *after = test_read_file(path, &len);
    CHECK(after && len == 3 && memcmp(after, "old", 3) == 0);
    free(after);
    CHECK_OK(ctx, cs__outfile_open(ctx, path, &of));
    CHECK_OK(ctx, cs__outfile_write(ctx, &of, "new data", 8));
    CHECK_OK(ctx, cs__outfile_commit(ctx, &of));
    after = test_read_file(path, &len);
    CHECK(after && len == 8 && memcmp(after, "new data", 8) == 0);
    free(after);
    CHECK(cs__outfile_open(ctx, "/nonexistent-dir/x.ply", &of) == CS_ERR_IO);
    CHECK(strstr(cs_context_last_error(ctx), "/nonexistent-dir/x.ply") != NULL);
    cs_context_destroy(ctx);
}

typedef struct sum_job {
    double *partials; /* [chunks] */
    int64_t grain;
    int *seen_worker; /* [threads] */
} sum_job;

static void sum_task(void *user, int64_t begin, int64_t end, int worker) {
    sum_job *job = user;
    double s = 0;
    for (int64_t i = begin; i < end; i++) s += 1.0 / (double)(i + 1);
    job->partials[begin / job->grain] = s;
    job->seen_worker[worker] = 1;
}

TEST(pool_parallel_for_is_deterministic) {
    const int64_t n = 100003, grain = 1000, chunks = (n + grain - 1) / grain;
    double totals[3];
    int threads[3] = {1, 2, 4};
    for (int t = 0; t < 3; t++) {
        cs_context *ctx = test_context(threads[t]);
        double partials[101] = {0};
        int seen[4] = {0};
        sum_job job = {partials, grain, seen};
        for (int rep = 0; rep < 20; rep++) cs__parallel_for(ctx, n, grain, sum_task, &job);
        double total = 0;
        for (int64_t c = 0; c < chunks; c++) total += partials[c];
        totals[t] = total;
        cs_context_destroy(ctx);
    }
    CHECK(totals[0] == totals[1] && totals[1] == totals[2]);
    CHECK_NEAR(totals[0], 12.0901, 1e-3);
}

TEST(path_helpers) {
    CHECK(strcmp(cs__path_ext("a/b.c/scene.PLY"), ".PLY") == 0);
    CHECK(cs__ext_is("scene.PLY", ".ply"));
    CHECK(strcmp(cs__path_ext("a.b/noext"), "") == 0);
    CHECK(strcmp(cs__path_ext(".hidden"), "") == 0);
    char *d = cs__path_dirname("x/y/z.png");
    CHECK(d && strcmp(d, "x/y") == 0);
    cs__free(d);
    char *j = cs__path_join("x/", "y.png");
    CHECK(j && strcmp(j, "x/y.png") == 0);
    cs__free(j);
    CHECK(cs_format_from_path("a.splat") == CS_FORMAT_SPLAT);
    CHECK(cs_format_from_path("a.compressed.ply") == CS_FORMAT_COMPRESSED_PLY);
    CHECK(cs_format_from_path("a.txt") == CS_FORMAT_UNKNOWN);
}
