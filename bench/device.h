// Where braid-bench's buffers live and how it times calls there: host memory timed by the
// wall clock (--device cpu), or the rank's own CUDA device, its buffers from cudaMalloc and its
// calls timed by CUDA events on the rank's stream (--device cuda). Inputs and expected results
// are always built on the host (Buffers); a device mirrors them and copies results back to check.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "collective.h"

namespace braid::bench {

class Device {
 public:
  virtual ~Device() = default;
  // "cpu", or e.g. "cuda:1 (NVIDIA H200)".
  virtual std::string name() const = 0;
  // The stream calls are enqueued on (nullptr: host buffers, calls complete on return).
  virtual Stream stream() const { return nullptr; }
  // The Call for buf in this placement, pointing at this device's memory. With fill, fresh
  // exact inputs (and, out of place, a poisoned output) are in place before the call runs.
  virtual Result<Call> prepare(Buffers& buf, bool inPlace, bool fill, bool rsInPlaceAtStart) = 0;
  // After a call on buf: elements of this rank's result that differ from the exact expectation.
  virtual Result<uint64_t> wrong(Buffers& buf, bool inPlace, bool rsInPlaceAtStart) = 0;
  // Runs call `iterations` times back to back: (*eachUs)[i] is the time of the i-th call,
  // *totalUs the time of them all, *issueUs the host's wall-clock for making the calls (on a
  // stream: enqueueing them; it equals *totalUs where calls complete on return).
  virtual Status time(Backend& b, const Call& call, int iterations, std::vector<double>* eachUs,
                      double* totalUs, double* issueUs) = 0;
  // Waits until everything this rank enqueued has finished (and reports its errors).
  virtual Status sync() = 0;
  // The buffers every call uses (device buffers, for registration with -R 1); none on the CPU.
  virtual std::vector<std::pair<void*, size_t>> buffers() const { return {}; }
};

std::unique_ptr<Device> makeCpuDevice();
// The GPU of this process: the only visible one, or the one numbered by the launcher's local
// rank (LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID). Send and receive buffers of
// capacityBytes each are allocated up front. Timed calls run between two CUDA events (every
// call's time is the mean), or with perCallTiming an event after each call too. Fails with a
// one-line reason without a GPU or without CUDA in the build.
Result<std::unique_ptr<Device>> makeCudaDevice(size_t capacityBytes, bool perCallTiming);

}  // namespace braid::bench
