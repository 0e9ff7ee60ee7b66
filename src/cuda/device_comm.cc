// DeviceComm over peer memory: orders each operation after the previous one, launches it on the
// caller's stream (the kernel: kernel_plan.cc; its arguments: kernel_args.cc; the launch:
// kernel_choice.cc) and reports what it ran. A watchdog thread notices a peer process that died
// and makes the running kernels give up, so no rank hangs on a flag that will never be raised.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "communicator_impl.h"
#include "cuda/kernel_choice.h"
#include "cuda/kernels.h"
#include "gpu.h"
#include "logging.h"
#include "nvlink/transport.h"
#include "params.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

Status launched(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status();
  cudaGetLastError();
  return systemError(fmt::format("launching {}: {}", what, cudaGetErrorString(e)));
}

using nvlink::DeviceGuard;

class PeerComm final : public DeviceComm {
 public:
  PeerComm(std::unique_ptr<nvlink::PeerMap> map, int device)
      : map_(std::move(map)), device_(device) {
    if (map_->links().mapped) watchdog_ = std::thread([this] { watch(); });
  }
  ~PeerComm() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    if (event_ != nullptr) {
      DeviceGuard guard(device_);
      cudaEventDestroy(event_);
    }
  }

  bool mapped() const override { return map_->links().mapped; }
  std::string describe() const override {
    const nvlink::Links& l = map_->links();
    return l.mapped ? l.text : "peer memory not mapped: " + l.why;
  }

  // Cheap enough for every call: the watchdog's verdict and one host-mapped word; a fresh look
  // at the peers only when a kernel failed (a dead peer explains the failure best).
  Status error() const override {
    if (peerDied_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      return died_;
    }
    Status device = map_->deviceError();
    if (device.isOk()) return device;
    Status dead = map_->deadPeer();
    return dead.isOk() ? device : dead;
  }

  void abort(const std::string& reason) override {
    BRAID_LOG(kInfo, kColl, "stopping GPU kernels: {}", reason);
    map_->abort();
  }

  Status run(const OpDesc& d, Stream stream) override {
    if (d.kind == K::kSend || d.kind == K::kRecv) return runPointToPoint({d}, stream);
    DeviceGuard guard(device_);
    auto s = static_cast<cudaStream_t>(stream);
    BRAID_RETURN_IF_ERROR(orderAfterPrevious(s));
    const char* what = "";
    auto e = launchCollective(*map_, params(), d, s, &what);  // params(): one lock per call
    if (!e.isOk()) return e.status();
    BRAID_RETURN_IF_ERROR(launched(*e, what));
    lastLaunch_.store(what);
    return recordLaunch(s);
  }

  std::string lastLaunch() const override { return lastLaunch_.load(); }

  Status runPointToPoint(const std::vector<OpDesc>& ops, Stream stream) override {
    if (ops.size() > static_cast<size_t>(cuda::kMaxP2pOps)) {
      return invalidArgument(
          fmt::format("a group holds {} GPU sends/receives on one "
                      "communicator; at most {} are supported",
                      ops.size(), cuda::kMaxP2pOps));
    }
    DeviceGuard guard(device_);
    auto s = static_cast<cudaStream_t>(stream);
    BRAID_RETURN_IF_ERROR(orderAfterPrevious(s));
    const cuda::PeerMemory& m = map_->memory();
    // Directions in first-use order; each keeps its operations in call order.
    std::map<std::pair<int, int>, std::vector<const OpDesc*>> byDirection;
    std::vector<std::pair<int, int>> order;
    for (const OpDesc& d : ops) {
      std::pair<int, int> key{d.peer, d.kind == K::kSend ? 1 : 0};
      if (byDirection[key].empty()) order.push_back(key);
      byDirection[key].push_back(&d);
    }
    auto args = std::make_unique<cuda::P2pArgs>();
    args->lanes = std::min(m.lanes, 8);
    int next = 0;
    for (const auto& key : order) {
      cuda::P2pDirection& dir = args->directions[args->numDirections++];
      dir.peer = key.first;
      dir.send = key.second;
      dir.firstOp = next;
      for (const OpDesc* d : byDirection[key]) {
        args->ops[next].buffer = d->kind == K::kSend ? const_cast<void*>(d->send) : d->recv;
        args->ops[next].bytes = d->count * dataTypeSize(d->dtype);
        ++next;
        ++dir.numOps;
      }
    }
    BRAID_RETURN_IF_ERROR(launched(cuda::sendRecv(m, *args, s), "send/recv"));
    return recordLaunch(s);
  }

  // With peer memory mapped, a registration maps every rank's buffer (a window) for the
  // direct kernels; otherwise it is only recorded (every call stages through host memory).
  Result<void*> registerBuffer(void* buffer, size_t bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    int window = -1;
    if (map_->links().mapped) {
      auto id = map_->registerWindow(buffer, bytes);
      if (!id.isOk()) return id.status();
      window = *id;
    }
    void* handle = reinterpret_cast<void*>(++lastHandle_);
    registered_[handle] = window;
    return handle;
  }

  Status deregisterBuffer(void* handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = registered_.find(handle);
    if (it == registered_.end()) return invalidArgument("unknown registration handle");
    const int window = it->second;
    registered_.erase(it);
    if (window < 0) return Status();
    DeviceGuard guard(device_);
    return map_->deregisterWindow(window);
  }

 private:
  // Launches on one communicator run in call order even across streams: a launch on another
  // stream than the previous launch first waits for that stream's work so far (not while
  // either is being captured into a graph, where the capture's stream order applies).
  Status orderAfterPrevious(cudaStream_t s) {
    if (!launchedBefore_ || s == lastStream_ || isCapturing(s) || isCapturing(lastStream_)) {
      return Status();
    }
    if (event_ == nullptr) {
      BRAID_RETURN_IF_ERROR(
          launched(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreate"));
    }
    BRAID_RETURN_IF_ERROR(launched(cudaEventRecord(event_, lastStream_), "cudaEventRecord"));
    return launched(cudaStreamWaitEvent(s, event_, 0), "cudaStreamWaitEvent");
  }
  Status recordLaunch(cudaStream_t s) {
    launchedBefore_ = true;
    lastStream_ = s;
    return Status();
  }

  // Every 100 ms: a peer that died makes this rank's kernels stop waiting for it.
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; })) {
      Status dead = map_->deadPeer();
      if (!dead.isOk()) {
        died_ = dead;
        peerDied_.store(true);
        abort(dead.message());
        return;
      }
    }
  }

  std::unique_ptr<nvlink::PeerMap> map_;
  int device_;
  cudaEvent_t event_ = nullptr;
  cudaStream_t lastStream_ = nullptr;
  bool launchedBefore_ = false;
  mutable std::mutex mu_;
  std::atomic<bool> peerDied_{false};
  std::atomic<const char*> lastLaunch_{""};  // a string literal: what run() launched last
  Status died_;                              // guarded by mu_
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread watchdog_;
  uintptr_t lastHandle_ = 0;
  std::map<void*, int> registered_;  // handle -> window id (-1: recorded only)
};

}  // namespace

Result<std::unique_ptr<DeviceComm>> createDeviceComm(const DeviceSetup& setup) {
  nvlink::Setup s;
  s.rank = setup.rank;
  s.size = setup.size;
  s.device = setup.device;
  s.store = setup.store;
  s.hostIds = setup.hostIds;
  s.timeout = setup.timeout;
  s.stagingBytes = static_cast<size_t>(std::max<int64_t>(0, params().gpuBufferBytes));
  s.llBytes = static_cast<size_t>(std::max<int64_t>(0, params().gpuLlBytes));
  s.ll128Bytes = ll128BytesFor(params().gpuLl128Bytes, setup.size);
  s.lanes = static_cast<int>(params().gpuBlocks);
  s.usePeerMemory = params().gpuP2p;
  auto map = nvlink::PeerMap::create(s);
  if (!map.isOk()) return map.status();
  return std::unique_ptr<DeviceComm>(new PeerComm(std::move(*map), setup.device));
}

}  // namespace braid::gpu
