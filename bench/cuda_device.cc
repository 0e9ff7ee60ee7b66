// The CUDA device of braid-bench (--device cuda): one GPU per process, send and receive buffers
// from cudaMalloc, exact inputs built on the host and copied over, results copied back and
// checked on the host, and the timed calls bracketed by CUDA events on the rank's own stream:
// one before the first and one after the last, as nccl-tests times (--per-call-timing: one after
// every call too).
#include <cuda_runtime.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "device.h"

namespace braid::bench {
namespace {

Status cudaStatus(cudaError_t rc, const std::string& what) {
  if (rc == cudaSuccess) return Status();
  return Status(StatusCode::kSystemError, what + ": " + cudaGetErrorString(rc));
}

#define BENCH_CUDA(call) BRAID_RETURN_IF_ERROR(cudaStatus((call), #call))

// The launcher's number for this process among those on its host (0 if none says).
int localRank() {
  for (const char* name : {"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return 0;
}

class CudaDevice final : public Device {
 public:
  ~CudaDevice() override {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    if (send_ != nullptr) cudaFree(send_);
    if (recv_ != nullptr) cudaFree(recv_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status init(size_t capacityBytes, bool perCallTiming) {
    perCallTiming_ = perCallTiming;
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess)
      return unsupported(std::string("no usable GPU: ") + cudaGetErrorString(rc));
    if (count == 0) return unsupported("no GPU found");
    const int local = localRank();
    if (count > 1 && local >= count) {
      return invalidArgument("local rank " + std::to_string(local) + " has no GPU of its own (" +
                             std::to_string(count) + " visible): start one process per GPU");
    }
    device_ = count == 1 ? 0 : local;
    BENCH_CUDA(cudaSetDevice(device_));
    cudaDeviceProp prop{};
    BENCH_CUDA(cudaGetDeviceProperties(&prop, device_));
    name_ = "cuda:" + std::to_string(device_) + " (" + prop.name + ")";
    BENCH_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    capacity_ = capacityBytes > 0 ? capacityBytes : 1;
    rc = cudaMalloc(&send_, capacity_);
    if (rc == cudaSuccess) rc = cudaMalloc(&recv_, capacity_);
    if (rc != cudaSuccess) {
      return cudaStatus(rc, "cudaMalloc of 2 x " + std::to_string(capacity_) + " bytes on " +
                                name_ + " (lower -e)");
    }
    return Status();
  }

  std::string name() const override { return name_; }
  Stream stream() const override { return stream_; }
  std::vector<std::pair<void*, size_t>> buffers() const override {
    return {{send_, capacity_}, {recv_, capacity_}};
  }

  Result<Call> prepare(Buffers& buf, bool inPlace, bool fill, bool rsInPlaceAtStart) override {
    if (buf.sendHostBytes() > capacity_ || buf.recvHostBytes() > capacity_) {
      return internalError("row larger than the device buffers");
    }
    Call call = buf.prepare(inPlace, fill, rsInPlaceAtStart);
    if (fill) {
      // The input lives in the host send buffer, or in place in the host receive buffer.
      if (inPlace) {
        BENCH_CUDA(cudaMemcpyAsync(recv_, buf.recvHost(), buf.recvHostBytes(),
                                   cudaMemcpyHostToDevice, stream_));
      } else {
        BENCH_CUDA(cudaMemcpyAsync(send_, buf.sendHost(), buf.sendHostBytes(),
                                   cudaMemcpyHostToDevice, stream_));
        BENCH_CUDA(cudaMemsetAsync(recv_, 0xA5, buf.recvHostBytes(), stream_));
      }
      BENCH_CUDA(cudaStreamSynchronize(stream_));
    }
    call.send = onDevice(buf, call.send);
    call.recv = const_cast<void*>(onDevice(buf, call.recv));
    call.stream = stream_;
    return call;
  }

  Result<uint64_t> wrong(Buffers& buf, bool inPlace, bool rsInPlaceAtStart) override {
    BENCH_CUDA(cudaMemcpyAsync(buf.recvHost(), recv_, buf.recvHostBytes(), cudaMemcpyDeviceToHost,
                               stream_));
    BENCH_CUDA(cudaStreamSynchronize(stream_));
    return buf.wrong(inPlace, rsInPlaceAtStart);
  }

  Status time(Backend& b, const Call& call, int iterations, std::vector<double>* eachUs,
              double* totalUs, double* issueUs) override {
    // events_[0] before the first call and, back to back on the stream, events_[i + 1] after
    // call i (per-call timing: call i's time runs from the end of call i - 1 to its own end)
    // or only after the last (every call gets the mean). An event between calls costs the GPU
    // about 3 us per call on H200s (a 1 MiB allReduce took 11.9 us with one, 9.2 without), which
    // nccl-tests does not pay and a trainer does not either; so it is off by default.
    const int marks = perCallTiming_ ? iterations + 1 : 2;
    while (events_.size() < static_cast<size_t>(marks)) {
      cudaEvent_t e = nullptr;
      BENCH_CUDA(cudaEventCreate(&e));
      events_.push_back(e);
    }
    // Loop timing starts after one untimed call: the ranks left the host barrier at slightly
    // different times, and a collective ends on every rank at about the same time, so the first
    // event is not early by that skew (which every call of the mean would share). Per-call
    // timing is left as it was (the median drops the first call's skew).
    if (!perCallTiming_) BRAID_RETURN_IF_ERROR(b.run(call));
    const auto start = std::chrono::steady_clock::now();
    BENCH_CUDA(cudaEventRecord(events_[0], stream_));
    for (int i = 0; i < iterations; ++i) {
      BRAID_RETURN_IF_ERROR(b.run(call));
      if (perCallTiming_) BENCH_CUDA(cudaEventRecord(events_[i + 1], stream_));
    }
    cudaEvent_t last = events_[marks - 1];
    if (!perCallTiming_) BENCH_CUDA(cudaEventRecord(last, stream_));
    *issueUs =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    BENCH_CUDA(cudaEventSynchronize(last));
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, events_[0], last));
    *totalUs = ms * 1e3;
    eachUs->assign(static_cast<size_t>(iterations), *totalUs / iterations);
    for (int i = 0; perCallTiming_ && i < iterations; ++i) {
      BENCH_CUDA(cudaEventElapsedTime(&ms, events_[i], events_[i + 1]));
      (*eachUs)[i] = ms * 1e3;
    }
    return Status();
  }

  Status sync() override {
    BENCH_CUDA(cudaStreamSynchronize(stream_));
    return cudaStatus(cudaGetLastError(), "after the collectives");
  }

 private:
  // The device address of a pointer into one of buf's host buffers.
  const void* onDevice(Buffers& buf, const void* host) const {
    auto* p = static_cast<const uint8_t*>(host);
    if (p >= buf.sendHost() && p < buf.sendHost() + buf.sendHostBytes()) {
      return static_cast<uint8_t*>(send_) + (p - buf.sendHost());
    }
    return static_cast<uint8_t*>(recv_) + (p - buf.recvHost());
  }

  int device_ = 0;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  size_t capacity_ = 0;
  std::vector<cudaEvent_t> events_;
  bool perCallTiming_ = false;
};

}  // namespace

Result<std::unique_ptr<Device>> makeCudaDevice(size_t capacityBytes, bool perCallTiming) {
  auto device = std::make_unique<CudaDevice>();
  BRAID_RETURN_IF_ERROR(device->init(capacityBytes, perCallTiming));
  return std::unique_ptr<Device>(std::move(device));
}

}  // namespace braid::bench
