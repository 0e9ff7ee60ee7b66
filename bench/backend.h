// A library braid-bench can drive: braid itself, or a comparison library (MPI on host buffers,
// NCCL on GPU buffers) run in the same launch so that every claim is a ratio measured side by
// side.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "braid/communicator.h"

namespace braid::bench {

enum class Collective {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kSendRecv
};

// One call as the benchmark issues it. Counts follow the library API (per-rank/per-block
// element counts, not the table's "size").
struct Call {
  Collective collective = Collective::kAllReduce;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;
  DataType dtype = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  bool inPlace = false;
  // The rank's CUDA stream when send and recv are device buffers (--device cuda); nullptr for
  // host buffers. braid-bench never uses the legacy default stream.
  Stream stream = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether the library can run this combination at all (MPI has no bf16 or avg).
  virtual bool supports(Collective c, DataType t, ReduceOp o) const = 0;
  // Algorithms to sweep with --algo all ("default" when the library chooses by itself).
  virtual std::vector<std::string> algorithms(Collective c) const = 0;
  virtual Status setAlgorithm(Collective c, const std::string& algo) = 0;
  // The algorithm this call ran (asked after it ran; "" when unknown).
  virtual std::string chosenAlgorithm(const Call& call) const = 0;
  // The library's own prediction of this call's time in microseconds (braid's tuner); negative
  // when it has none.
  virtual double predictedUs(const Call&) const { return -1; }
  virtual std::string transport() const = 0;
  virtual Status run(const Call& call) = 0;
  virtual Status barrier() = 0;
  // Registers device buffers with the library (-R 1: braidCommRegister, ncclCommRegister).
  virtual Status registerBuffers(const std::vector<std::pair<void*, size_t>>& buffers) = 0;
  // Whether the library has an in-place form of c (none has one for sendrecv).
  virtual bool supportsInPlace(Collective c) const { return c != Collective::kSendRecv; }
  // In-place reduceScatter leaves the result at the start of the buffer (MPI) instead of at
  // this rank's block (NCCL/braid).
  virtual bool reduceScatterInPlaceAtStart() const { return false; }
};

std::unique_ptr<Backend> makeBraidBackend(Communicator& comm);
// The braid collective behind a benchmark collective (sendrecv: kSend).
CollectiveKind kindOf(Collective c);
#if BRAID_BENCH_MPI
std::unique_ptr<Backend> makeMpiBackend();
#endif
#if BRAID_BENCH_NCCL
// Refuses NVLink multicast: sets NCCL_NVLS_ENABLE=0 when unset, fails when it is anything else.
Status ncclEnvironment();
// NCCL on comm's ranks, its unique id broadcast from rank 0 over comm; calls on stream.
Result<std::unique_ptr<Backend>> makeNcclBackend(Communicator& comm, Stream stream);
#endif

}  // namespace braid::bench
