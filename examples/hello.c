/*
 * hello.c - the smallest program against the installed libcsplat: makes a context and a scene
 * in memory and prints what it holds. tests/install_check.sh builds it with pkg-config.
 */
#include <csplat.h>
#include <stdio.h>

int main(void) {
    cs_context *ctx;
    cs_scene *scene;
    if (cs_context_create(NULL, &ctx) != CS_OK) return 1;
    if (cs_scene_create(ctx, 2, 1, &scene) != CS_OK) {
        fprintf(stderr, "%s\n", cs_context_last_error(ctx));
        return 1;
    }
    cs_scene_params p = cs_scene_get_params(scene);
    printf("csplat %s: %lld Gaussians, SH degree %d, %d coefficients per channel\n",
           cs_version(), (long long)p.count, p.sh_degree, p.sh_coeffs);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
    return 0;
}
