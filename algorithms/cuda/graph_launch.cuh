// Kernel launches as relaunches of cached one-node CUDA graphs. On the GPU hosts we use a kernel
// launch costs 3.3-4.8 us of host time whatever the API, and relaunching an instantiated
// one-node graph 1.3-1.9 us (docs/results/2026-11-22-gpu-h200x4-ll): eager small collectives
// are bound by that. A launch whose kernel, shape and argument bytes this process launched
// before on this device relaunches that launch's graph (a trainer's gradient buckets and a
// benchmark loop repeat theirs); a launch seen for the first time is only remembered, so
// arguments that never repeat cost a lookup and a plain launch. While the stream is being
// captured, and with BRAID_GPU_GRAPH_LAUNCH=0, every launch is a plain one.
//
// The kernels must take everything that changes between calls from their arguments or from
// device memory (the collectives' sequence counters live on the device), never from host
// state read at launch.
#pragma once

#include <cuda_runtime.h>

#include <cstring>
#include <tuple>
#include <type_traits>

namespace braid::cuda {

// The launch: `args` points at each argument, `key`/`keyBytes` are the arguments' bytes.
cudaError_t launchThroughGraph(const void* kernel, dim3 grid, dim3 block, void** args,
                               const unsigned char* key, size_t keyBytes, cudaStream_t stream);

template <typename... Params, typename... Args>
cudaError_t launch(void (*kernel)(Params...), int blocks, int threads, cudaStream_t stream,
                   const Args&... args) {
  static_assert(sizeof...(Params) > 0 && sizeof...(Params) == sizeof...(Args));
  static_assert((std::is_trivially_copyable_v<Params> && ...));
  std::tuple<Params...> values(static_cast<Params>(args)...);
  unsigned char key[(sizeof(Params) + ...)];
  void* pointers[sizeof...(Params)];
  std::apply(
      [&](auto&... v) {
        size_t at = 0, i = 0;
        ((std::memcpy(key + at, &v, sizeof(v)), at += sizeof(v), pointers[i++] = &v), ...);
      },
      values);
  return launchThroughGraph(reinterpret_cast<const void*>(kernel), dim3(blocks), dim3(threads),
                            pointers, key, sizeof(key), stream);
}

}  // namespace braid::cuda
