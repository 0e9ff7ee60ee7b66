// The CUDA implementation of src/gpu.h's helpers: pointer classification, stream helpers and
// the choice of device for a new communicator.
#include "gpu.h"

#include <cuda_runtime.h>
#include <fmt/format.h>

namespace braid::gpu {
namespace {

Status check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status();
  cudaGetLastError();
  return systemError(fmt::format("{}: {}", what, cudaGetErrorString(e)));
}

// Whether a CUDA context is current on this thread (the caller already chose a device). The
// driver's cuCtxGetCurrent is looked up at run time: braid does not link the driver library.
bool contextCurrent() {
  using CtxGetCurrent = int (*)(void**);
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000, cudaEnableDefault, &found) !=
          cudaSuccess ||
      fn == nullptr) {
    cudaGetLastError();
    return false;
  }
  void* ctx = nullptr;
  return reinterpret_cast<CtxGetCurrent>(fn)(&ctx) == 0 && ctx != nullptr;
}

}  // namespace

bool built() { return true; }

bool isDevicePointer(const void* p) {
  if (p == nullptr) return false;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

Status synchronize(Stream stream) {
  cudaError_t e = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
  // No GPU (or no driver): the default stream has nothing to wait for.
  if (stream == nullptr && (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)) {
    cudaGetLastError();
    return Status();
  }
  return check(e, "cudaStreamSynchronize");
}

bool isCapturing(Stream stream) {
  cudaStreamCaptureStatus s = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &s) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return s != cudaStreamCaptureStatusNone;
}

Status copy(void* dst, const void* src, size_t bytes) {
  return check(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault), "cudaMemcpy");
}

Status copyAsync(void* dst, const void* src, size_t bytes, Stream stream) {
  return check(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)),
      "cudaMemcpyAsync");
}

int chooseDevice(int localRank) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return -1;
  }
  int device = 0;
  if (contextCurrent()) {
    cudaGetDevice(&device);
    return device;
  }
  device = localRank % count;
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return device;
}

}  // namespace braid::gpu
