/*
 * io_cameras_json.c - Inria cameras.json (the file 3DGS writes next to a trained model and the
 * SIBR viewer reads), read and write.
 *
 * Format: a JSON list of {id, img_name, width, height, position[3], rotation[3][3], fy, fx}.
 * What the reference writes (graphdeco-inria/gaussian-splatting utils/camera_utils.py,
 * camera_to_JSON): its Camera keeps R = (world-to-camera rotation)^T and T = world-to-camera
 * translation; it builds Rt = [R^T | T] (world-to-camera, despite the later name), inverts it,
 * and stores the inverse's translation as "position" (the camera centre in world space) and its
 * 3x3 block, row by row, as "rotation". So rotation is the camera-to-world rotation in OpenCV
 * axes, rotation[i][j] = R_w2c[j][i], and x_cam = R_w2c (x_world - position).
 *
 * Optional on read, always written: cx, cy (default width/2, height/2, the reference's implicit
 * principal point). csplat extensions, written only when they differ from the defaults and
 * ignored by other readers: "model" (SIMPLE_RADIAL, RADIAL, OPENCV), "distortion"
 * [k1, k2, p1, p2, k3] and "time"; with them read(write(set)) reproduces every cs_camera field
 * within float precision. Read sets have no image paths (the format names images only).
 *
 * Wrong types (a string for rotation, a negative width, a missing fx, ...) are CS_ERR_FORMAT
 * naming the file, the camera index and the field.
 */
#include "camera.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

static const char *const model_keys[] = {"PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"};

/* Fill v[0..n) from a JSON array of exactly n finite numbers. */
static bool numbers(const cJSON *a, double *v, int n) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return false;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return false;
        v[i++] = it->valuedouble;
    }
    return true;
}

static bool number(const cJSON *obj, const char *key, double *v) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return false;
    *v = it->valuedouble;
    return true;
}

static cs_status bad(cs_context *ctx, const char *name, int i, const char *what) {
    return cs__error(ctx, CS_ERR_FORMAT, "%s: camera %d: %s", name, i, what);
}

static cs_status read_camera(cs_context *ctx, const char *name, int i, const cJSON *o,
                             cs_camera_set *set) {
    if (!cJSON_IsObject(o)) return bad(ctx, name, i, "not a JSON object");
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(o, "img_name");
    if (!cJSON_IsString(img)) return bad(ctx, name, i, "img_name is missing or not a string");
    double w, h, fx, fy, c[3], rot[9], rows[3][3];
    if (!number(o, "width", &w) || !number(o, "height", &h) || w < 1 || h < 1 ||
        w > CS_MAX_CAMERA_SIDE || h > CS_MAX_CAMERA_SIDE || w != floor(w) || h != floor(h))
        return bad(ctx, name, i, "width/height missing or not a positive whole number");
    if (!number(o, "fx", &fx) || !number(o, "fy", &fy) || !(fx > 0) || !(fy > 0))
        return bad(ctx, name, i, "fx/fy missing or not a positive number");
    if (!numbers(cJSON_GetObjectItemCaseSensitive(o, "position"), c, 3))
        return bad(ctx, name, i, "position is not an array of 3 numbers");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rotation");
    bool ok = cJSON_IsArray(r) && cJSON_GetArraySize(r) == 3;
    for (int k = 0; ok && k < 3; k++) ok = numbers(cJSON_GetArrayItem(r, k), rows[k], 3);
    if (!ok) return bad(ctx, name, i, "rotation is not a 3x3 array of numbers");
    memcpy(rot, rows, sizeof rot);
    if (!cs__rotation_is_valid(rot)) return bad(ctx, name, i, "rotation is not a rotation");

    cs_camera cam = {0};
    cs__camera_set_c2w(&cam, rot, c);
    cam.width = (int)w;
    cam.height = (int)h;
    cam.fx = (float)fx;
    cam.fy = (float)fy;
    double cx = 0.5 * w, cy = 0.5 * h, t = 0, d[5] = {0, 0, 0, 0, 0};
    if ((cJSON_GetObjectItemCaseSensitive(o, "cx") && !number(o, "cx", &cx)) ||
        (cJSON_GetObjectItemCaseSensitive(o, "cy") && !number(o, "cy", &cy)))
        return bad(ctx, name, i, "cx/cy is not a number");
    if (cJSON_GetObjectItemCaseSensitive(o, "time") && !number(o, "time", &t))
        return bad(ctx, name, i, "time is not a number");
    cam.cx = (float)cx;
    cam.cy = (float)cy;
    cam.time = (float)t;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    if (model) {
        int k = 0;
        while (k < 4 && !(cJSON_IsString(model) && strcmp(model->valuestring, model_keys[k]) == 0))
            k++;
        if (k == 4)
            return bad(ctx, name, i, "model is not PINHOLE, SIMPLE_RADIAL, RADIAL or OPENCV");
        cam.model = (cs_camera_model)k;
        if (!numbers(cJSON_GetObjectItemCaseSensitive(o, "distortion"), d, 5))
            return bad(ctx, name, i, "distortion is not an array of 5 numbers");
        for (int j = 0; j < 5; j++) cam.dist[j] = (float)d[j];
    }
    return cs_camera_set_add(set, &cam, img->valuestring, NULL);
}

cs_status cs__cameras_json_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                                 cs_camera_set **out) {
    *out = NULL;
    cJSON *root;
    cs_status st = cs__json_parse(ctx, name, text, len, &root);
    if (st != CS_OK) return st;
    cs_camera_set *set = NULL;
    if (!cJSON_IsArray(root))
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: not a JSON list of cameras", name);
    else if (cJSON_GetArraySize(root) == 0)
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: the list of cameras is empty", name);
    if (st == CS_OK) st = cs_camera_set_create(ctx, &set);
    if (st == CS_OK) {
        set->source = CS_CAMERAS_INRIA_JSON;
        st = cs__camera_set_reserve(set, cJSON_GetArraySize(root));
    }
    int i = 0;
    for (const cJSON *o = st == CS_OK ? root->child : NULL; st == CS_OK && o; o = o->next)
        st = read_camera(ctx, name, i++, o, set);
    cJSON_Delete(root);
    if (st != CS_OK) {
        cs_camera_set_destroy(set);
        return st;
    }
    *out = set;
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Writing.
 */

static bool add_number(cJSON *o, const char *key, double v) {
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static bool add_array(cJSON *o, const char *key, const double *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return false;
        }
    }
    return a != NULL;
}

/* One camera as the reference writes it; false on allocation failure. */
static bool write_camera(cJSON *list, int64_t id, const cs_camera *cam, const char *img_name) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(list, o)) {
        cJSON_Delete(o);
        return false;
    }
    double c[3], rot[3][3];
    cs__camera_center_d(cam, c);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) rot[i][j] = (double)cam->R[3 * j + i]; /* c2w = R^T */
    cJSON *rows = NULL;
    bool ok = add_number(o, "id", (double)id) && cJSON_AddStringToObject(o, "img_name", img_name) &&
              add_number(o, "width", cam->width) && add_number(o, "height", cam->height) &&
              add_array(o, "position", c, 3) && (rows = cJSON_AddArrayToObject(o, "rotation"));
    for (int i = 0; ok && i < 3; i++) {
        cJSON *row = cJSON_CreateArray();
        ok = row && cJSON_AddItemToArray(rows, row);
        if (!ok) cJSON_Delete(row);
        for (int j = 0; ok && j < 3; j++) {
            cJSON *x = cJSON_CreateNumber(rot[i][j]);
            ok = x && cJSON_AddItemToArray(row, x);
            if (!ok) cJSON_Delete(x);
        }
    }
    ok = ok && add_number(o, "fy", cam->fy) && add_number(o, "fx", cam->fx) &&
         add_number(o, "cx", cam->cx) && add_number(o, "cy", cam->cy);
    if (ok && cam->time != 0) ok = add_number(o, "time", cam->time);
    if (ok && cam->model != CS_CAMERA_PINHOLE) {
        double d[5];
        for (int k = 0; k < 5; k++) d[k] = cam->dist[k];
        ok = cJSON_AddStringToObject(o, "model", model_keys[cam->model]) &&
             add_array(o, "distortion", d, 5);
    }
    return ok;
}

static bool camera_is_finite(const cs_camera *c) {
    float v[22] = {c->fx, c->fy, c->cx, c->cy, c->time};
    memcpy(v + 5, c->R, sizeof c->R);
    memcpy(v + 14, c->t, sizeof c->t);
    memcpy(v + 17, c->dist, sizeof c->dist);
    for (int i = 0; i < 22; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

cs_status cs__cameras_json_save(cs_context *ctx, const cs_camera_set *set, const char *path) {
    if (set->count == 0)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: the camera set is empty", path);
    for (int64_t i = 0; i < set->count; i++) {
        const cs_camera *c = &set->cams[i];
        if (!camera_is_finite(c) || c->width < 1 || c->height < 1 ||
            (unsigned)c->model > (unsigned)CS_CAMERA_OPENCV)
            return cs__error(ctx, CS_ERR_ARGUMENT,
                             "%s: camera %lld has non-finite values, a "
                             "bad size or an unknown model",
                             path, (long long)i);
    }
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int64_t i = 0; ok && i < set->count; i++)
        ok = write_camera(list, i, &set->cams[i], set->names[i]);
    char *text = ok ? cJSON_Print(list) : NULL;
    cJSON_Delete(list);
    if (!text) return cs__alloc_error(ctx, path, (size_t)set->count * 512);
    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st == CS_OK) st = cs__outfile_write(ctx, &of, text, strlen(text));
    if (st == CS_OK) st = cs__outfile_write(ctx, &of, "\n", 1);
    if (st == CS_OK)
        st = cs__outfile_commit(ctx, &of);
    else
        cs__outfile_abort(&of);
    cJSON_free(text);
    return st;
}
