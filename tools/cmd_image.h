/*
 * cmd_image.h - what the `csplat image` subcommands share (tools/cmd_image.c,
 * tools/cmd_image_eval.c): the fitting and file options and their parser, the progress
 * printer, and target preparation.
 */
#ifndef CSPLAT_CMD_IMAGE_H
#define CSPLAT_CMD_IMAGE_H

#include "cli.h"

typedef struct image_opts {
    cs_gimage_fit_desc fit;
    cs_gsi_options gsi;
    int threads;    /* 0 = all cores */
    bool quiet;     /* no progress line */
} image_opts;

/* Help text of the options image_parse_option understands. */
extern const char image_fit_options_help[];

/* Parse argv[*i] (and its value) if it is a fitting/file option: 1 = consumed (*i advanced past
 * any value), 0 = not such an option, -1 = bad value (already reported as a usage error). */
int image_parse_option(const char *cmd, int argc, char **argv, int *i, image_opts *o);

/* The fitter's progress callback: user is a cli_progress (in-place line on a terminal, a line
 * every 250 iterations otherwise). */
int image_progress(void *user, const cs_gimage_progress *p);

/* The target as the fitter sees it: 1 channel (from 1-2) or 3 (from 3-4), in *out (allocated;
 * cs_image_free). */
cs_status image_fit_target(cs_context *ctx, const cs_image *in, cs_image *out);

int cmd_image_eval(int argc, char **argv);

#endif
