/*
 * context.c - cs_context: thread count, the worker pool, the log callback and the last error;
 * the status table's text; allocation with failure injection for tests.
 *
 * The library never prints: messages go into ctx->error (read with cs_context_last_error) and
 * log lines go to the optional callback. Allocation-failure injection is a process-wide counter
 * so tests can make the n-th allocation fail and check that every caller reports CS_ERR_NOMEM.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const status_text[] = {
#define CS_STATUS_TEXT_(name, text) text,
    CS_STATUS_LIST(CS_STATUS_TEXT_)
#undef CS_STATUS_TEXT_
};

const char *cs_status_string(cs_status status) {
    if ((int)status < 0 || (int)status >= (int)CS_STATUS_COUNT_) return "unknown status";
    return status_text[status];
}

const char *cs_version(void) {
    return "0.1.0";
}

void cs__assert_fail(const char *expr, const char *file, int line) {
    /* An internal invariant is broken: continuing would corrupt memory or results. This is the
     * one place the library writes to stderr, because no caller can act on it. */
    fprintf(stderr, "csplat: internal error: %s (%s:%d)\n", expr, file, line);
    abort();
}

static atomic_long alloc_countdown;

void cs__test_fail_alloc_after(long n) {
    atomic_store(&alloc_countdown, n);
}

static bool alloc_should_fail(void) {
    long n = atomic_load(&alloc_countdown);
    if (n <= 0) return false;
    /* Decrement; the allocation that takes the counter from 1 to 0 fails. */
    return atomic_fetch_sub(&alloc_countdown, 1) == 1;
}

void *cs__malloc(size_t size) {
    if (alloc_should_fail()) return NULL;
    return malloc(size ? size : 1);
}

void *cs__calloc(size_t count, size_t size) {
    if (alloc_should_fail()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void *cs__realloc(void *ptr, size_t size) {
    if (alloc_should_fail()) return NULL;
    return realloc(ptr, size ? size : 1);
}

void cs__free(void *ptr) {
    free(ptr);
}

char *cs__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = cs__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

cs_status cs__alloc_error(cs_context *ctx, const char *what, size_t bytes) {
    return cs__error(ctx, CS_ERR_NOMEM, "%s: out of memory allocating %zu bytes", what, bytes);
}

bool cs__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

bool cs__add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return false;
    *out = a + b;
    return true;
}

cs_status cs__error(cs_context *ctx, cs_status status, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return status;
}

void cs__log(cs_context *ctx, cs_log_level level, const char *fmt, ...) {
    if (!ctx || !ctx->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, line);
}

cs_status cs_context_create(const cs_context_desc *desc, cs_context **out) {
    cs_context_desc d = desc ? *desc : (cs_context_desc){0};
    *out = NULL;
    if (d.threads < 0 || d.threads > 1024) return CS_ERR_ARGUMENT;
    if (d.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        d.threads = n > 0 ? (int)(n < 1024 ? n : 1024) : 1;
    }
    cs_context *ctx = cs__calloc(1, sizeof *ctx);
    if (!ctx) return CS_ERR_NOMEM;
    ctx->threads = d.threads;
    ctx->log = d.log;
    ctx->log_user = d.log_user;
    if (d.threads > 1) {
        cs_status st = cs__pool_create(ctx, d.threads, &ctx->pool);
        if (st != CS_OK) {
            cs__free(ctx);
            return st;
        }
    }
    *out = ctx;
    return CS_OK;
}

void cs_context_destroy(cs_context *ctx) {
    if (!ctx) return;
    cs__pool_destroy(ctx->pool);
    cs__free(ctx);
}

const char *cs_context_last_error(const cs_context *ctx) {
    return ctx ? ctx->error : "";
}

int cs_context_threads(const cs_context *ctx) {
    return ctx->threads;
}
