/*
 * probe.c - cs_scene_probe: what a scene file's header says (format, version, declared count,
 * SH degree, levels of detail) without decoding its Gaussians; `csplat info` prints it.
 *
 * Reads at most the first 64 KiB of the file to identify it (content first, then the
 * extension, as cs_scene_load does); SPZ, compressed PLY and SOG add their own header fields
 * (io_spz.c, io_plycompressed.c, io_sog.c). A bundled .sog is read whole, since a zip's
 * directory sits at its end. Other formats report only the format.
 */
#include "sog.h"

#include <errno.h>
#include <string.h>

#define PROBE_BYTES ((size_t)64 << 10)

cs_status cs_scene_probe(cs_context *ctx, const char *path, cs_scene_file_info *out) {
    memset(out, 0, sizeof *out);
    out->count = -1;
    out->sh_degree = -1;
    cs_format by_name = cs_format_from_path(path);
    if (by_name == CS_FORMAT_SOG && cs__ext_is(path, ".json")) {
        out->format = CS_FORMAT_SOG;
        return cs__sog_probe(ctx, path, out);
    }
    FILE *f = fopen(path, "rb");
    if (!f) return cs__error(ctx, CS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *head = cs__malloc(PROBE_BYTES);
    if (!head) {
        fclose(f);
        return cs__alloc_error(ctx, path, PROBE_BYTES);
    }
    size_t len = fread(head, 1, PROBE_BYTES, f);
    bool failed = ferror(f);
    fclose(f);
    cs_status st = CS_OK;
    const cs_scene_codec *codec = failed ? NULL : cs__scene_codec_detect(path, head, len);
    if (failed) st = cs__error(ctx, CS_ERR_IO, "%s: read error", path);
    else if (!codec && by_name == CS_FORMAT_UNKNOWN)
        st = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: unknown scene format", path);
    else {
        out->format = codec ? codec->format : by_name;
        if (out->format == CS_FORMAT_SPZ) st = cs__spz_probe(ctx, path, head, len, out);
        else if (out->format == CS_FORMAT_COMPRESSED_PLY)
            st = cs__plycompressed_probe(ctx, path, head, len, out);
        else if (out->format == CS_FORMAT_SOG) st = cs__sog_probe(ctx, path, out);
    }
    cs__free(head);
    return st;
}
