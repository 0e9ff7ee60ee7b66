// braid::Communicator: the user's handle on a group of ranks and every collective over it.
//
// Semantics follow NCCL/MPI: every rank calls the same collectives in the same order with
// matching arguments; send == recv means in place. Blocking calls return a Status; the
// ...Async variants return a Work and run in the communicator's background thread, in call
// order. A rank that disagrees about a collective, dies, or stops answering makes every rank's
// call fail with an error that names it, within BRAID_TIMEOUT.
//
// GPU buffers. Every collective and send/recv also takes a trailing Stream (a cudaStream_t):
//  - device pointers (cudaPointerGetAttributes) are processed stream-ordered like NCCL: the call
//    enqueues kernels on the stream and returns; the result is ready when the stream reaches it.
//    Such calls can be captured in a CUDA graph and replayed (after one uncaptured GPU call has
//    set the communicator's GPU side up). Errors that happen on the device (a peer died, timed
//    out) are reported by the next call and by asyncError().
//  - host pointers with a stream: the stream is synchronized first, then the call behaves like
//    the call without a stream (blocking).
// Where every rank is on one host and all GPUs can access each other (NVLink / PCIe P2P), peers
// exchange data through each other's memory (CUDA IPC); otherwise the data is staged through
// host memory and the CPU transports (the call then synchronizes the stream and cannot be
// captured). Every rank must pass device buffers to the same calls.
// Devices: one process per GPU. A communicator created on a thread with no current CUDA context
// makes device (local rank % device count) current, the local rank being this rank's index
// among the ranks on its host; a caller that already chose a device keeps it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "braid/types.h"
#include "braid/work.h"

namespace braid {

struct CommOptions {
  std::shared_ptr<Store> store;  // required: where ranks meet
  int rank = -1;
  int size = 0;
  // Overrides BRAID_TRANSPORT: "" (from the parameter / topology), "shm" or "tcp".
  std::string transport;
  // Overrides BRAID_HOST_ID (ranks with equal host ids are treated as one host).
  std::string hostId;
  // Overrides BRAID_TIMEOUT for every wait of this communicator; 0 = the parameter.
  std::chrono::milliseconds timeout{0};
};

class Communicator {
 public:
  class Impl;

  // Builds a communicator: every rank of [0, size) calls this with the same store.
  static Result<std::unique_ptr<Communicator>> create(const CommOptions& options);
  // Builds one from the launcher's environment: braid-run (BRAID_STORE_ADDR), torchrun
  // (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT), Open MPI (OMPI_COMM_WORLD_*), Slurm (SLURM_*).
  static Result<std::unique_ptr<Communicator>> fromEnvironment();

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int size() const;
  // Transport used to reach peer ("self", "shm", "tcp").
  std::string transportTo(int peer) const;

  // Algorithm control, for benchmarks and experiments. Names per collective: allReduce ring,
  // oneshot, shm-oneshot, shm-twoshot, hierarchical; reduceScatter and allGather ring,
  // hierarchical; broadcast chain, binomial, hierarchical; reduce chain, binomial; allToAll
  // pairwise; barrier dissemination. "" or "auto" restores the tuner's choice. BRAID_ALGO sets
  // the initial overrides. Forcing hierarchical where it cannot run (one host, or hosts with
  // different numbers of ranks) fails with kUnsupported. Call between operations (it waits for
  // running ones).
  Status setAlgorithm(CollectiveKind kind, const std::string& name);
  // The algorithms kind can run on this communicator (shm-* need every rank on one host;
  // hierarchical needs several hosts with the same number of ranks on each).
  std::vector<std::string> algorithms(CollectiveKind kind) const;
  // The algorithm braid would run for such a call now (after overrides).
  std::string algorithmFor(CollectiveKind kind, size_t count, DataType dtype) const;
  // The tuner's predicted time of that call in microseconds (infinity where its cost model has
  // no formula for the algorithm).
  double predictedTimeUs(CollectiveKind kind, size_t count, DataType dtype) const;
  // The GPU kernel the last collective on device buffers that launched one ran, e.g. "two-shot
  // allReduce" or "low-latency one-shot allReduce" (the GPU path chooses by size, not by the
  // tuner above); "staged through host memory" where the GPUs cannot map each other; empty
  // before any. Calls that launch nothing (count 0, one rank, a failed launch) leave it as is.
  std::string lastDeviceAlgorithm() const;

  // --- Collectives. count is in elements of dtype. ---------------------------------------
  // recv[i] = op over ranks of send[i], for i < count.
  Status allReduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op);
  // send holds size()*recvCount elements; rank r receives the reduction of block r.
  Status reduceScatter(const void* send, void* recv, size_t recvCount, DataType dtype, ReduceOp op);
  // recv holds size()*sendCount elements: block r is rank r's send.
  Status allGather(const void* send, void* recv, size_t sendCount, DataType dtype);
  // recv on every rank = send on root (send is read on root only).
  Status broadcast(const void* send, void* recv, size_t count, DataType dtype, int root);
  // recv on root = op over ranks of send (recv is written on root only).
  Status reduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op, int root);
  // send and recv hold size()*countPerPeer elements; block j of send goes to rank j, block i of
  // recv comes from rank i.
  Status allToAll(const void* send, void* recv, size_t countPerPeer, DataType dtype);
  Status barrier();
  // Point to point: each send to peer must be matched by a recv from this rank with the same
  // count and dtype, in the same order.
  Status send(const void* buf, size_t count, DataType dtype, int peer);
  Status recv(void* buf, size_t count, DataType dtype, int peer);

  // Stream-ordered variants (see "GPU buffers" above); same arguments plus the stream.
  Status allReduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op,
                   Stream stream);
  Status reduceScatter(const void* send, void* recv, size_t recvCount, DataType dtype, ReduceOp op,
                       Stream stream);
  Status allGather(const void* send, void* recv, size_t sendCount, DataType dtype, Stream stream);
  Status broadcast(const void* send, void* recv, size_t count, DataType dtype, int root,
                   Stream stream);
  Status reduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op, int root,
                Stream stream);
  Status allToAll(const void* send, void* recv, size_t countPerPeer, DataType dtype, Stream stream);
  Status send(const void* buf, size_t count, DataType dtype, int peer, Stream stream);
  Status recv(void* buf, size_t count, DataType dtype, int peer, Stream stream);

  // Registers a device buffer with every peer (collective: every rank calls it, in the same
  // order, with its own buffer); every rank maps every rank's buffer. GPU allReduce,
  // reduceScatter and allGather from BRAID_GPU_DIRECT_BYTES whose buffers lie in registered
  // buffers then read and write the peers' buffers in place (no staging). Such calls must use
  // the same offset in the registered buffer on every rank (symmetric memory, as NCCL's
  // windows); otherwise every rank's call fails with InvalidArgument (a call registered on some
  // ranks only times out after BRAID_TIMEOUT instead). Memory CUDA IPC cannot
  // export (cudaMallocAsync pools) is refused on every rank. Returns a handle for
  // deregisterBuffer (also collective). Host buffers, or a build without CUDA: Unsupported.
  Result<void*> registerBuffer(void* buffer, size_t bytes);
  Status deregisterBuffer(void* handle);

  Work allReduceAsync(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op);
  Work reduceScatterAsync(const void* send, void* recv, size_t recvCount, DataType dtype,
                          ReduceOp op);
  Work allGatherAsync(const void* send, void* recv, size_t sendCount, DataType dtype);
  Work broadcastAsync(const void* send, void* recv, size_t count, DataType dtype, int root);
  Work reduceAsync(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op,
                   int root);
  Work allToAllAsync(const void* send, void* recv, size_t countPerPeer, DataType dtype);
  Work barrierAsync();
  Work sendAsync(const void* buf, size_t count, DataType dtype, int peer);
  Work recvAsync(void* buf, size_t count, DataType dtype, int peer);

  // Collective: ranks with equal color form a new communicator, ordered by (key, old rank).
  // A negative color takes no part and gets nullptr.
  Result<std::unique_ptr<Communicator>> split(int color, int key);

  // Fails every pending and future call with kAborted and tells the peers. Always returns.
  void abort();
  // The error that broke this communicator, if any (kOk otherwise).
  Status asyncError() const;

 private:
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Groups (like ncclGroupStart/End), per calling thread and nestable: stream calls made between
// groupStart() and the outermost groupEnd() are recorded and issued at groupEnd(). GPU sends
// and receives of one communicator and stream in a group run in one kernel launch, so that
// exchanges (each rank sends to one peer and receives from another) cannot deadlock; other
// recorded calls are issued in call order. Errors of recorded calls are returned by groupEnd().
Status groupStart();
Status groupEnd();

// Version and build features, e.g. for braid-info.
const char* versionString();
struct BuildFeatures {
  bool cuda, ucx, ibverbs, hwloc;
};
BuildFeatures buildFeatures();

}  // namespace braid
