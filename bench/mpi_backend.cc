// The MPI comparison backend of braid-bench (Open MPI from Debian): the same calls through
// MPI_Allreduce, MPI_Reduce_scatter_block, MPI_Allgather, MPI_Bcast, MPI_Reduce, MPI_Alltoall
// and MPI_Sendrecv on MPI_COMM_WORLD. Built only where MPI is found.
#include <mpi.h>

#include <cstring>

#include "backend.h"

namespace braid::bench {
namespace {

MPI_Datatype mpiType(DataType t) {
  switch (t) {
    case DataType::kInt8:
      return MPI_INT8_T;
    case DataType::kUint8:
      return MPI_UINT8_T;
    case DataType::kInt32:
      return MPI_INT32_T;
    case DataType::kUint32:
      return MPI_UINT32_T;
    case DataType::kInt64:
      return MPI_INT64_T;
    case DataType::kUint64:
      return MPI_UINT64_T;
    case DataType::kFloat32:
      return MPI_FLOAT;
    case DataType::kFloat64:
      return MPI_DOUBLE;
    default:
      return MPI_DATATYPE_NULL;  // no fp16 / bf16 in MPI
  }
}

MPI_Op mpiOp(ReduceOp o) {
  switch (o) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kProd:
      return MPI_PROD;
    case ReduceOp::kMin:
      return MPI_MIN;
    case ReduceOp::kMax:
      return MPI_MAX;
    default:
      return MPI_OP_NULL;  // no avg in MPI
  }
}

Status check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return Status();
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return remoteError(std::string(what) + ": " + std::string(text, len));
}

class MpiBackend final : public Backend {
 public:
  MpiBackend() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  std::string name() const override { return "mpi"; }
  bool supports(Collective c, DataType t, ReduceOp o) const override {
    bool reduces =
        c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
    return mpiType(t) != MPI_DATATYPE_NULL && (!reduces || mpiOp(o) != MPI_OP_NULL);
  }
  std::vector<std::string> algorithms(Collective) const override { return {"default"}; }
  Status setAlgorithm(Collective, const std::string&) override { return Status(); }
  std::string chosenAlgorithm(const Call&) const override { return ""; }
  std::string transport() const override { return ""; }
  bool reduceScatterInPlaceAtStart() const override { return true; }

  Status run(const Call& c) override {
    if (c.count > static_cast<size_t>(INT32_MAX)) return unsupported("MPI counts are int");
    const MPI_Datatype t = mpiType(c.dtype);
    const int count = static_cast<int>(c.count);
    const void* send = c.inPlace ? MPI_IN_PLACE : c.send;
    switch (c.collective) {
      case Collective::kAllReduce:
        return check(MPI_Allreduce(send, c.recv, count, t, mpiOp(c.op), MPI_COMM_WORLD),
                     "MPI_Allreduce");
      case Collective::kReduceScatter:
        // In place, MPI reads the whole input from recv and leaves the result at its start.
        return check(MPI_Reduce_scatter_block(send, c.recv, count, t, mpiOp(c.op), MPI_COMM_WORLD),
                     "MPI_Reduce_scatter_block");
      case Collective::kAllGather:
        return check(MPI_Allgather(send, count, t, c.recv, count, t, MPI_COMM_WORLD),
                     "MPI_Allgather");
      case Collective::kBroadcast:
        if (rank_ == c.root && !c.inPlace && c.count > 0) {
          std::memcpy(c.recv, c.send, c.count * dataTypeSize(c.dtype));
        }
        return check(MPI_Bcast(c.recv, count, t, c.root, MPI_COMM_WORLD), "MPI_Bcast");
      case Collective::kReduce: {
        const void* s = c.inPlace && rank_ == c.root ? MPI_IN_PLACE : c.send;
        return check(MPI_Reduce(s, c.recv, count, t, mpiOp(c.op), c.root, MPI_COMM_WORLD),
                     "MPI_Reduce");
      }
      case Collective::kAllToAll:
        return check(MPI_Alltoall(send, count, t, c.recv, count, t, MPI_COMM_WORLD),
                     "MPI_Alltoall");
      case Collective::kSendRecv: {
        const int next = (rank_ + 1) % size_, prev = (rank_ + size_ - 1) % size_;
        return check(MPI_Sendrecv(c.send, count, t, next, 7, c.recv, count, t, prev, 7,
                                  MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                     "MPI_Sendrecv");
      }
    }
    return internalError("unknown collective");
  }
  Status barrier() override { return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  Status registerBuffers(const std::vector<std::pair<void*, size_t>>&) override {
    return unsupported("MPI runs on host buffers: nothing to register");
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Backend> makeMpiBackend() { return std::make_unique<MpiBackend>(); }

}  // namespace braid::bench
