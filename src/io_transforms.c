/*
 * io_transforms.c - transforms.json camera sets in their three dialects, plus D-NeRF time.
 *
 *   Blender/NeRF synthetic  camera_angle_x at the top and no fl_x; image size from each image's
 *                           header (the file has none): fx = fy = 0.5 W / tan(0.5 camera_angle_x),
 *                           cx = W/2, cy = H/2 (as 3DGS's fov2focal and the NeRF code).
 *   instant-ngp             fl_x (fl_y, cx, cy, w, h, k1 k2 p1 p2 [k3]) at the top.
 *   nerfstudio              "camera_model" or "applied_transform" at the top, or intrinsics
 *                           (fl_x, cx, w, k1, ...) inside frames, overriding the top-level ones.
 * Missing values fall back in this order: fx = fl_x, else from camera_angle_x and w; fy = fl_y,
 * else from camera_angle_y and h, else fx; cx = w/2; cy = h/2; w, h from the image header.
 * Any non-zero k1, k2, p1, p2, k3 gives CS_CAMERA_OPENCV with those coefficients.
 *
 * Pose: transform_matrix is camera-to-world in the OpenGL/NeRF camera convention (x right, y up,
 * looking down -z). Flipping its y and z columns (c2w[:3, 1:3] *= -1) gives the OpenCV-axes
 * camera-to-world; then R = c2w_R^T and t = -R c. instant-ngp's own internal rescaling (0.33,
 * +0.5 offset, axis cycling) happens inside instant-ngp after reading: the file holds plain NeRF
 * poses, taken as they are. nerfstudio's "applied_transform" records a transform already applied
 * to the frames, so it is not applied again.
 *
 * Frames: kept in file order. file_path is relative to the json's folder; when the exact path is
 * missing, ".png", ".jpg", ".jpeg" (and upper-case forms) are tried, since the NeRF datasets omit
 * the extension. Frames whose image is missing are skipped with ONE warning naming how many and
 * the first; if every frame is missing the load fails (CS_ERR_NOT_FOUND). A frame's "time"
 * (D-NeRF) goes to cs_camera.time as stored.
 *
 * Not supported (refused with CS_ERR_UNSUPPORTED): fisheye and equirectangular cameras
 * (camera_model OPENCV_FISHEYE / EQUIRECTANGULAR, instant-ngp is_fisheye). Ignored: aabb_scale,
 * sharpness, masks, depth files, per-frame rolling-shutter fields.
 */
#include "camera.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

enum { FL_X, FL_Y, CX, CY, W, H, ANGLE_X, ANGLE_Y, K1, K2, P1, P2, K3, NKEYS };
static const char *const keys[NKEYS] = {
    "fl_x",           "fl_y", "cx", "cy", "w",  "h", "camera_angle_x",
    "camera_angle_y", "k1",   "k2", "p1", "p2", "k3"};

typedef struct parse {
    cs_context *ctx;
    const char *name, *base_dir;
    cs_image_probe_fn probe;
    void *probe_user;
    double top[NKEYS]; /* NAN when absent */
} parse;

/* Read the intrinsic keys present in obj into v (others untouched). where names obj. */
static cs_status read_keys(parse *ps, const cJSON *obj, const char *where, double v[NKEYS]) {
    for (int k = 0; k < NKEYS; k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, keys[k]);
        if (!it) continue;
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: %s%s is not a finite number", ps->name,
                             where, keys[k]);
        v[k] = it->valuedouble;
    }
    return CS_OK;
}

/* True when a frame carries its own intrinsics (nerfstudio's per-frame cameras). */
static bool frame_has_intrinsics(const cJSON *frame) {
    for (int k = 0; k < NKEYS; k++)
        if (k != ANGLE_X && k != ANGLE_Y && cJSON_GetObjectItemCaseSensitive(frame, keys[k]))
            return true;
    return false;
}

static cs_status detect_dialect(parse *ps, const cJSON *root, const cJSON *frames,
                                cs_camera_source *out) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "camera_model");
    if (model) {
        const char *m = cJSON_IsString(model) ? model->valuestring : NULL;
        if (!m)
            return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: camera_model is not a string", ps->name);
        if (strcmp(m, "OPENCV") != 0 && strcmp(m, "PINHOLE") != 0 &&
            strcmp(m, "SIMPLE_PINHOLE") != 0)
            return cs__error(ps->ctx, CS_ERR_UNSUPPORTED,
                             "%s: camera_model %.64s is not "
                             "supported (OPENCV, PINHOLE, SIMPLE_PINHOLE)",
                             ps->name, m);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "is_fisheye")))
        return cs__error(ps->ctx, CS_ERR_UNSUPPORTED, "%s: fisheye cameras are not supported",
                         ps->name);
    bool per_frame = false;
    const cJSON *f;
    cJSON_ArrayForEach(f, frames) per_frame = per_frame || frame_has_intrinsics(f);
    if (model || per_frame || cJSON_GetObjectItemCaseSensitive(root, "applied_transform"))
        *out = CS_CAMERAS_TRANSFORMS_NERFSTUDIO;
    else if (!isnan(ps->top[FL_X]) || !isnan(ps->top[FL_Y]))
        *out = CS_CAMERAS_TRANSFORMS_NGP;
    else if (!isnan(ps->top[ANGLE_X]))
        *out = CS_CAMERAS_TRANSFORMS_BLENDER;
    else
        return cs__error(ps->ctx, CS_ERR_FORMAT,
                         "%s: no intrinsics (neither fl_x nor camera_angle_x)", ps->name);
    return CS_OK;
}

/* Camera-to-world 3x4 (rows of 4 numbers; a 4th row is ignored) in OpenGL axes -> cam pose. */
static cs_status read_pose(parse *ps, int i, const cJSON *frame, cs_camera *cam) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(frame, "transform_matrix");
    double c2w[12];
    bool ok = cJSON_IsArray(m) && cJSON_GetArraySize(m) >= 3 && cJSON_GetArraySize(m) <= 4;
    for (int r = 0; ok && r < 3; r++) {
        const cJSON *row = cJSON_GetArrayItem(m, r);
        ok = cJSON_IsArray(row) && cJSON_GetArraySize(row) == 4;
        for (int c = 0; ok && c < 4; c++) {
            const cJSON *v = cJSON_GetArrayItem(row, c);
            ok = cJSON_IsNumber(v) && isfinite(v->valuedouble);
            if (ok) c2w[4 * r + c] = v->valuedouble;
        }
    }
    if (!ok)
        return cs__error(ps->ctx, CS_ERR_FORMAT,
                         "%s: frames[%d].transform_matrix is not a 4x4 array of finite numbers",
                         ps->name, i);
    /* OpenGL -> OpenCV camera axes: negate the y and z columns of the rotation. */
    double r[9], c[3];
    for (int row = 0; row < 3; row++) {
        r[3 * row + 0] = c2w[4 * row + 0];
        r[3 * row + 1] = -c2w[4 * row + 1];
        r[3 * row + 2] = -c2w[4 * row + 2];
        c[row] = c2w[4 * row + 3];
    }
    if (!cs__rotation_is_valid(r))
        return cs__error(ps->ctx, CS_ERR_FORMAT,
                         "%s: frames[%d].transform_matrix rotation is "
                         "not orthonormal (scaled or mirrored)",
                         ps->name, i);
    cs__camera_set_c2w(cam, r, c);
    return CS_OK;
}

/* Find the frame's image: *path set (owned) when found, NULL when missing. Sizes are asked from
 * the probe only when need_size. */
static cs_status find_image(parse *ps, const char *file_path, bool need_size, int *w, int *h,
                            char **path) {
    static const char *const exts[] = {"", ".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"};
    *path = NULL;
    char *base = cs__path_join(ps->base_dir, file_path);
    if (!base) return cs__alloc_error(ps->ctx, ps->name, strlen(file_path));
    size_t n = strlen(base);
    cs_status st = CS_OK;
    for (size_t e = 0; e < sizeof exts / sizeof *exts; e++) {
        char *cand = cs__malloc(n + 8);
        if (!cand) {
            st = cs__alloc_error(ps->ctx, ps->name, n + 8);
            break;
        }
        memcpy(cand, base, n);
        strcpy(cand + n, exts[e]);
        st = ps->probe(ps->probe_user, ps->ctx, cand, need_size ? w : NULL, need_size ? h : NULL);
        if (st == CS_OK) {
            *path = cand;
            break;
        }
        cs__free(cand);
        if (st != CS_ERR_NOT_FOUND) break;
        st = CS_OK;
    }
    cs__free(base);
    return st;
}

/* A size from the file: a whole number of pixels in range. */
static bool size_ok(double v) {
    return v >= 1 && v <= CS_MAX_CAMERA_SIDE && v == floor(v);
}

/* Intrinsics of frame i from v (top level overridden by the frame) and the image size. */
static cs_status intrinsics(parse *ps, int i, const double v[NKEYS], int w, int h, cs_camera *cam) {
    double fx = v[FL_X], fy = v[FL_Y];
    if (isnan(fx) && v[ANGLE_X] > 0 && v[ANGLE_X] < 3.14159) fx = 0.5 * w / tan(0.5 * v[ANGLE_X]);
    if (isnan(fy) && v[ANGLE_Y] > 0 && v[ANGLE_Y] < 3.14159) fy = 0.5 * h / tan(0.5 * v[ANGLE_Y]);
    if (isnan(fy)) fy = fx;
    if (!(fx > 0 && fy > 0))
        return cs__error(ps->ctx, CS_ERR_FORMAT,
                         "%s: frames[%d]: no valid focal length (fl_x %g, camera_angle_x %g)",
                         ps->name, i, v[FL_X], v[ANGLE_X]);
    cam->width = w;
    cam->height = h;
    cam->fx = (float)fx;
    cam->fy = (float)fy;
    cam->cx = (float)(isnan(v[CX]) ? 0.5 * w : v[CX]);
    cam->cy = (float)(isnan(v[CY]) ? 0.5 * h : v[CY]);
    const int order[5] = {K1, K2, P1, P2, K3}; /* cs_camera.dist order */
    cam->model = CS_CAMERA_PINHOLE;
    for (int k = 0; k < 5; k++) {
        double d = isnan(v[order[k]]) ? 0.0 : v[order[k]];
        cam->dist[k] = (float)d;
        if (d != 0) cam->model = CS_CAMERA_OPENCV;
    }
    return CS_OK;
}

/* One frame: appended to set, or counted as skipped when its image is missing. */
static cs_status read_frame(parse *ps, int i, const cJSON *frame, cs_camera_set *set, int *skipped,
                            const char **first_missing) {
    char where[48];
    snprintf(where, sizeof where, "frames[%d].", i);
    if (!cJSON_IsObject(frame))
        return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: frames[%d] is not an object", ps->name, i);
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(frame, "file_path");
    if (!cJSON_IsString(fp) || !fp->valuestring[0])
        return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: %sfile_path is not a non-empty string",
                         ps->name, where);
    double v[NKEYS];
    memcpy(v, ps->top, sizeof v);
    cs_status st = read_keys(ps, frame, where, v);
    if (st != CS_OK) return st;
    bool need_size = isnan(v[W]) || isnan(v[H]);
    if (!need_size && (!size_ok(v[W]) || !size_ok(v[H])))
        return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: %sw/h %g x %g is not a valid image size",
                         ps->name, where, v[W], v[H]);
    cs_camera cam = {0};
    st = read_pose(ps, i, frame, &cam);
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(frame, "time");
    if (st == CS_OK && time) {
        if (!cJSON_IsNumber(time) || !isfinite(time->valuedouble))
            return cs__error(ps->ctx, CS_ERR_FORMAT, "%s: %stime is not a finite number", ps->name,
                             where);
        cam.time = (float)time->valuedouble;
    }
    int w = need_size ? 0 : (int)v[W], h = need_size ? 0 : (int)v[H];
    char *path = NULL;
    if (st == CS_OK) st = find_image(ps, fp->valuestring, need_size, &w, &h, &path);
    if (st == CS_OK && !path) {
        if ((*skipped)++ == 0) *first_missing = fp->valuestring;
        return CS_OK;
    }
    if (st == CS_OK) st = intrinsics(ps, i, v, w, h, &cam);
    if (st == CS_OK) st = cs_camera_set_add(set, &cam, cs__path_basename(path), path);
    cs__free(path);
    return st;
}

cs_status cs__transforms_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                               const char *base_dir, cs_image_probe_fn probe, void *probe_user,
                               cs_camera_set **out) {
    *out = NULL;
    cJSON *root;
    cs_status st = cs__json_parse(ctx, name, text, len, &root);
    if (st != CS_OK) return st;
    parse ps = {ctx, name, base_dir, probe, probe_user, {0}};
    for (int k = 0; k < NKEYS; k++) ps.top[k] = NAN;
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    cs_camera_set *set = NULL;
    cs_camera_source source = CS_CAMERAS_MEMORY;
    if (!cJSON_IsObject(root))
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: not a JSON object", name);
    else if (!cJSON_IsArray(frames))
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: frames is %s", name,
                       frames ? "not an array" : "missing");
    else if (cJSON_GetArraySize(frames) == 0)
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: frames is empty", name);
    if (st == CS_OK) st = read_keys(&ps, root, "", ps.top);
    if (st == CS_OK) st = detect_dialect(&ps, root, frames, &source);
    if (st == CS_OK) st = cs_camera_set_create(ctx, &set);
    int n = st == CS_OK ? cJSON_GetArraySize(frames) : 0, skipped = 0;
    const char *first_missing = NULL;
    if (st == CS_OK) {
        set->source = source;
        st = cs__camera_set_reserve(set, n);
    }
    const cJSON *frame = st == CS_OK ? frames->child : NULL;
    for (int i = 0; st == CS_OK && frame; i++, frame = frame->next)
        st = read_frame(&ps, i, frame, set, &skipped, &first_missing);
    if (st == CS_OK && skipped == n)
        st =
            cs__error(ctx, CS_ERR_NOT_FOUND, "%s: all %d frames skipped: image missing (first: %s)",
                      name, n, first_missing);
    else if (st == CS_OK && skipped)
        cs__log(ctx, CS_LOG_WARN, "%s: %d of %d frames skipped: image missing (first: %s)", name,
                skipped, n, first_missing);
    cJSON_Delete(root);
    if (st != CS_OK) {
        cs_camera_set_destroy(set);
        return st;
    }
    *out = set;
    return CS_OK;
}
