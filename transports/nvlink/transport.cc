// PeerMap: allocation, CUDA IPC export/import through the store, the all-ranks agreement on
// whether kernels can run, peer-death detection (pidfds) and teardown.
#include "nvlink/transport.h"

#include <cuda_runtime.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "logging.h"
#include "store_values.h"

namespace braid::nvlink {
namespace {

using std::chrono::milliseconds;

Status cudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status();
  return systemError(fmt::format("{}: {} ({})", what, cudaGetErrorString(e), cudaGetErrorName(e)));
}
#define BRAID_CUDA_RETURN(call) BRAID_RETURN_IF_ERROR(cudaStatus((call), #call))

// What a rank publishes about its memory.
struct Info {
  int64_t pid;
  char busId[32];
  cudaIpcMemHandle_t staging;
  cudaIpcMemHandle_t flags;
  uint64_t stagingPtr;  // for ranks in the same process (IPC handles cannot be opened there)
  uint64_t flagsPtr;
  uint64_t partBytes;
  uint64_t llBytes;
  uint64_t ll128Bytes;
  int32_t lanes;
  int32_t device;
};

bool exited(int pidfd) {
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

}  // namespace

DeviceGuard::DeviceGuard(int device) {
  cudaGetDevice(&old_);
  if (old_ != device) cudaSetDevice(device);
}
DeviceGuard::~DeviceGuard() {
  int now = 0;
  cudaGetDevice(&now);
  if (now != old_) cudaSetDevice(old_);
}

Result<std::unique_ptr<PeerMap>> PeerMap::create(const Setup& setup) {
  std::unique_ptr<PeerMap> m(new PeerMap());
  BRAID_RETURN_IF_ERROR(m->init(setup));
  return m;
}

Status PeerMap::init(const Setup& s) {
  setup_ = s;
  const int n = s.size, me = s.rank;
  pidfds_.assign(n, -1);
  pids_.assign(n, 0);
  // Decisions every rank makes alike from what all know.
  if (n > cuda::kMaxRanks) {
    links_.why = fmt::format("{} ranks (GPU kernels handle up to {})", n, cuda::kMaxRanks);
    return Status();
  }
  for (int r = 0; r < n; ++r) {
    if (s.hostIds[r] != s.hostIds[me]) {
      links_.why = fmt::format("rank {} is on another host", r);
      return Status();
    }
  }
  if (!s.usePeerMemory) {
    links_.why = "BRAID_GPU_P2P=0";
    return Status();
  }
  const int lanes = std::clamp(s.lanes, 1, cuda::kMaxLanes);
  const size_t parts = cuda::stagingParts(n, lanes);
  const size_t partBytes = s.stagingBytes / parts / 256 * 256;
  if (partBytes < 4096) {
    return invalidArgument(fmt::format(
        "BRAID_GPU_BUFFER_BYTES={} is too small for {} ranks x {} blocks (needs at least {})",
        s.stagingBytes, n, lanes, parts * 4096));
  }

  const size_t llBytes = s.llBytes / 8 * 8;
  const size_t llOffset = partBytes * parts;
  const size_t llRegion = cuda::llRegionBytes(n, llBytes);
  const size_t ll128Bytes = s.ll128Bytes / 8 * 8;
  const size_t ll128Offset = (llOffset + llRegion + 255) / 256 * 256;  // lines stay aligned
  const size_t ll128Region = cuda::ll128RegionBytes(n, ll128Bytes);

  DeviceGuard guard(s.device);
  BRAID_CUDA_RETURN(cudaMalloc(&staging_, ll128Offset + ll128Region));
  BRAID_CUDA_RETURN(cudaMemset(static_cast<uint8_t*>(staging_) + llOffset, 0,
                               ll128Offset + ll128Region - llOffset));
  const size_t flagBytes = cuda::flagWords(n, lanes) * sizeof(uint64_t);
  BRAID_CUDA_RETURN(cudaMalloc(&flags_, flagBytes));
  BRAID_CUDA_RETURN(cudaMalloc(&counters_, sizeof(cuda::Counters)));
  BRAID_CUDA_RETURN(cudaMemset(flags_, 0, flagBytes));
  BRAID_CUDA_RETURN(cudaMemset(counters_, 0, sizeof(cuda::Counters)));
  BRAID_CUDA_RETURN(cudaHostAlloc(reinterpret_cast<void**>(&control_), sizeof(cuda::Control),
                                  cudaHostAllocMapped));
  std::memset(control_, 0, sizeof(cuda::Control));
  BRAID_CUDA_RETURN(cudaDeviceSynchronize());

  Info mine{};
  mine.pid = getpid();
  BRAID_CUDA_RETURN(cudaDeviceGetPCIBusId(mine.busId, sizeof(mine.busId), s.device));
  BRAID_CUDA_RETURN(cudaIpcGetMemHandle(&mine.staging, staging_));
  BRAID_CUDA_RETURN(cudaIpcGetMemHandle(&mine.flags, flags_));
  mine.stagingPtr = reinterpret_cast<uintptr_t>(staging_);
  mine.flagsPtr = reinterpret_cast<uintptr_t>(flags_);
  mine.partBytes = partBytes;
  mine.llBytes = llBytes;
  mine.ll128Bytes = ll128Bytes;
  mine.lanes = lanes;
  mine.device = s.device;
  BRAID_RETURN_IF_ERROR(setValue(*s.store, fmt::format("nvlink/info/{}", me), mine));

  memory_.rank = me;
  memory_.size = n;
  memory_.lanes = lanes;
  memory_.partBytes = partBytes;
  memory_.llOffset = llOffset;
  memory_.llBytes = llBytes;
  memory_.ll128Offset = ll128Offset;
  memory_.ll128Bytes = ll128Bytes;
  memory_.staging[me] = static_cast<uint8_t*>(staging_);
  memory_.flags[me] = static_cast<uint64_t*>(flags_);
  memory_.counters = static_cast<cuda::Counters*>(counters_);
  void* controlDevice = nullptr;
  BRAID_CUDA_RETURN(cudaHostGetDevicePointer(&controlDevice, control_, 0));
  memory_.control = static_cast<cuda::Control*>(controlDevice);
  memory_.timeoutNs = static_cast<uint64_t>(s.timeout.count()) * 1000000ull;

  // Map every peer; any failure is this rank's vote against the kernel path.
  std::string problem;
  bool nvlinkAll = true;
  bool sharedGpu = false;  // a peer on this GPU (another process: braid-run with more ranks)
  std::string perPeer;
  for (int r = 0; r < n; ++r) {
    if (r == me) continue;
    auto got = getValue<Info>(*s.store, fmt::format("nvlink/info/{}", r), s.timeout, "nvlink info");
    if (!got.isOk()) return got.status();
    Info info = *got;
    info.busId[sizeof(info.busId) - 1] = '\0';
    pids_[r] = info.pid;
    if (info.partBytes != partBytes || info.lanes != lanes || info.llBytes != llBytes ||
        info.ll128Bytes != ll128Bytes) {
      return invalidArgument(fmt::format(
          "rank {} uses another GPU staging layout ({} x {} B, LL {} B, LL128 {} B vs {} x {} B, "
          "LL {} B, LL128 {} B): set BRAID_GPU_BUFFER_BYTES, BRAID_GPU_BLOCKS, "
          "BRAID_GPU_LL_BYTES and BRAID_GPU_LL128_BYTES alike on every rank",
          r, info.lanes, info.partBytes, info.llBytes, info.ll128Bytes, lanes, partBytes, llBytes,
          ll128Bytes));
    }
    int peerDevice = -1;
    if (cudaDeviceGetByPCIBusId(&peerDevice, info.busId) != cudaSuccess) {
      cudaGetLastError();
      problem = fmt::format("rank {}'s GPU {} is not visible here", r, info.busId);
      continue;
    }
    int access = 1, native = 1;
    const bool sameGpu = peerDevice == s.device;
    sharedGpu = sharedGpu || sameGpu;
    if (!sameGpu) {
      cudaDeviceCanAccessPeer(&access, s.device, peerDevice);
      cudaDeviceGetP2PAttribute(&native, cudaDevP2PAttrNativeAtomicSupported, s.device, peerDevice);
      if (access) {
        cudaError_t e = cudaDeviceEnablePeerAccess(peerDevice, 0);
        if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled) access = 0;
        cudaGetLastError();
      }
    }
    nvlinkAll = nvlinkAll && native;
    perPeer += fmt::format(" {}:{}", r,
                           !access   ? "none"
                           : sameGpu ? "same-gpu"
                           : native  ? "nvlink"
                                     : "pcie");
    if (!access) {
      problem = fmt::format("GPU {} cannot access rank {}'s GPU {}", s.device, r, peerDevice);
      continue;
    }
    if (info.pid == mine.pid) {
      memory_.staging[r] = reinterpret_cast<uint8_t*>(info.stagingPtr);
      memory_.flags[r] = reinterpret_cast<uint64_t*>(info.flagsPtr);
      continue;
    }
    void* p = nullptr;
    void* f = nullptr;
    cudaError_t e1 = cudaIpcOpenMemHandle(&p, info.staging, cudaIpcMemLazyEnablePeerAccess);
    if (e1 == cudaSuccess) opened_.push_back(p);
    cudaError_t e2 = cudaIpcOpenMemHandle(&f, info.flags, cudaIpcMemLazyEnablePeerAccess);
    if (e2 == cudaSuccess) opened_.push_back(f);
    if (e1 != cudaSuccess || e2 != cudaSuccess) {
      cudaGetLastError();
      problem = fmt::format("cannot map rank {}'s GPU memory: {}", r,
                            cudaGetErrorString(e1 != cudaSuccess ? e1 : e2));
      continue;
    }
    memory_.staging[r] = static_cast<uint8_t*>(p);
    memory_.flags[r] = static_cast<uint64_t*>(f);
    pidfds_[r] = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(info.pid), 0));
  }

  // Every rank votes; the kernel path needs every vote.
  auto objection = vote(*s.store, "nvlink/ok", me, n, problem, s.timeout);
  if (!objection.isOk()) return objection.status();
  links_.mapped = objection->rank < 0;
  if (!links_.mapped) links_.why = fmt::format("rank {}: {}", objection->rank, objection->reason);
  links_.allNvlink = links_.mapped && nvlinkAll;
  // LL128 needs every 128-byte line to arrive whole, as NVLink delivers it (a peer on the same GPU
  // is not known to see lines whole: it is left out too); all ranks must agree.
  if (links_.mapped && ll128Bytes > 0) {
    const char* against = !nvlinkAll  ? "a peer is not on NVLink"
                          : sharedGpu ? "a peer shares this GPU"
                                      : "";
    auto ll128 = vote(*s.store, "nvlink/ll128", me, n, against, s.timeout);
    if (!ll128.isOk()) return ll128.status();
    if (ll128->rank >= 0) memory_.ll128Bytes = 0;
  }
  links_.text = fmt::format("gpu {} ({}), {} blocks x {} KiB staging parts, peers{}", s.device,
                            mine.busId, lanes, partBytes / 1024, perPeer);
  BRAID_LOG(kInfo, kInit, "nvlink: {}{}", links_.text,
            links_.mapped ? "" : fmt::format("; staging through host memory: {}", links_.why));
  return Status();
}

Status PeerMap::deadPeer() const {
  for (size_t r = 0; r < pidfds_.size(); ++r) {
    if (exited(pidfds_[r])) return remoteError(fmt::format("rank {} (pid {}) died", r, pids_[r]));
  }
  return Status();
}

Status PeerMap::deviceError() const {
  if (control_ == nullptr) return Status();
  const int word = *reinterpret_cast<volatile int*>(&control_->error);
  if (word == 0) return Status();
  const int code = word >> 16, peer = (word & 0xffff) - 1;
  switch (code) {
    case cuda::kDeviceTimeout:
      return timeoutError(fmt::format("a GPU collective timed out after {} ms waiting for rank {}",
                                      setup_.timeout.count(), peer));
    case cuda::kDeviceMismatch:
      return invalidArgument(fmt::format(
          "rank {} called a GPU collective on registered buffers with other arguments than this "
          "rank (registered buffers must be used at the same offset, with the same count, type "
          "and operation on every rank)",
          peer));
    case cuda::kDevicePeerFailed:
      return remoteError(fmt::format("rank {} reported a failure of a GPU collective", peer));
    default:
      return abortedError(
          fmt::format("GPU collectives were aborted (while waiting for rank {})", peer));
  }
}

void PeerMap::abort() {
  if (control_ != nullptr) {
    control_->abort = 1;
    __sync_synchronize();
  }
}

PeerMap::~PeerMap() {
  if (staging_ == nullptr) return;
  DeviceGuard guard(setup_.device);
  const bool failed = !deviceError().isOk() || !deadPeer().isOk();
  if (failed) abort();
  cudaDeviceSynchronize();
  // Peers may still write acks into this rank's flags until their kernels end: wait until
  // every peer says it is done (briefly, if something failed).
  if (links_.mapped) {
    Status told = setup_.store->setString(fmt::format("nvlink/closed/{}", setup_.rank), "1");
    (void)told;  // best effort: peers wait a bounded time
    auto wait = failed ? milliseconds(200) : std::min(setup_.timeout, milliseconds(30000));
    for (int r = 0; r < setup_.size; ++r) {
      if (r == setup_.rank) continue;
      auto done = setup_.store->getString(fmt::format("nvlink/closed/{}", r), wait);
      (void)done;
    }
  }
  for (void* p : opened_) cudaIpcCloseMemHandle(p);
  for (const auto& mapping : windowMappings_) cudaIpcCloseMemHandle(mapping.second.first);
  for (int fd : pidfds_) {
    if (fd >= 0) close(fd);
  }
  cudaFree(staging_);
  cudaFree(flags_);
  cudaFree(counters_);
  cudaFreeHost(control_);
}

}  // namespace braid::nvlink
