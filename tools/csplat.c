/*
 * csplat.c - the command-line tool's entry point: dispatches to the subcommands in tools/cmd_*.c.
 * The CLI uses only the public header, like any user of the library.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"info", cmd_info, "print a scene's format, count, SH degree, bounds and statistics"},
    {"convert", cmd_convert, "convert a scene between formats (chosen by OUT's extension)"},
    {"render", cmd_render, "render a scene through cameras or along an orbit to PNG"},
    {"train", cmd_train, "train a Gaussian scene on posed photos (COLMAP, transforms.json)"},
    {"eval", cmd_eval, "PSNR and SSIM of a scene on a dataset's held-out views"},
    {"demo", cmd_demo, "the built-in end-to-end example: make a dataset, train, evaluate"},
    {"image", cmd_image, "2D Gaussian images: fit a photo, render at any scale, .gsi files"},
    {"view", cmd_view, "open an interactive window on a scene; scripted stills along an orbit"},
    {"compress", cmd_compress, "write a smaller SOG through a self-organizing layout"},
};

static void usage(FILE *out) {
    fprintf(out, "csplat %s - Gaussian splatting engine\n\n"
                 "usage: csplat COMMAND [ARGS...]   (csplat COMMAND --help for details)\n\n"
                 "commands:\n", cs_version());
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("csplat %s\n", cs_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "csplat: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
