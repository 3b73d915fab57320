/*
 * formats.h - the scene codecs defined by the src/io_*.c files, listed in src/formats.c's table.
 * Tests and fuzzers reach a codec's parse/write directly through these (internal; not
 * installed). Each codec's contract is cs_scene_codec in internal.h.
 */
#ifndef CSPLAT_FORMATS_H
#define CSPLAT_FORMATS_H

#include "internal.h"

extern const cs_scene_codec cs__codec_ply;   /* io_ply.c: Inria 3DGS .ply */
extern const cs_scene_codec cs__codec_splat; /* io_splat.c: antimatter15 .splat */
extern const cs_scene_codec cs__codec_spz;   /* io_spz.c: Niantic SPZ */
extern const cs_scene_codec cs__codec_sog;   /* io_sog.c: PlayCanvas SOG */
extern const cs_scene_codec cs__codec_compressed_ply; /* io_plycompressed.c: PlayCanvas */

#endif
