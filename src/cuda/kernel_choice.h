// Which GPU kernel runs a collective, with what arguments: the direct kernels where the buffers
// lie in registered windows, else through the staging buffers by kind and size (LL, LL128,
// staged one-shot or two-shot, chain or scatter + allGather broadcast). Pure choice and argument
// filling apart from the one launch; device_comm.cc owns ordering, errors and the watchdog.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "nvlink/transport.h"
#include "op_desc.h"
#include "params.h"

namespace braid::gpu {

// Enqueues collective d (any kind but send and receive; count > 0, more than one rank) on s.
// *what names the kernel (a string literal). Errors: a bad BRAID_GPU_ALGO, a kind with no GPU
// algorithm; the launch's own error is the cudaError_t.
Result<cudaError_t> launchCollective(const nvlink::PeerMap& map, const Params& p, const OpDesc& d,
                                     cudaStream_t s, const char** what);

// The LL128 slot size for a communicator of `ranks` from BRAID_GPU_LL128_BYTES (-1: the default
// for that many ranks).
size_t ll128BytesFor(int64_t setting, int ranks);

}  // namespace braid::gpu
