// Which GPU kernel runs a collective, with what arguments: the direct kernels where the buffers
// lie in registered windows, else through the staging buffers by kind and size (LL, LL128,
// staged one-shot or two-shot, chain or scatter + allGather broadcast). The choice itself is
// kernel_plan.h and the staged kernels' arguments kernel_args.h (both pure, tested on the CPU);
// this finds the direct kernels' windows and launches; device_comm.cc owns ordering, errors and
// the watchdog.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/kernel_plan.h"
#include "nvlink/transport.h"
#include "op_desc.h"
#include "params.h"

namespace braid::gpu {

// Enqueues collective d (any kind but send and receive; count > 0, more than one rank) on s.
// *what names the kernel (a string literal). Errors: a bad BRAID_GPU_ALGO, a kind with no GPU
// algorithm; the launch's own error is the cudaError_t.
Result<cudaError_t> launchCollective(const nvlink::PeerMap& map, const Params& p, const OpDesc& d,
                                     cudaStream_t s, const char** what);

}  // namespace braid::gpu
