/*
 * litehrnet_jni.c - the JNI glue of io.github.litehrnet.NativeApi over litehrnet.h.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Thin on purpose: each function checks what it touches (handles, array lengths), calls the C
 * library once and turns its status into a Java exception. The pose logic lives in the C library
 * and in the Java classes, where it is tested.
 *
 * Exceptions: LHR_ERR_INVALID_ARGUMENT -> IllegalArgumentException, other errors ->
 * io.github.litehrnet.LiteHrnetException (via its fromNative factory, with the C message).
 * Pixel arrays are copied into native memory for the call (GetByteArrayRegion), so that no array
 * is pinned while LiteRT runs; direct buffers are read in place.
 */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litehrnet.h"

#define NATIVE(name) Java_io_github_litehrnet_NativeApi_##name

static void throw_class(JNIEnv *env, const char *cls, const char *message) {
    jclass c = (*env)->FindClass(env, cls);
    if (c != NULL) {
        (*env)->ThrowNew(env, c, message);
    }
}

/* Throw for a failed lhr_status, with `message` (never NULL). */
static void throw_status(JNIEnv *env, lhr_status status, const char *message) {
    if (status == LHR_ERR_INVALID_ARGUMENT) {
        throw_class(env, "java/lang/IllegalArgumentException", message);
        return;
    }
    jclass c = (*env)->FindClass(env, "io/github/litehrnet/LiteHrnetException");
    if (c == NULL) {
        return; /* NoClassDefFoundError pending */
    }
    jmethodID make = (*env)->GetStaticMethodID(env, c, "fromNative",
                                               "(ILjava/lang/String;)Lio/github/litehrnet/LiteHrnetException;");
    if (make == NULL) {
        return;
    }
    jstring text = (*env)->NewStringUTF(env, message);
    if (text == NULL) {
        return;
    }
    jobject error = (*env)->CallStaticObjectMethod(env, c, make, (jint)status, text);
    if (error != NULL && !(*env)->ExceptionCheck(env)) {
        (*env)->Throw(env, (jthrowable)error);
    }
}

/* The model's last error, or a fallback naming the status when the library left none. */
static const char *last_error(const lhr_model *model, lhr_status status, char *buffer, size_t size) {
    const char *message = lhr_model_last_error(model);
    if (message != NULL && message[0] != '\0') {
        return message;
    }
    snprintf(buffer, size, "liblitehrnet failed with status %d", (int)status);
    return buffer;
}

static lhr_model *model_of(JNIEnv *env, jlong handle) {
    if (handle == 0) {
        throw_class(env, "java/lang/IllegalStateException", "the model is closed");
        return NULL;
    }
    return (lhr_model *)(intptr_t)handle;
}

JNIEXPORT jstring JNICALL NATIVE(version)(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, lhr_version());
}

JNIEXPORT jlong JNICALL NATIVE(open)(JNIEnv *env, jclass cls, jstring path, jint threads) {
    (void)cls;
    if (path == NULL) {
        throw_class(env, "java/lang/NullPointerException", "model path must not be null");
        return 0;
    }
    const char *utf = (*env)->GetStringUTFChars(env, path, NULL);
    if (utf == NULL) {
        return 0; /* OutOfMemoryError pending */
    }
    char message[LHR_ERROR_SIZE];
    message[0] = '\0';
    lhr_model *model = NULL;
    lhr_status status = lhr_model_open(utf, (int)threads, &model, message, sizeof message);
    (*env)->ReleaseStringUTFChars(env, path, utf);
    if (status != LHR_OK) {
        if (message[0] == '\0') {
            snprintf(message, sizeof message, "cannot open the model (status %d)", (int)status);
        }
        throw_status(env, status, message);
        return 0;
    }
    return (jlong)(intptr_t)model;
}

JNIEXPORT void JNICALL NATIVE(close)(JNIEnv *env, jclass cls, jlong handle) {
    (void)env;
    (void)cls;
    lhr_model_close((lhr_model *)(intptr_t)handle);
}

JNIEXPORT jintArray JNICALL NATIVE(info)(JNIEnv *env, jclass cls, jlong handle) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return NULL;
    }
    jint values[6] = {
        lhr_model_input_height(model), lhr_model_input_width(model), lhr_model_num_joints(model),
        lhr_model_heatmap_stride(model), lhr_model_is_end_to_end(model), lhr_model_max_batch(model),
    };
    jintArray out = (*env)->NewIntArray(env, 6);
    if (out != NULL) {
        (*env)->SetIntArrayRegion(env, out, 0, 6, values);
    }
    return out;
}

JNIEXPORT jobjectArray JNICALL NATIVE(jointNames)(JNIEnv *env, jclass cls, jlong handle) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return NULL;
    }
    int k = lhr_model_num_joints(model);
    jclass string_class = (*env)->FindClass(env, "java/lang/String");
    if (string_class == NULL) {
        return NULL;
    }
    jobjectArray out = (*env)->NewObjectArray(env, k, string_class, NULL);
    for (int i = 0; out != NULL && i < k; i++) {
        const char *name = lhr_model_joint_name(model, i);
        if (name == NULL) {
            continue;
        }
        jstring text = (*env)->NewStringUTF(env, name);
        if (text == NULL) {
            return NULL;
        }
        (*env)->SetObjectArrayElement(env, out, i, text);
        (*env)->DeleteLocalRef(env, text);
    }
    return out;
}

JNIEXPORT jintArray JNICALL NATIVE(pairs)(JNIEnv *env, jclass cls, jlong handle, jboolean skeleton) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return NULL;
    }
    int n = skeleton ? lhr_model_num_skeleton_edges(model) : lhr_model_num_flip_pairs(model);
    if (n < 0) {
        n = 0;
    }
    jintArray out = (*env)->NewIntArray(env, 2 * n);
    for (int i = 0; out != NULL && i < n; i++) {
        int a = -1, b = -1;
        lhr_status status = skeleton ? lhr_model_skeleton_edge(model, i, &a, &b) : lhr_model_flip_pair(model, i, &a, &b);
        if (status != LHR_OK) {
            char fallback[64];
            throw_status(env, status, last_error(model, status, fallback, sizeof fallback));
            return NULL;
        }
        jint pair[2] = {a, b};
        (*env)->SetIntArrayRegion(env, out, 2 * i, 2, pair);
    }
    return out;
}

JNIEXPORT jstring JNICALL NATIVE(text)(JNIEnv *env, jclass cls, jlong handle, jint which) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return NULL;
    }
    const char *text = which == 0 ? lhr_model_name(model)
                       : which == 1 ? lhr_model_color_order(model)
                                    : lhr_model_metadata_json(model);
    return text == NULL ? NULL : (*env)->NewStringUTF(env, text);
}

/* Checks the output arrays and runs lhr_predict on `pixels`; throws on failure. */
static void predict(JNIEnv *env, lhr_model *model, const uint8_t *pixels, jint width, jint height, jint row_stride,
                    jint format, jfloatArray boxes, jint num_boxes, jfloatArray keypoints, jfloatArray scores) {
    int k = lhr_model_num_joints(model);
    if (boxes == NULL || keypoints == NULL || scores == NULL) {
        throw_class(env, "java/lang/NullPointerException", "boxes, keypoints and scores must not be null");
        return;
    }
    if (num_boxes < 0 || (int64_t)(*env)->GetArrayLength(env, boxes) < 4 * (int64_t)num_boxes ||
        (int64_t)(*env)->GetArrayLength(env, keypoints) < 2 * (int64_t)num_boxes * k ||
        (int64_t)(*env)->GetArrayLength(env, scores) < (int64_t)num_boxes * k) {
        throw_class(env, "java/lang/IllegalArgumentException", "boxes, keypoints or scores too short for the boxes");
        return;
    }
    if (num_boxes == 0) {
        return;
    }
    size_t n = (size_t)num_boxes;
    float *box_values = malloc(n * 4 * sizeof(float));
    float *keypoint_values = malloc(n * (size_t)k * 2 * sizeof(float));
    float *score_values = malloc(n * (size_t)k * sizeof(float));
    if (box_values == NULL || keypoint_values == NULL || score_values == NULL) {
        free(box_values);
        free(keypoint_values);
        free(score_values);
        throw_class(env, "java/lang/OutOfMemoryError", "lite-hrnet: no memory for the keypoints");
        return;
    }
    (*env)->GetFloatArrayRegion(env, boxes, 0, num_boxes * 4, box_values);
    lhr_status status = lhr_predict(model, pixels, width, height, row_stride, (lhr_pixel_format)format, box_values,
                                    num_boxes, keypoint_values, score_values);
    if (status == LHR_OK) {
        (*env)->SetFloatArrayRegion(env, keypoints, 0, num_boxes * k * 2, keypoint_values);
        (*env)->SetFloatArrayRegion(env, scores, 0, num_boxes * k, score_values);
    } else {
        char fallback[64];
        throw_status(env, status, last_error(model, status, fallback, sizeof fallback));
    }
    free(box_values);
    free(keypoint_values);
    free(score_values);
}

/* Bytes the image spans: (height - 1) rows of row_stride plus one row of pixels; -1 (with an exception
 * thrown) for an unknown format or a bad size or stride. */
static int64_t image_span(JNIEnv *env, jint width, jint height, jint row_stride, jint format) {
    if (format != LHR_PIXEL_RGB && format != LHR_PIXEL_BGR && format != LHR_PIXEL_RGBA) {
        throw_class(env, "java/lang/IllegalArgumentException", "pixels: unknown pixel format code");
        return -1;
    }
    int channels = format == LHR_PIXEL_RGBA ? 4 : 3;
    if (width <= 0 || height <= 0 || row_stride < (int64_t)width * channels) {
        throw_class(env, "java/lang/IllegalArgumentException", "pixels: bad image size or row stride");
        return -1;
    }
    return (int64_t)(height - 1) * row_stride + (int64_t)width * channels;
}

JNIEXPORT void JNICALL NATIVE(predictBytes)(JNIEnv *env, jclass cls, jlong handle, jbyteArray pixels, jint offset,
                                            jint width, jint height, jint row_stride, jint format, jfloatArray boxes,
                                            jint num_boxes, jfloatArray keypoints, jfloatArray scores) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return;
    }
    if (pixels == NULL) {
        throw_class(env, "java/lang/NullPointerException", "pixels must not be null");
        return;
    }
    int64_t span = image_span(env, width, height, row_stride, format);
    if (span < 0) {
        return;
    }
    if (offset < 0 || (int64_t)offset + span > (int64_t)(*env)->GetArrayLength(env, pixels)) {
        throw_class(env, "java/lang/IllegalArgumentException", "pixels: the array is too short for the image size");
        return;
    }
    uint8_t *copy = malloc((size_t)span);
    if (copy == NULL) {
        throw_class(env, "java/lang/OutOfMemoryError", "lite-hrnet: no memory for the image");
        return;
    }
    (*env)->GetByteArrayRegion(env, pixels, offset, (jsize)span, (jbyte *)copy);
    predict(env, model, copy, width, height, row_stride, format, boxes, num_boxes, keypoints, scores);
    free(copy);
}

JNIEXPORT void JNICALL NATIVE(predictBuffer)(JNIEnv *env, jclass cls, jlong handle, jobject pixels, jint offset,
                                             jint width, jint height, jint row_stride, jint format, jfloatArray boxes,
                                             jint num_boxes, jfloatArray keypoints, jfloatArray scores) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return;
    }
    if (pixels == NULL) {
        throw_class(env, "java/lang/NullPointerException", "pixels must not be null");
        return;
    }
    uint8_t *address = (*env)->GetDirectBufferAddress(env, pixels);
    jlong capacity = (*env)->GetDirectBufferCapacity(env, pixels);
    if (address == NULL || capacity < 0) {
        throw_class(env, "java/lang/IllegalArgumentException", "pixels: not a direct ByteBuffer");
        return;
    }
    int64_t span = image_span(env, width, height, row_stride, format);
    if (span < 0) {
        return;
    }
    if (offset < 0 || (int64_t)offset + span > (int64_t)capacity) {
        throw_class(env, "java/lang/IllegalArgumentException", "pixels: the buffer is too short for the image size");
        return;
    }
    predict(env, model, address + offset, width, height, row_stride, format, boxes, num_boxes, keypoints, scores);
}

JNIEXPORT jdoubleArray JNICALL NATIVE(lastTimings)(JNIEnv *env, jclass cls, jlong handle) {
    (void)cls;
    lhr_model *model = model_of(env, handle);
    if (model == NULL) {
        return NULL;
    }
    lhr_timings timings;
    memset(&timings, 0, sizeof timings);
    lhr_status status = lhr_model_last_timings(model, &timings);
    if (status != LHR_OK) {
        char fallback[64];
        throw_status(env, status, last_error(model, status, fallback, sizeof fallback));
        return NULL;
    }
    jdouble values[5] = {timings.crop_ms, timings.inference_ms, timings.decode_ms, timings.persons, timings.batches};
    jdoubleArray out = (*env)->NewDoubleArray(env, 5);
    if (out != NULL) {
        (*env)->SetDoubleArrayRegion(env, out, 0, 5, values);
    }
    return out;
}
