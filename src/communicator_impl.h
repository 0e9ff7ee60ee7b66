// Communicator::Impl: the state behind the public handle — peers and their transports, the
// executor that runs operations in call order (inline for blocking calls when idle, on a
// background thread for ...Async calls), sequence numbers, and the error that broke it.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "algorithm_choice.h"
#include "braid/communicator.h"
#include "gpu.h"
#include "op_context.h"
#include "op_desc.h"
#include "topology.h"
#include "transport.h"
#include "work_state.h"

namespace braid {

class Communicator::Impl {
 public:
  Impl() = default;
  ~Impl();

  // Connects to every peer. Called once by Communicator::create.
  Status init(const CommOptions& options, std::shared_ptr<Store> commStore);

  // Runs an operation: validates on the caller's thread, then executes in call order.
  Status run(const OpDesc& desc);
  Work runAsync(const OpDesc& desc);
  // Runs an operation with a stream (stream_ops.cc): device buffers are enqueued on the stream,
  // host buffers run like run() after the stream is synchronized. Inside a group the call is
  // recorded (group.cc) and issued by groupEnd through issueOnStream.
  Status runOnStream(const OpDesc& desc, Stream stream);
  Status issueOnStream(const OpDesc& desc, Stream stream);
  // A group's device sends and receives on one stream, in one launch (host ones one by one).
  Status issuePointToPoint(const std::vector<OpDesc>& ops, Stream stream);
  Result<void*> registerBuffer(void* buffer, size_t bytes);
  Status deregisterBuffer(void* handle);

  Result<std::unique_ptr<Communicator>> split(int color, int key);
  void abort();
  Status asyncError() const;

  int rank() const { return rank_; }
  int size() const { return size_; }
  std::string transportTo(int peer) const;
  Status setAlgorithm(CollectiveKind kind, const std::string& name);
  std::string algorithmFor(CollectiveKind kind, size_t bytes) const;
  double predictedTimeUs(CollectiveKind kind, size_t bytes) const;
  std::string lastDeviceAlgorithm() const;
  std::vector<std::string> algorithms(CollectiveKind kind) const {
    return algorithmNames(kind, algorithms_.shape());
  }
  // The shared arena's window size, or 0 when no arena spans the communicator.
  size_t arenaWindow() const { return env_.arena != nullptr ? env_.arena->windowBytes() : 0; }

  // Which ranks share a host (from the host ids exchanged at init); read-only after init.
  CommTopology topology;

  // Objects that must live as long as the communicator (e.g. the TCP store server it hosts).
  std::vector<std::shared_ptr<void>> keepAlive;

 private:
  Status validate(const OpDesc& d) const;
  Status execute(const OpDesc& d);  // holds execMu_
  Status executeCollective(const OpDesc& d);
  Status executePointToPoint(const OpDesc& d);
  Status dispatch(OpContext& ctx, const OpDesc& d, const Decision& decision);
  // Runs a stage of a composed algorithm on a group view (OpEnvironment::runStage).
  Status runStage(OpContext& group, Group which, const OpDesc& d);
  // The tuner: the cost model (defaults, BRAID_TUNE_PROBE measurements, BRAID_TUNE_* overrides)
  // and the shape of this communicator. Called once at the end of init.
  Status configureTuner(bool arenaSpansAll, bool tcpEverywhere);
  // BRAID_TUNE_PROBE: ping-pong latency and bandwidth per link class and the reduction speed,
  // measured by rank 0 and its partners and broadcast, so that every rank holds rank 0's numbers.
  Status probeLinks(CostModel* model);
  // Logs at INFO the first decision for each (collective, power-of-two size class) and changes.
  void logDecision(const OpDesc& d, size_t bytes, const Decision& decision);
  void fail(const Status& status);  // marks the communicator broken and tells the peers
  void workerLoop();
  // Whether desc's buffers are on a device (InvalidArgument when host and device are mixed).
  Result<bool> onDevice(const OpDesc& d) const;
  // gpu::isDevicePointer, remembering the last few device pointers: asking CUDA costs about
  // 0.15 us, a tenth of braid's whole per-call host cost beside the kernel launch. Only device
  // answers are kept: a device address stays one (a freed one can come back only from CUDA).
  bool isDevice(const void* p) const;
  // Sets up the GPU side on the first device operation (collective, not while capturing).
  Status ensureDevice(Stream stream);
  // Device buffers without mapped peers: through host memory and the CPU transports.
  Status runStaged(const OpDesc& d, Stream stream);

  int rank_ = 0;
  int size_ = 1;
  CommOptions options_;
  std::shared_ptr<Store> store_;
  std::string hostId_;
  std::vector<std::string> hostIds_;  // by rank
  std::vector<std::unique_ptr<Transport>> transports_;
  int device_ = -1;                       // CUDA device of this rank, -1 without one
  std::unique_ptr<gpu::DeviceComm> gpu_;  // created by the first device operation
  mutable std::array<std::atomic<const void*>, 8> knownDevice_{};
  mutable std::atomic<unsigned> knownNext_{0};
  OpEnvironment env_;
  std::vector<uint8_t> scratch_;
  std::vector<uint8_t> nestedScratch_;                          // scratch of group views
  std::map<std::pair<int, int>, const AlgorithmInfo*> logged_;  // guarded by execMu_
  AlgorithmChoice algorithms_;  // guarded by execMu_ once operations run
  std::atomic<bool> aborted_{false};

  uint64_t collectiveSeq_ = 0;
  std::vector<uint64_t> sendSeq_, recvSeq_;  // point-to-point, by peer
  int splitCount_ = 0;

  mutable std::mutex brokenMu_;
  Status broken_;
  bool peersNotified_ = false;  // guarded by execMu_

  mutable std::mutex execMu_;  // held while an operation runs
  std::mutex queueMu_;
  std::condition_variable queueCv_;
  std::deque<std::function<void()>> queue_;
  size_t pending_ = 0;  // queued + running (async and inline)
  bool stopping_ = false;
  std::thread worker_;
};

// Inside a group (group.cc), records a stream call for groupEnd and returns true.
bool groupRecord(Communicator::Impl* impl, const OpDesc& desc, Stream stream);

}  // namespace braid
