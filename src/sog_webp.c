/*
 * sog_webp.c - lossless WebP images as SOG's data textures, through libwebp.
 *
 * SOG stores every attribute as RGBA8 pixels of a lossless (VP8L) WebP. Decoding validates the
 * bitstream header (WebPGetInfo) and bounds the pixel count before allocating, then decodes
 * straight into our buffer (WebPDecodeRGBAInto) so allocation-failure injection covers it.
 * Encoding uses the advanced API with lossless = 1 and exact = 1: without `exact` libwebp may
 * rewrite the RGB of pixels whose alpha is 0, and SOG's sh0 texture keeps colour indices under
 * an opacity of 0. `effort` maps onto libwebp's lossless preset levels (method and quality), the
 * trade-off PlayCanvas exposes as well.
 */
#include "sog.h"

#include <string.h>
#include <webp/decode.h>
#include <webp/encode.h>

cs_status cs__webp_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                          size_t max_pixels, uint8_t **rgba, int *width, int *height) {
    *rgba = NULL;
    *width = *height = 0;
    int w, h;
    if (!WebPGetInfo(data, len, &w, &h) || w <= 0 || h <= 0)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: not a valid WebP image", name);
    size_t pixels = (size_t)w * (size_t)h, bytes;
    if (pixels > max_pixels)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: WebP image of %dx%d exceeds the %zu pixels "
                         "this file needs", name, w, h, max_pixels);
    if (!cs__mul_size(pixels, 4, &bytes))
        return cs__error(ctx, CS_ERR_FORMAT, "%s: WebP image too large", name);
    uint8_t *buf = cs__malloc(bytes);
    if (!buf) return cs__alloc_error(ctx, name, bytes);
    if (!WebPDecodeRGBAInto(data, len, buf, bytes, w * 4)) {
        cs__free(buf);
        return cs__error(ctx, CS_ERR_FORMAT, "%s: WebP image data is corrupt or truncated", name);
    }
    *rgba = buf;
    *width = w;
    *height = h;
    return CS_OK;
}

cs_status cs__webp_encode(cs_context *ctx, const char *name, const uint8_t *rgba, int width,
                          int height, int effort, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (width <= 0 || height <= 0 || width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: a %dx%d image does not fit WebP's %d-pixel "
                         "limit", name, width, height, WEBP_MAX_DIMENSION);
    WebPConfig config;
    WebPPicture pic;
    WebPMemoryWriter writer;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic))
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: libwebp version mismatch", name);
    effort = effort < 0 ? 0 : (effort > 9 ? 9 : effort);
    WebPConfigLosslessPreset(&config, effort);
    config.lossless = 1;
    config.exact = 1;
    pic.use_argb = 1;
    pic.width = width;
    pic.height = height;
    if (!WebPPictureImportRGBA(&pic, rgba, width * 4)) {
        WebPPictureFree(&pic);
        return cs__error(ctx, CS_ERR_NOMEM, "%s: out of memory importing a %dx%d image", name,
                         width, height);
    }
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    int ok = WebPEncode(&config, &pic);
    int err = pic.error_code;
    WebPPictureFree(&pic);
    cs_status st = CS_OK;
    if (!ok) {
        st = cs__error(ctx, err == VP8_ENC_ERROR_OUT_OF_MEMORY ? CS_ERR_NOMEM : CS_ERR_IO,
                       "%s: WebP encoding failed (libwebp error %d)", name, err);
    } else {
        /* Copy into our allocator's memory so callers free everything the same way. */
        uint8_t *buf = cs__malloc(writer.size ? writer.size : 1);
        if (!buf) st = cs__alloc_error(ctx, name, writer.size);
        else {
            memcpy(buf, writer.mem, writer.size);
            *out = buf;
            *out_len = writer.size;
        }
    }
    WebPMemoryWriterClear(&writer);
    return st;
}
