/*
 * The few functions of LiteRT's C API (libLiteRt.so, shipped in the ai-edge-litert wheel)
 * that liblitehrnet calls, declared by this project (no LiteRT headers are vendored).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Checked against ai-edge-litert 2.3.0 (the version pinned in pyproject.toml): argument
 * counts by disassembly of the exported symbols, struct layouts by reading back a model's
 * input layout and comparing it with the lite_hrnet metadata at open time (a mismatch is
 * reported as an error, not a crash). The CPU accelerator's options travel as an "opaque
 * option" named "xnnpack" whose payload is a small TOML text ("num_threads = N").
 */
#ifndef LHR_LITERT_API_H
#define LHR_LITERT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int LiteRtStatus; /* 0 = ok */
#define LHR_LITERT_OK 0

typedef struct LiteRtEnvironmentT *LiteRtEnvironment;
typedef struct LiteRtModelT *LiteRtModel;
typedef struct LiteRtOptionsT *LiteRtOptions;
typedef struct LiteRtOpaqueOptionsT *LiteRtOpaqueOptions;
typedef struct LiteRtCompiledModelT *LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT *LiteRtTensorBuffer;
typedef size_t LiteRtParamIndex;

#define LHR_LITERT_HW_CPU 1
#define LHR_LITERT_ELEMENT_FLOAT32 1
#define LHR_LITERT_ELEMENT_UINT8 3
#define LHR_LITERT_LOCK_READ 0
#define LHR_LITERT_MAX_RANK 8
/* Host buffers handed to LiteRT must be aligned to this many bytes. */
#define LHR_LITERT_HOST_ALIGNMENT 64

typedef struct {
    unsigned int rank : 7;
    bool has_strides : 1;
    int32_t dimensions[LHR_LITERT_MAX_RANK];
    uint32_t strides[LHR_LITERT_MAX_RANK];
} LiteRtLayout;

typedef struct {
    int element_type;
    LiteRtLayout layout;
} LiteRtRankedTensorType;

LiteRtStatus LiteRtCreateEnvironment(int num_options, const void *options, LiteRtEnvironment *environment);
void LiteRtDestroyEnvironment(LiteRtEnvironment environment);

LiteRtStatus LiteRtCreateModelFromBuffer(LiteRtEnvironment environment, const void *buffer, size_t size,
                                         LiteRtModel *model);
void LiteRtDestroyModel(LiteRtModel model);

LiteRtStatus LiteRtCreateOptions(LiteRtOptions *options);
void LiteRtDestroyOptions(LiteRtOptions options);
LiteRtStatus LiteRtSetOptionsHardwareAccelerators(LiteRtOptions options, int accelerators);
/* `options` takes ownership of `opaque`. */
LiteRtStatus LiteRtAddOpaqueOptions(LiteRtOptions options, LiteRtOpaqueOptions opaque);
LiteRtStatus LiteRtCreateOpaqueOptions(const char *identifier, void *payload, void (*payload_destructor)(void *),
                                       LiteRtOpaqueOptions *opaque);
void LiteRtDestroyOpaqueOptions(LiteRtOpaqueOptions opaque);

LiteRtStatus LiteRtCreateCompiledModel(LiteRtEnvironment environment, LiteRtModel model, LiteRtOptions options,
                                       LiteRtCompiledModel *compiled);
void LiteRtDestroyCompiledModel(LiteRtCompiledModel compiled);
LiteRtStatus LiteRtGetCompiledModelInputTensorLayout(LiteRtCompiledModel compiled, LiteRtParamIndex signature,
                                                     LiteRtParamIndex input, LiteRtLayout *layout);
LiteRtStatus LiteRtGetCompiledModelOutputTensorLayouts(LiteRtCompiledModel compiled, LiteRtParamIndex signature,
                                                       size_t num_layouts, LiteRtLayout *layouts,
                                                       bool update_allocation);
LiteRtStatus LiteRtCompiledModelResizeInputTensor(LiteRtCompiledModel compiled, LiteRtParamIndex signature,
                                                  LiteRtParamIndex input, const int *dims, size_t num_dims);
LiteRtStatus LiteRtCompiledModelResizeInputTensorNonStrict(LiteRtCompiledModel compiled,
                                                           LiteRtParamIndex signature, LiteRtParamIndex input,
                                                           const int *dims, size_t num_dims);
LiteRtStatus LiteRtRunCompiledModel(LiteRtCompiledModel compiled, LiteRtParamIndex signature, size_t num_inputs,
                                    LiteRtTensorBuffer *inputs, size_t num_outputs, LiteRtTensorBuffer *outputs);

/* `host` must be LHR_LITERT_HOST_ALIGNMENT-aligned; a NULL deallocator leaves it to the caller. */
LiteRtStatus LiteRtCreateTensorBufferFromHostMemory(const LiteRtRankedTensorType *type, void *host, size_t size,
                                                    void (*deallocator)(void *), LiteRtTensorBuffer *buffer);
LiteRtStatus LiteRtLockTensorBuffer(LiteRtTensorBuffer buffer, void **host, int mode);
LiteRtStatus LiteRtUnlockTensorBuffer(LiteRtTensorBuffer buffer);
void LiteRtDestroyTensorBuffer(LiteRtTensorBuffer buffer);

#ifdef __cplusplus
}
#endif

#endif /* LHR_LITERT_API_H */
