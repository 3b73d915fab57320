/*
 * cli.c - helpers shared by the csplat subcommands: usage errors, failure messages, the stderr
 * logger, number parsing and the in-place progress line.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "csplat %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'csplat %s --help'.\n", command);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(cs_context *ctx) {
    fprintf(stderr, "csplat: %s\n", cs_context_last_error(ctx));
    return CLI_FAILURE;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    return false;
}

static void log_to_stderr(void *user, cs_log_level level, const char *message) {
    (void)user;
    if (level >= CS_LOG_WARN)
        fprintf(stderr, "csplat: %s%s\n", level == CS_LOG_WARN ? "warning: " : "", message);
}

cs_context *cli_context(int threads) {
    cs_context *ctx;
    cs_context_desc desc = {.threads = threads, .log = log_to_stderr};
    cs_status st = cs_context_create(&desc, &ctx);
    if (st != CS_OK) {
        fprintf(stderr, "csplat: cannot create a context: %s\n", cs_status_string(st));
        return NULL;
    }
    return ctx;
}

bool cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_begin(cli_progress *p, const char *label, const char *unit, long long total) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->start = cli_now();
    p->last_print = 0;
    p->tty = isatty(2);
}

static void print_line(cli_progress *p, long long done, const char *extra, bool final) {
    double elapsed = cli_now() - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char eta[32] = "";
    if (!final && rate > 0 && p->total > done) {
        double left = (double)(p->total - done) / rate;
        snprintf(eta, sizeof eta, "ETA %dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    } else if (final) {
        snprintf(eta, sizeof eta, "in %.1fs", elapsed);
    }
    fprintf(stderr, "%s%s %lld/%lld  %.2f %s/s  %s%s%s%s", p->tty ? "\r\033[K" : "", p->label,
            done, p->total, rate, p->unit, eta, extra ? "  " : "", extra ? extra : "",
            final || !p->tty ? "\n" : "");
}

void cli_progress_update(cli_progress *p, long long done, const char *extra) {
    double now = cli_now();
    if (!p->tty || now - p->last_print < 0.1) return;
    p->last_print = now;
    print_line(p, done, extra, false);
}

void cli_progress_end(cli_progress *p, long long done, const char *extra) {
    print_line(p, done, extra, true);
}
