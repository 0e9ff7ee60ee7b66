// The NCCL comparison backend of braid-bench (--device cuda --backend braid,nccl): the same calls
// through ncclAllReduce, ncclReduceScatter, ncclAllGather, ncclBroadcast, ncclReduce,
// ncclAlltoAll and grouped ncclSend/ncclRecv on the rank's stream, in the same launch as braid.
// Its communicator is built from a unique id that rank 0 broadcasts over braid's (CPU)
// communicator. NVLink multicast stays off (NCCL_NVLS_ENABLE=0): on shared hosts it can take the
// GPUs out of service. Built only where nccl.h and libnccl are found.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "backend.h"

namespace braid::bench {
namespace {

ncclDataType_t ncclType(DataType t) {
  switch (t) {
    case DataType::kInt8:
      return ncclInt8;
    case DataType::kUint8:
      return ncclUint8;
    case DataType::kInt32:
      return ncclInt32;
    case DataType::kUint32:
      return ncclUint32;
    case DataType::kInt64:
      return ncclInt64;
    case DataType::kUint64:
      return ncclUint64;
    case DataType::kFloat16:
      return ncclFloat16;
    case DataType::kBfloat16:
      return ncclBfloat16;
    case DataType::kFloat32:
      return ncclFloat32;
    case DataType::kFloat64:
      return ncclFloat64;
  }
  return ncclFloat32;
}

ncclRedOp_t ncclOp(ReduceOp o) {
  switch (o) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kProd:
      return ncclProd;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kAvg:
      return ncclAvg;
  }
  return ncclSum;
}

class NcclBackend final : public Backend {
 public:
  NcclBackend(Communicator& comm, Stream stream)
      : comm_(comm), stream_(static_cast<cudaStream_t>(stream)) {}
  ~NcclBackend() override {
    for (void* h : registered_) ncclCommDeregister(nccl_, h);
    if (nccl_ != nullptr) ncclCommDestroy(nccl_);
  }

  Status init() {
    // Rank 0 makes the id; every rank learns it (or rank 0's failure) from one broadcast.
    struct {
      int32_t ok = 0;
      ncclUniqueId id;
    } hello;
    std::memset(&hello.id, 0, sizeof(hello.id));
    Status made;
    if (comm_.rank() == 0) {
      made = check(ncclGetUniqueId(&hello.id), "ncclGetUniqueId");
      hello.ok = made.isOk() ? 1 : 0;
    }
    BRAID_RETURN_IF_ERROR(
        comm_.broadcast(&hello, &hello, sizeof(hello), DataType::kUint8, /*root=*/0));
    BRAID_RETURN_IF_ERROR(made);
    if (hello.ok == 0) return remoteError("rank 0 could not make NCCL's unique id");
    return check(ncclCommInitRank(&nccl_, comm_.size(), hello.id, comm_.rank()),
                 "ncclCommInitRank");
  }

  std::string name() const override { return "nccl"; }
  bool supports(Collective, DataType, ReduceOp) const override { return true; }
  // ncclAlltoAll documents no in-place form: not measured in place.
  bool supportsInPlace(Collective c) const override {
    return c != Collective::kSendRecv && c != Collective::kAllToAll;
  }
  std::vector<std::string> algorithms(Collective) const override { return {"default"}; }
  Status setAlgorithm(Collective, const std::string&) override { return Status(); }
  std::string chosenAlgorithm(const Call&) const override { return ""; }
  std::string transport() const override { return ""; }

  Status run(const Call& c) override {
    if (c.stream == nullptr) return invalidArgument("NCCL runs on device buffers only");
    const ncclDataType_t t = ncclType(c.dtype);
    const ncclRedOp_t op = ncclOp(c.op);
    switch (c.collective) {
      case Collective::kAllReduce:
        return check(ncclAllReduce(c.send, c.recv, c.count, t, op, nccl_, stream_),
                     "ncclAllReduce");
      case Collective::kReduceScatter:
        return check(ncclReduceScatter(c.send, c.recv, c.count, t, op, nccl_, stream_),
                     "ncclReduceScatter");
      case Collective::kAllGather:
        return check(ncclAllGather(c.send, c.recv, c.count, t, nccl_, stream_), "ncclAllGather");
      case Collective::kBroadcast:
        return check(ncclBroadcast(c.send, c.recv, c.count, t, c.root, nccl_, stream_),
                     "ncclBroadcast");
      case Collective::kReduce:
        return check(ncclReduce(c.send, c.recv, c.count, t, op, c.root, nccl_, stream_),
                     "ncclReduce");
      case Collective::kAllToAll:
        return check(ncclAlltoAll(c.send, c.recv, c.count, t, nccl_, stream_), "ncclAlltoAll");
      case Collective::kSendRecv: {
        const int n = comm_.size(), r = comm_.rank();
        BRAID_RETURN_IF_ERROR(check(ncclGroupStart(), "ncclGroupStart"));
        ncclResult_t sent = ncclSend(c.send, c.count, t, (r + 1) % n, nccl_, stream_);
        ncclResult_t received = ncclRecv(c.recv, c.count, t, (r + n - 1) % n, nccl_, stream_);
        ncclResult_t ended = ncclGroupEnd();
        BRAID_RETURN_IF_ERROR(check(sent, "ncclSend"));
        BRAID_RETURN_IF_ERROR(check(received, "ncclRecv"));
        return check(ended, "ncclGroupEnd");
      }
    }
    return internalError("unknown collective");
  }
  // Called with this rank's stream drained: the host-side rendezvous of braid suffices.
  Status barrier() override { return comm_.barrier(); }
  Status registerBuffers(const std::vector<std::pair<void*, size_t>>& buffers) override {
    for (const auto& [p, bytes] : buffers) {
      void* handle = nullptr;
      BRAID_RETURN_IF_ERROR(check(ncclCommRegister(nccl_, p, bytes, &handle), "ncclCommRegister"));
      registered_.push_back(handle);
    }
    return Status();
  }

 private:
  Status check(ncclResult_t rc, const char* what) const {
    if (rc == ncclSuccess) return Status();
    std::string text = std::string(what) + ": " + ncclGetErrorString(rc);
    const char* last = ncclGetLastError(nccl_);
    if (last != nullptr && *last != '\0') text += std::string(" (") + last + ")";
    return remoteError(text);
  }

  Communicator& comm_;
  cudaStream_t stream_;
  ncclComm_t nccl_ = nullptr;
  std::vector<void*> registered_;
};

}  // namespace

Status ncclEnvironment() {
  const char* nvls = std::getenv("NCCL_NVLS_ENABLE");
  if (nvls == nullptr) {
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    return Status();
  }
  if (std::string(nvls) != "0") {
    return invalidArgument("NCCL_NVLS_ENABLE=" + std::string(nvls) +
                           ": braid-bench runs NCCL only with NVLink multicast off "
                           "(NCCL_NVLS_ENABLE=0): multicast can take shared GPUs out of service");
  }
  return Status();
}

Result<std::unique_ptr<Backend>> makeNcclBackend(Communicator& comm, Stream stream) {
  auto backend = std::make_unique<NcclBackend>(comm, stream);
  BRAID_RETURN_IF_ERROR(backend->init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace braid::bench
