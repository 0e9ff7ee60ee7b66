// The NVLink (CUDA peer memory) transport: each rank allocates a staging buffer and a flag
// array on its GPU, exports both with CUDA IPC, and maps every peer's through the
// communicator's store, once per communicator. The kernels (algorithms/cuda) then move data by
// writing into peers' memory; the host only sets up, watches for dead peers, and tears down.
//
// Topology: the mapping is used only when every rank is on this host and every pair of GPUs can
// access each other (cudaDeviceCanAccessPeer); the link kind per pair (NVLink when the pair
// supports native atomics over the link, else PCIe) is reported for the algorithm choice and
// logs. Ranks agree through the store, so either all use the kernel path or none does.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "cuda/peer_memory.h"

namespace braid::nvlink {

struct Setup {
  int rank = 0;
  int size = 1;
  int device = 0;
  std::shared_ptr<Store> store;
  std::vector<std::string> hostIds;  // by rank
  std::chrono::milliseconds timeout{0};
  size_t stagingBytes = 0;  // per rank (BRAID_GPU_BUFFER_BYTES)
  size_t llBytes = 0;       // LL payload per writer (BRAID_GPU_LL_BYTES), a multiple of 8
  int lanes = 1;            // BRAID_GPU_BLOCKS
  bool usePeerMemory = true;  // BRAID_GPU_P2P
};

struct Links {
  bool mapped = false;     // kernels can run: every peer's memory is mapped here
  bool allNvlink = false;  // every pair is joined by NVLink (native P2P atomics)
  std::string why;         // when !mapped: the reason (logged)
  std::string text;        // one-line description
};

class PeerMap {
 public:
  // Collective over the communicator's ranks.
  static Result<std::unique_ptr<PeerMap>> create(const Setup& setup);
  ~PeerMap();
  PeerMap(const PeerMap&) = delete;
  PeerMap& operator=(const PeerMap&) = delete;

  const Links& links() const { return links_; }
  // What kernels get: this rank's view of every rank's staging and flags.
  const cuda::PeerMemory& memory() const { return memory_; }
  // A peer process that has exited ("rank 2 (pid 1234) died"), or kOk.
  Status deadPeer() const;
  // The failure a kernel recorded in the shared control words, or kOk.
  Status deviceError() const;
  // Makes every running and future wait of this rank's kernels give up.
  void abort();

 private:
  PeerMap() = default;
  Status init(const Setup& setup);

  Setup setup_;
  Links links_;
  cuda::PeerMemory memory_;
  void* staging_ = nullptr;  // own device allocations
  void* flags_ = nullptr;
  void* counters_ = nullptr;
  cuda::Control* control_ = nullptr;  // host-mapped
  std::vector<void*> opened_;         // peers' IPC mappings to close
  std::vector<int> pidfds_;           // by rank; -1 for self and in-process peers
  std::vector<long long> pids_;
};

}  // namespace braid::nvlink
