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
#include <map>
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
  size_t stagingBytes = 0;    // per rank (BRAID_GPU_BUFFER_BYTES)
  size_t llBytes = 0;         // LL payload per writer (BRAID_GPU_LL_BYTES), a multiple of 8
  size_t ll128Bytes = 0;      // LL128 payload per writer (BRAID_GPU_LL128_BYTES); 0: no region
  int lanes = 1;              // BRAID_GPU_BLOCKS
  bool usePeerMemory = true;  // BRAID_GPU_P2P
};

struct Links {
  bool mapped = false;     // kernels can run: every peer's memory is mapped here
  bool allNvlink = false;  // every pair is joined by NVLink (native P2P atomics)
  std::string why;         // when !mapped: the reason (logged)
  std::string text;        // one-line description
};

// Makes `device` current for a scope, restoring the caller's device afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int old_ = 0;
};

// A registered buffer (registerWindow), every rank's as mapped here. Calls use the same offset
// in it on every rank (symmetric memory, like NCCL's windows).
struct Window {
  int id = 0;
  size_t bytes = 0;                     // the smallest rank's buffer: usable on every rank
  uint8_t* base[cuda::kMaxRanks] = {};  // [rank]: that rank's buffer; [own rank]: the caller's
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

  // Maps every rank's buffer of this registration (collective: every rank calls it, in the same
  // order, with its own buffer). Fails on every rank alike, naming the rank, when a buffer cannot
  // be exported or mapped (e.g. memory from a pool without IPC). Needs links().mapped.
  Result<int> registerWindow(void* buffer, size_t bytes);
  // Unmaps the peers' buffers of window id after this device's work finished.
  Status deregisterWindow(int id);
  // The window holding [p, p + bytes) of this rank's memory and p's offset in it, or nullptr.
  const Window* findWindow(const void* p, size_t bytes, size_t* offset) const;

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
  int windowsRegistered_ = 0;         // registrations so far: the next one's id
  std::map<int, Window> windows_;
  // Peers' allocations mapped for windows, by (rank, IPC handle bytes): address and users.
  std::map<std::pair<int, std::string>, std::pair<void*, int>> windowMappings_;
  std::map<int, std::vector<std::pair<int, std::string>>> windowKeys_;  // by window id
  std::vector<int> pidfds_;  // by rank; -1 for self and in-process peers
  std::vector<long long> pids_;
};

}  // namespace braid::nvlink
