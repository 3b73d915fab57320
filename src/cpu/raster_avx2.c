#include "../render.h"
void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile) {
    cs__raster_tile(a, tile);
}
