// The braid backend of braid-bench: one call of the Communicator per Call (its stream overload
// for device buffers).
#include <cmath>

#include "backend.h"

namespace braid::bench {

CollectiveKind kindOf(Collective c) {
  switch (c) {
    case Collective::kAllReduce:
      return CollectiveKind::kAllReduce;
    case Collective::kReduceScatter:
      return CollectiveKind::kReduceScatter;
    case Collective::kAllGather:
      return CollectiveKind::kAllGather;
    case Collective::kBroadcast:
      return CollectiveKind::kBroadcast;
    case Collective::kReduce:
      return CollectiveKind::kReduce;
    case Collective::kAllToAll:
      return CollectiveKind::kAllToAll;
    case Collective::kSendRecv:
      return CollectiveKind::kSend;
  }
  return CollectiveKind::kAllReduce;
}

namespace {

class BraidBackend final : public Backend {
 public:
  explicit BraidBackend(Communicator& comm) : comm_(comm) {}
  std::string name() const override { return "braid"; }
  bool supports(Collective, DataType, ReduceOp) const override { return true; }
  std::vector<std::string> algorithms(Collective c) const override {
    if (c == Collective::kSendRecv) return {};
    return comm_.algorithms(kindOf(c));
  }
  Status setAlgorithm(Collective c, const std::string& algo) override {
    if (c == Collective::kSendRecv) return Status();
    return comm_.setAlgorithm(kindOf(c), algo);
  }
  // Called after the call ran: device buffers report what the GPU path launched (it does not
  // ask the tuner, so there is no predicted time), host buffers the tuner's choice.
  std::string chosenAlgorithm(const Call& call) const override {
    if (call.collective == Collective::kSendRecv) return "p2p";
    if (call.stream != nullptr) return comm_.lastDeviceAlgorithm();
    return comm_.algorithmFor(kindOf(call.collective), call.count, call.dtype);
  }
  double predictedUs(const Call& call) const override {
    if (call.collective == Collective::kSendRecv || call.stream != nullptr) return -1;
    double t = comm_.predictedTimeUs(kindOf(call.collective), call.count, call.dtype);
    return std::isfinite(t) ? t : -1;
  }
  std::string transport() const override {
    std::string t;
    for (int p = 0; p < comm_.size(); ++p) {
      std::string name = comm_.transportTo(p);
      if (name != "self" && t.find(name) == std::string::npos) t += (t.empty() ? "" : ",") + name;
    }
    return t.empty() ? "self" : t;
  }
  Status run(const Call& c) override {
    // Device buffers go through the stream overloads, host buffers through the blocking calls.
    return c.stream != nullptr ? issue(c, c.stream) : issue(c);
  }
  Status barrier() override { return comm_.barrier(); }
  Status registerBuffers(const std::vector<std::pair<void*, size_t>>& buffers) override {
    for (const auto& [p, bytes] : buffers) {
      auto handle = comm_.registerBuffer(p, bytes);
      if (!handle.isOk()) return handle.status();
    }
    return Status();
  }

 private:
  // The Communicator call for c; `stream` is empty (host buffers) or the one CUDA stream.
  template <typename... OnStream>
  Status issue(const Call& c, OnStream... stream) {
    switch (c.collective) {
      case Collective::kAllReduce:
        return comm_.allReduce(c.send, c.recv, c.count, c.dtype, c.op, stream...);
      case Collective::kReduceScatter:
        return comm_.reduceScatter(c.send, c.recv, c.count, c.dtype, c.op, stream...);
      case Collective::kAllGather:
        return comm_.allGather(c.send, c.recv, c.count, c.dtype, stream...);
      case Collective::kBroadcast:
        return comm_.broadcast(c.send, c.recv, c.count, c.dtype, c.root, stream...);
      case Collective::kReduce:
        return comm_.reduce(c.send, c.recv, c.count, c.dtype, c.op, c.root, stream...);
      case Collective::kAllToAll:
        return comm_.allToAll(c.send, c.recv, c.count, c.dtype, stream...);
      case Collective::kSendRecv: {
        // A ring shift. Operations run in call order, so odd ranks receive first.
        const int n = comm_.size(), r = comm_.rank();
        if (n == 1) return comm_.allGather(c.send, c.recv, c.count, c.dtype, stream...);
        const int next = (r + 1) % n, prev = (r + n - 1) % n;
        if (r % 2 == 0) {
          BRAID_RETURN_IF_ERROR(comm_.send(c.send, c.count, c.dtype, next, stream...));
          return comm_.recv(c.recv, c.count, c.dtype, prev, stream...);
        }
        BRAID_RETURN_IF_ERROR(comm_.recv(c.recv, c.count, c.dtype, prev, stream...));
        return comm_.send(c.send, c.count, c.dtype, next, stream...);
      }
    }
    return internalError("unknown collective");
  }

  Communicator& comm_;
};

}  // namespace

std::unique_ptr<Backend> makeBraidBackend(Communicator& comm) {
  return std::make_unique<BraidBackend>(comm);
}

}  // namespace braid::bench
