/*
 * formats.c - the table of scene format codecs and the lookups over it. A new format adds its
 * codec here; load detects by content first (magic numbers), then by extension.
 */
#include "formats.h"
#include "internal.h"

/* Compressed PLY comes before the plain PLY codec: both start with "ply", and only its detect()
 * looks for the chunk element. */
static const cs_scene_codec *const codecs[] = {
    &cs__codec_compressed_ply,
    &cs__codec_ply,
    &cs__codec_splat,
    &cs__codec_spz,
    &cs__codec_sog,
    NULL, /* the list ends with NULL */
};

const cs_scene_codec *cs__scene_codec(cs_format format) {
    for (const cs_scene_codec *const *c = codecs; *c; c++)
        if ((*c)->format == format) return *c;
    return NULL;
}

const cs_scene_codec *cs__scene_codec_detect(const char *path, const uint8_t *data, size_t len) {
    for (const cs_scene_codec *const *c = codecs; *c; c++)
        if ((*c)->detect && (*c)->detect(data, len)) return *c;
    return cs__scene_codec(cs_format_from_path(path));
}
