// The GPU side of a communicator, seen from the CUDA-free core: pointer classification, stream
// helpers, device choice, and DeviceComm — the per-communicator engine that runs collectives on
// device buffers as kernels over peer memory (transports/nvlink, algorithms/cuda). A build
// without CUDA links src/gpu_none.cc, where nothing is a device pointer and DeviceComm cannot
// be created.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "braid/types.h"

namespace braid {

struct OpDesc;

namespace gpu {

// Whether this build has CUDA.
bool built();
// Whether p is device memory (or managed memory) as cudaPointerGetAttributes sees it.
bool isDevicePointer(const void* p);
// Blocks until the stream's work is done (nullptr: the legacy default stream).
Status synchronize(Stream stream);
// Whether the stream is being captured into a CUDA graph.
bool isCapturing(Stream stream);
// Copies between host and device (blocking).
Status copy(void* dst, const void* src, size_t bytes);
// Enqueues a device-to-device copy on the stream.
Status copyAsync(void* dst, const void* src, size_t bytes, Stream stream);
// Makes device (localRank % device count) current on this thread unless a CUDA context is
// already current (the caller chose a device). Returns the device in use, or -1 without GPUs.
int chooseDevice(int localRank);

struct DeviceSetup {
  int rank = 0;
  int size = 1;
  int device = 0;                        // this rank's CUDA device
  std::shared_ptr<Store> store;          // this communicator's key space
  std::vector<std::string> hostIds;      // by rank
  std::chrono::milliseconds timeout{0};  // for setup and for every wait on the device
};

// Runs operations on device buffers. All methods are called with the communicator's executor
// lock held (one at a time).
class DeviceComm {
 public:
  virtual ~DeviceComm() = default;
  // Whether the peers' memory is mapped (every rank on one host, all pairs P2P-capable): the
  // kernel path. Otherwise the communicator stages through host memory.
  virtual bool mapped() const = 0;
  // A one-line description of the links, for logs and braid-info ("nvlink x4, p2p all").
  virtual std::string describe() const = 0;
  // Enqueues d (validated, count > 0, size > 1) on stream.
  virtual Status run(const OpDesc& d, Stream stream) = 0;
  // What the last run() launched, e.g. "two-shot allReduce"; empty before any.
  virtual std::string lastLaunch() const = 0;
  // Enqueues a group of sends and receives as one kernel.
  virtual Status runPointToPoint(const std::vector<OpDesc>& ops, Stream stream) = 0;
  virtual Result<void*> registerBuffer(void* buffer, size_t bytes) = 0;
  virtual Status deregisterBuffer(void* handle) = 0;
  // An error reported by a kernel (timeout, a peer's failure) or the watchdog (a peer died).
  virtual Status error() const = 0;
  // Makes running and future kernels stop waiting (abort, or another failure of this rank).
  virtual void abort(const std::string& reason) = 0;
};

// Sets up device memory and maps the peers' (collective: every rank calls it).
Result<std::unique_ptr<DeviceComm>> createDeviceComm(const DeviceSetup& setup);

}  // namespace gpu
}  // namespace braid
