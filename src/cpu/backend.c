/*
 * backend.c - the CPU render backends: the stage table of render.h filled with the threaded CPU
 * drivers and the scalar kernels, their AVX2+FMA twins, or those with the AVX-512 raster kernel,
 * and the run-time CPU check that chooses. The SIMD kernels differ from the scalar ones only in
 * rounding (FMA contraction, polynomial exp/log); the AVX-512 raster kernel matches the AVX2 one
 * bit for bit. tests/test_render_paths.c compares them.
 */
#include "../render.h"

static void project_scalar(cs_context *ctx, const cs_project_args *a) {
    cs__project_cpu(ctx, a, cs__project_range);
}
static void project_avx2(cs_context *ctx, const cs_project_args *a) {
    cs__project_cpu(ctx, a, cs__project_range_avx2);
}
static void sh_scalar(cs_context *ctx, const cs_sh_args *a) {
    cs__sh_cpu(ctx, a, cs__sh_range);
}
static void sh_avx2(cs_context *ctx, const cs_sh_args *a) {
    cs__sh_cpu(ctx, a, cs__sh_range_avx2);
}
static void raster_scalar(cs_context *ctx, const cs_raster_args *a) {
    cs__raster_cpu(ctx, a, cs__raster_tile);
}
static void raster_avx2(cs_context *ctx, const cs_raster_args *a) {
    cs__raster_cpu(ctx, a, cs__raster_tile_avx2);
}
static void raster_avx512(cs_context *ctx, const cs_raster_args *a) {
    cs__raster_cpu(ctx, a, cs__raster_tile_avx512);
}

static const cs_render_backend cpu_scalar = {
    .name = "cpu",
    .simd = CS_SIMD_SCALAR,
    .project = project_scalar,
    .sh = sh_scalar,
    .sort = cs__sort_cpu,
    .bin_count = cs__bin_count_cpu,
    .bin_fill = cs__bin_fill_cpu,
    .raster = raster_scalar,
};

static const cs_render_backend cpu_avx2 = {
    .name = "cpu-avx2",
    .simd = CS_SIMD_AVX2,
    .project = project_avx2,
    .sh = sh_avx2,
    .sort = cs__sort_cpu,
    .bin_count = cs__bin_count_cpu,
    .bin_fill = cs__bin_fill_cpu,
    .raster = raster_avx2,
};

static const cs_render_backend cpu_avx512 = {
    .name = "cpu-avx512",
    .simd = CS_SIMD_AVX512,
    .project = project_avx2,
    .sh = sh_avx2,
    .sort = cs__sort_cpu,
    .bin_count = cs__bin_count_cpu,
    .bin_fill = cs__bin_fill_cpu,
    .raster = raster_avx512,
};

bool cs__cpu_has_avx2_fma(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const cs_render_backend *cs__render_backend_cpu(cs_simd_level max_level) {
    if (max_level >= CS_SIMD_AVX512 && cs__cpu_has_avx512() && cs__cpu_has_avx2_fma())
        return &cpu_avx512;
    if (max_level >= CS_SIMD_AVX2 && cs__cpu_has_avx2_fma()) return &cpu_avx2;
    return &cpu_scalar;
}
