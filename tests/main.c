/*
 * main.c - the test runner: runs every TEST (or those whose name contains argv[1]), one line per
 * check, then "N passed, N failed, N skipped"; exits 1 on any failure.
 */
#include "test.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define X(name) TEST(name);
#include "test_list.h"
#undef X

typedef struct test_entry {
    const char *name;
    void (*fn)(void);
} test_entry;

static const test_entry all_tests[] = {
#define X(name) {#name, test_##name},
#include "test_list.h"
#undef X
};

static int current_failures;
static bool current_skipped;
static char skip_reason[512];
static const char *current_name;

void test_fail(const char *file, int line, const char *fmt, ...) {
    if (current_failures < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "    %s:%d: ", file, line);
        vfprintf(stdout, fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
    current_failures++;
}

void test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(skip_reason, sizeof skip_reason, fmt, ap);
    va_end(ap);
    current_skipped = true;
}

void test_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("    ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

int test_failures(void) {
    return current_failures;
}

cs_context *test_context(int threads) {
    cs_context *ctx;
    cs_context_desc desc = {.threads = threads};
    if (cs_context_create(&desc, &ctx) != CS_OK) {
        fprintf(stderr, "%s: cannot create a context\n", current_name);
        exit(2);
    }
    return ctx;
}

const char *test_data(const char *relative) {
    static char path[4096];
    const char *root = getenv("CSPLAT_DATA");
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared/data", relative);
    struct stat st;
    return stat(path, &st) == 0 ? path : NULL;
}

static char tmpdir[256];

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/csplat-test-%ld", (long)getpid());
        mkdir(tmpdir, 0700);
    }
    return tmpdir;
}

const char *test_tmp(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    return path;
}

bool test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

unsigned char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}

test_rng test_rng_seed(unsigned long long seed) {
    test_rng r = {seed * 6364136223846793005ULL + 1442695040888963407ULL};
    test_rng_u32(&r);
    return r;
}

unsigned test_rng_u32(test_rng *r) {
    unsigned long long old = r->state;
    r->state = old * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned xorshifted = (unsigned)(((old >> 18u) ^ old) >> 27u);
    unsigned rot = (unsigned)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

double test_rng_uniform(test_rng *r) {
    return test_rng_u32(r) / 4294967296.0;
}

double test_rng_normal(test_rng *r) {
    double u = test_rng_uniform(r), v = test_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static void remove_tree(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof all_tests / sizeof *all_tests; i++) {
        const test_entry *t = &all_tests[i];
        if (filter && !strstr(t->name, filter)) continue;
        current_name = t->name;
        current_failures = 0;
        current_skipped = false;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        t->fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (current_failures) {
            printf("FAIL %s (%d failures, %.2fs)\n", t->name, current_failures, secs);
            failed++;
        } else if (current_skipped) {
            printf("skip %s: %s\n", t->name, skip_reason);
            skipped++;
        } else {
            printf("ok   %s (%.2fs)\n", t->name, secs);
            passed++;
        }
    }
    if (tmpdir[0] && failed == 0) remove_tree(tmpdir);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
