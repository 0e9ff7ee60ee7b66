// Operations with a stream: device buffers go to the GPU side (kernels over peer memory, or
// staging through host memory where peers are not mapped); host buffers synchronize the stream
// and run like the blocking calls.
#include <vector>

#include "communicator_impl.h"
#include "logging.h"
#include "params.h"

namespace braid {
namespace {

bool pointerMatters(const OpDesc& d, bool send, int rank) {
  switch (d.kind) {
    case CollectiveKind::kBroadcast:
      return !send || rank == d.root;
    case CollectiveKind::kReduce:
      return send || rank == d.root;
    case CollectiveKind::kSend:
      return send;
    case CollectiveKind::kRecv:
      return !send;
    default:
      return true;
  }
}

// Bytes of the send and receive buffers of d on this rank.
size_t bufferBytes(const OpDesc& d, bool send, int n) {
  const size_t bytes = d.count * dataTypeSize(d.dtype);
  const bool nBlocks =
      d.kind == CollectiveKind::kAllToAll ||
      (send ? d.kind == CollectiveKind::kReduceScatter : d.kind == CollectiveKind::kAllGather);
  return nBlocks ? bytes * static_cast<size_t>(n) : bytes;
}

}  // namespace

Result<bool> Communicator::Impl::onDevice(const OpDesc& d) const {
  int device = 0, host = 0;
  for (bool send : {true, false}) {
    const void* p = send ? d.send : d.recv;
    if (p == nullptr || !pointerMatters(d, send, rank_)) continue;
    (isDevice(p) ? device : host)++;
  }
  if (device > 0 && host > 0) {
    return invalidArgument(fmt::format(
        "{}: one buffer is in device memory and the other in host memory; pass both on the "
        "device or both on the host",
        toString(d.kind)));
  }
  return device > 0;
}

bool Communicator::Impl::isDevice(const void* p) const {
  for (const auto& known : knownDevice_) {
    if (known.load(std::memory_order_relaxed) == p) return true;
  }
  if (!gpu::isDevicePointer(p)) return false;
  const unsigned slot = knownNext_.fetch_add(1, std::memory_order_relaxed) % knownDevice_.size();
  knownDevice_[slot].store(p, std::memory_order_relaxed);
  return true;
}

Status Communicator::Impl::runOnStream(const OpDesc& desc, Stream stream) {
  BRAID_RETURN_IF_ERROR(validate(desc));
  if (groupRecord(this, desc, stream)) return Status();
  return issueOnStream(desc, stream);
}

std::string Communicator::Impl::lastDeviceAlgorithm() const {
  std::lock_guard<std::mutex> exec(execMu_);
  if (gpu_ == nullptr) return "";
  return gpu_->mapped() ? gpu_->lastLaunch() : "staged through host memory";
}

Status Communicator::Impl::ensureDevice(Stream stream) {
  if (gpu_ != nullptr) return Status();
  if (device_ < 0) return unsupported("device buffers were passed, but no CUDA device is usable");
  if (gpu::isCapturing(stream)) {
    return unsupported(
        "the first GPU operation of a communicator sets up its peer memory and cannot be "
        "captured in a CUDA graph: run one GPU operation before capturing");
  }
  gpu::DeviceSetup s;
  s.rank = rank_;
  s.size = size_;
  s.device = device_;
  s.store = makePrefixStore(store_, "gpu.");
  s.hostIds = hostIds_;
  s.timeout = env_.timeout;
  auto created = gpu::createDeviceComm(s);
  if (!created.isOk()) return created.status();
  gpu_ = std::move(*created);
  BRAID_LOG(kInfo, kInit, "rank {}: GPU path {}: {}", rank_,
            gpu_->mapped() ? "through peer memory" : "staged through host memory",
            gpu_->describe());
  return Status();
}

Status Communicator::Impl::issueOnStream(const OpDesc& d, Stream stream) {
  auto device = onDevice(d);
  if (!device.isOk()) return device.status();
  if (!*device) {
    BRAID_RETURN_IF_ERROR(gpu::synchronize(stream));
    return run(d);
  }
  {
    std::lock_guard<std::mutex> exec(execMu_);
    {
      std::lock_guard<std::mutex> lock(brokenMu_);
      if (!broken_.isOk()) {
        return Status(broken_.code(),
                      "communicator is unusable after an earlier error: " + broken_.message());
      }
    }
    if (aborted_.load()) return abortedError("communicator was aborted");
    BRAID_RETURN_IF_ERROR(ensureDevice(stream));
    Status e = gpu_->error();
    if (!e.isOk()) {
      fail(e);
      return e;
    }
    const bool moves = d.kind != CollectiveKind::kBarrier && d.count > 0;
    if (!moves) return Status();
    if (size_ == 1) {
      if (d.send == d.recv || d.recv == nullptr) return Status();
      return gpu::copyAsync(d.recv, d.send, bufferBytes(d, false, 1), stream);
    }
    if (gpu_->mapped()) {
      Status st = gpu_->run(d, stream);
      if (!st.isOk()) fail(st);
      return st;
    }
  }
  return runStaged(d, stream);
}

Status Communicator::Impl::issuePointToPoint(const std::vector<OpDesc>& ops, Stream stream) {
  bool allDevice = !ops.empty();
  for (const OpDesc& d : ops) {
    auto device = onDevice(d);
    if (!device.isOk()) return device.status();
    allDevice = allDevice && *device;
  }
  if (allDevice && size_ > 1) {
    std::lock_guard<std::mutex> exec(execMu_);
    BRAID_RETURN_IF_ERROR(asyncError());
    BRAID_RETURN_IF_ERROR(ensureDevice(stream));
    if (gpu_->mapped()) {
      Status st = gpu_->runPointToPoint(ops, stream);
      if (!st.isOk()) fail(st);
      return st;
    }
  }
  for (const OpDesc& d : ops) BRAID_RETURN_IF_ERROR(issueOnStream(d, stream));
  return Status();
}

Status Communicator::Impl::runStaged(const OpDesc& d, Stream stream) {
  if (gpu::isCapturing(stream)) {
    return unsupported(fmt::format(
        "{} on device buffers must stage through host memory here ({}), which cannot be "
        "captured in a CUDA graph",
        toString(d.kind), gpu_ != nullptr ? gpu_->describe() : "no GPU peer access"));
  }
  BRAID_RETURN_IF_ERROR(gpu::synchronize(stream));
  const bool needSend = d.send != nullptr && pointerMatters(d, true, rank_);
  const bool needRecv = d.recv != nullptr && pointerMatters(d, false, rank_);
  std::vector<uint8_t> send(needSend ? bufferBytes(d, true, size_) : 0);
  std::vector<uint8_t> recv(needRecv ? bufferBytes(d, false, size_) : 0);
  if (needSend) BRAID_RETURN_IF_ERROR(gpu::copy(send.data(), d.send, send.size()));
  OpDesc host = d;
  host.send = needSend ? send.data() : nullptr;
  host.recv = needRecv ? recv.data() : nullptr;
  BRAID_RETURN_IF_ERROR(run(host));
  if (needRecv) BRAID_RETURN_IF_ERROR(gpu::copy(d.recv, recv.data(), recv.size()));
  return Status();
}

Result<void*> Communicator::Impl::registerBuffer(void* buffer, size_t bytes) {
  if (buffer == nullptr || bytes == 0) return invalidArgument("registerBuffer: empty buffer");
  if (!gpu::isDevicePointer(buffer)) {
    return unsupported("registerBuffer: only device buffers can be registered");
  }
  std::lock_guard<std::mutex> exec(execMu_);
  BRAID_RETURN_IF_ERROR(ensureDevice(nullptr));
  return gpu_->registerBuffer(buffer, bytes);
}

Status Communicator::Impl::deregisterBuffer(void* handle) {
  std::lock_guard<std::mutex> exec(execMu_);
  if (gpu_ == nullptr) return invalidArgument("deregisterBuffer: unknown handle");
  return gpu_->deregisterBuffer(handle);
}

}  // namespace braid
