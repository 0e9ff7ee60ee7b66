// Empty kernels for the latency mode of braid-test-gpu-worker: the host cost of a bare launch,
// with no parameters and with parameters the size of the collective kernels' (PeerMemory + args).
#include <cuda_runtime.h>

#include "cuda/peer_memory.h"

namespace braid::testing {
namespace {
struct Args {
  braid::cuda::PeerMemory m;
  char extra[64];
};
__global__ void emptyKernel() {}
__global__ void emptyKernelWithArgs(Args a) {
  if (a.m.rank == -12345) a.m.counters->blocksDone = 1;
}
}  // namespace

// mode 0: <<<>>>; 1: cudaLaunchKernel; 2: the driver's cuLaunchKernel on the cached function.
cudaError_t launchEmptyHow(cudaStream_t s, int mode) {
  using LaunchFn = int (*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                           unsigned, void*, void**, void**);
  static LaunchFn driverLaunch = nullptr;
  static void* function = nullptr;
  if (mode == 1) {
    return cudaLaunchKernel(reinterpret_cast<const void*>(&emptyKernel), dim3(1), dim3(32), nullptr,
                            0, s);
  }
  if (mode == 2) {
    if (driverLaunch == nullptr) {
      cudaDriverEntryPointQueryResult q;
      void* fn = nullptr;
      cudaGetDriverEntryPointByVersion("cuLaunchKernel", &fn, 12000, cudaEnableDefault, &q);
      driverLaunch = reinterpret_cast<LaunchFn>(fn);
      cudaFunction_t f;
      cudaGetFuncBySymbol(&f, reinterpret_cast<const void*>(&emptyKernel));
      function = f;
    }
    return driverLaunch(function, 1, 1, 1, 32, 1, 1, 0, s, nullptr, nullptr) == 0
               ? cudaSuccess
               : cudaErrorLaunchFailure;
  }
  emptyKernel<<<1, 32, 0, s>>>();
  return cudaGetLastError();
}

cudaError_t launchEmpty(cudaStream_t s, bool withArgs, int threads) {
  if (withArgs) {
    emptyKernelWithArgs<<<1, threads, 0, s>>>(Args{});
  } else {
    emptyKernel<<<1, threads, 0, s>>>();
  }
  return cudaGetLastError();
}
}  // namespace braid::testing
