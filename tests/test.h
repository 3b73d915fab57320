/*
 * test.h - the test harness: TEST(name) defines a check, CHECK* record failures, SKIP() skips.
 *
 * Every TEST in tests/ is listed automatically (the Makefile greps `^TEST(name)` into a generated
 * table), so a new test needs no registration. The runner prints one line per check and ends
 * with "N passed, N failed, N skipped"; it exits non-zero on any failure.
 *
 * Data from ../shared/data is found with test_data(); a test that needs an absent file skips with
 * a message naming it.
 */
#ifndef CSPLAT_TEST_H
#define CSPLAT_TEST_H

#include "csplat.h"

#include <stdbool.h>
#include <stdio.h>

#define TEST(name)                                                                                \
    void test_##name(void);                                                                       \
    void test_##name(void)

/* Record a failure (the test goes on, so one run reports every broken assertion). */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark the running test skipped with a reason (the caller returns). */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational detail printed under the test's line (measured errors, counts). */
void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Number of failures recorded so far in the running test. */
int test_failures(void);

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) test_fail(__FILE__, __LINE__, "%s", #cond);                                  \
    } while (0)
#define CHECK_MSG(cond, ...)                                                                      \
    do {                                                                                          \
        if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                                  \
    } while (0)
/* Status must be CS_OK; prints the context's error otherwise. */
#define CHECK_OK(ctx, expr)                                                                       \
    do {                                                                                          \
        cs_status st_ = (expr);                                                                   \
        if (st_ != CS_OK)                                                                         \
            test_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr, cs_status_string(st_),           \
                      cs_context_last_error(ctx));                                                \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double a_ = (double)(a), b_ = (double)(b);                                                \
        if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol)))                                              \
            test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, tolerance %g", #a, a_, #b, b_,   \
                      (double)(tol));                                                             \
    } while (0)
#define SKIP(...)                                                                                 \
    do {                                                                                          \
        test_skip(__VA_ARGS__);                                                                   \
        return;                                                                                   \
    } while (0)

/* A context with `threads` threads (1 for deterministic single-thread checks); aborts the test
 * binary on failure since nothing can run without one. */
cs_context *test_context(int threads);

/* Path of a file under the shared data folder (CSPLAT_DATA, default ../shared/data), or NULL
 * when it is absent. Static storage: copy before the next call. */
const char *test_data(const char *relative);

/* A scratch folder for this run (created once, removed at exit when every test passed). */
const char *test_tmpdir(void);
/* test_tmpdir()/name in static storage (copy before the next call). */
const char *test_tmp(const char *name);

/* Write bytes to a file; false on failure. */
bool test_write_file(const char *path, const void *data, size_t len);
/* Read a whole file (malloc'd, NUL-terminated); NULL on failure. */
unsigned char *test_read_file(const char *path, size_t *len);

/* Deterministic PCG32 random numbers for test scenes. */
typedef struct test_rng {
    unsigned long long state;
} test_rng;
test_rng test_rng_seed(unsigned long long seed);
unsigned test_rng_u32(test_rng *r);
double test_rng_uniform(test_rng *r); /* [0, 1) */
double test_rng_normal(test_rng *r);

#endif
