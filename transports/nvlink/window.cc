// Registered buffers ("windows"): each rank exports the allocation holding its buffer with CUDA
// IPC through the store, and every rank maps every peer's, so the direct kernels
// (algorithms/cuda/direct.cu) can read and write peers' buffers in place. Registration is
// collective and numbered in call order, which is how ranks know that their registrations
// belong together; one allocation mapped for several windows is opened once.
#include <cuda.h>
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "logging.h"
#include "nvlink/transport.h"
#include "store_values.h"

namespace braid::nvlink {
namespace {

// What a rank publishes about its buffer of one registration.
struct WindowInfo {
  int64_t pid;
  cudaIpcMemHandle_t handle;  // of the allocation holding the buffer
  uint64_t pointer;           // the buffer itself (ranks in the same process use it directly)
  uint64_t offset;            // of the buffer in its allocation
  uint64_t bytes;
  char problem[200];  // empty: exported
};

// The start of the allocation holding p, through the driver (cuMemGetAddressRange) without
// linking libcuda: the runtime finds the entry point, so builds without a driver still load.
Result<uintptr_t> allocationStart(const void* p) {
  using GetRange = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);
  static GetRange getRange = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &f, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      f = nullptr;
    }
    return reinterpret_cast<GetRange>(f);
  }();
  if (getRange == nullptr) return systemError("cuMemGetAddressRange is not available");
  CUdeviceptr base = 0;
  size_t size = 0;
  const CUresult r = getRange(&base, &size, reinterpret_cast<CUdeviceptr>(p));
  if (r != CUDA_SUCCESS) return systemError(fmt::format("cuMemGetAddressRange failed ({})", +r));
  return static_cast<uintptr_t>(base);
}

std::string handleKey(const cudaIpcMemHandle_t& h) {
  return std::string(reinterpret_cast<const char*>(&h), sizeof(h));
}

}  // namespace

Result<int> PeerMap::registerWindow(void* buffer, size_t bytes) {
  if (!links_.mapped) return unsupported("registerWindow: peer memory is not mapped");
  const int n = setup_.size, me = setup_.rank;
  const int id = windowsRegistered_++;
  DeviceGuard guard(setup_.device);

  WindowInfo mine{};
  mine.pid = getpid();
  mine.pointer = reinterpret_cast<uintptr_t>(buffer);
  mine.bytes = bytes;
  auto start = allocationStart(buffer);
  cudaError_t e = cudaErrorInvalidValue;
  if (start.isOk()) {
    mine.offset = mine.pointer - *start;
    e = cudaIpcGetMemHandle(&mine.handle, reinterpret_cast<void*>(*start));
  }
  if (!start.isOk() || e != cudaSuccess) {
    cudaGetLastError();
    const std::string why = !start.isOk() ? start.status().message()
                                          : fmt::format(
                                                "cudaIpcGetMemHandle: {} (memory from a "
                                                "pool or cuMem without IPC?)",
                                                cudaGetErrorString(e));
    std::snprintf(mine.problem, sizeof(mine.problem), "%s", why.c_str());
  }
  BRAID_RETURN_IF_ERROR(setValue(*setup_.store, fmt::format("nvlink/window/{}/{}", id, me), mine));

  Window w;
  w.id = id;
  w.bytes = bytes;
  w.base[me] = static_cast<uint8_t*>(buffer);
  std::vector<WindowInfo> infos(n);
  std::string problem;
  for (int r = 0; r < n; ++r) {
    if (r == me) {
      infos[r] = mine;
    } else {
      auto got = getValue<WindowInfo>(*setup_.store, fmt::format("nvlink/window/{}/{}", id, r),
                                      setup_.timeout, "window info");
      if (!got.isOk()) return got.status();
      infos[r] = *got;
      infos[r].problem[sizeof(infos[r].problem) - 1] = '\0';
    }
    if (infos[r].problem[0] != '\0' && problem.empty()) {
      problem = fmt::format("rank {} cannot register its buffer: {}", r, infos[r].problem);
    }
    w.bytes = std::min<size_t>(w.bytes, infos[r].bytes);
  }
  if (!problem.empty()) return unsupported(problem);

  // Map every peer's allocation (once per allocation), then vote: every rank must succeed.
  std::vector<std::pair<int, std::string>> keys;
  for (int r = 0; r < n && problem.empty(); ++r) {
    if (r == me) continue;
    const WindowInfo& info = infos[r];
    if (info.pid == mine.pid) {
      w.base[r] = reinterpret_cast<uint8_t*>(info.pointer);
      continue;
    }
    std::pair<int, std::string> key{r, handleKey(info.handle)};
    auto it = windowMappings_.find(key);
    if (it == windowMappings_.end()) {
      void* p = nullptr;
      const cudaError_t opened =
          cudaIpcOpenMemHandle(&p, info.handle, cudaIpcMemLazyEnablePeerAccess);
      if (opened != cudaSuccess) {
        cudaGetLastError();
        problem = fmt::format("rank {} cannot map rank {}'s registered buffer: {}", me, r,
                              cudaGetErrorString(opened));
        break;
      }
      it = windowMappings_.emplace(key, std::make_pair(p, 0)).first;
    }
    ++it->second.second;
    keys.push_back(key);
    w.base[r] = static_cast<uint8_t*>(it->second.first) + info.offset;
  }
  windowKeys_[id] = keys;
  auto objection =
      vote(*setup_.store, fmt::format("nvlink/window/{}/ok", id), me, n, problem, setup_.timeout);
  if (!objection.isOk()) return objection.status();
  problem = objection->reason;
  if (!problem.empty()) {
    (void)deregisterWindow(id);
    return unsupported(problem);
  }
  windows_[id] = w;
  BRAID_LOG(kInfo, kInit, "nvlink: registered window {} of {} bytes", id, w.bytes);
  return id;
}

Status PeerMap::deregisterWindow(int id) {
  DeviceGuard guard(setup_.device);
  // Kernels of this rank may still use the window; peers' kernels are done with this rank's
  // buffer once this rank's are (their last barrier waits for this rank).
  cudaDeviceSynchronize();
  windows_.erase(id);
  auto keys = windowKeys_.find(id);
  if (keys == windowKeys_.end()) return Status();
  for (const auto& key : keys->second) {
    auto it = windowMappings_.find(key);
    if (it == windowMappings_.end()) continue;
    if (--it->second.second == 0) {
      cudaIpcCloseMemHandle(it->second.first);
      windowMappings_.erase(it);
    }
  }
  windowKeys_.erase(keys);
  return Status();
}

const Window* PeerMap::findWindow(const void* p, size_t bytes, size_t* offset) const {
  const auto at = reinterpret_cast<uintptr_t>(p);
  for (const auto& [id, w] : windows_) {
    const auto base = reinterpret_cast<uintptr_t>(w.base[setup_.rank]);
    if (at >= base && at - base <= w.bytes && bytes <= w.bytes - (at - base)) {
      *offset = at - base;
      return &w;
    }
  }
  return nullptr;
}

}  // namespace braid::nvlink
