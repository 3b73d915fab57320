/*
 * cli.h - what the csplat subcommands share: exit codes, option parsing helpers, the context
 * with a stderr logger, and a progress line with rate and ETA.
 *
 * Exit codes (a stable contract): 0 success, 1 runtime failure (message on stderr naming the
 * file and the problem), 2 bad usage.
 */
#ifndef CSPLAT_CLI_H
#define CSPLAT_CLI_H

#include "csplat.h"

#include <stdbool.h>

enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2 };

/* One subcommand: its entry point, its one-line summary for `csplat --help`. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} cli_command;

int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_compress(int argc, char **argv);

/* Print "csplat NAME: message" and a hint to --help on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "csplat: <last error>" on stderr; returns CLI_FAILURE. */
int cli_fail(cs_context *ctx);
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);
/* A context whose warnings and errors go to stderr; threads 0 = all cores. NULL on failure
 * (already reported). */
cs_context *cli_context(int threads);
/* Parse a whole decimal integer in [lo, hi]; false otherwise. */
bool cli_parse_int(const char *s, long lo, long hi, long *out);
/* Parse a finite float; false otherwise. */
bool cli_parse_float(const char *s, float *out);

/* A progress line on stderr that updates in place: "label  done/total  rate unit/s  ETA". Quiet
 * when stderr is not a terminal except for the final line. */
typedef struct cli_progress {
    const char *label;
    const char *unit;
    long long total;
    double start, last_print;
    bool tty;
} cli_progress;
void cli_progress_begin(cli_progress *p, const char *label, const char *unit, long long total);
/* extra is appended to the line (may be NULL). */
void cli_progress_update(cli_progress *p, long long done, const char *extra);
void cli_progress_end(cli_progress *p, long long done, const char *extra);
double cli_now(void);

#endif
