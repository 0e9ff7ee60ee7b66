// Per-collective set-up, exact checks and bus-bandwidth factors for braid-bench.
#include "collective.h"

#include <cstring>

#include "exact_data.h"

namespace braid::bench {

namespace {
const std::vector<Collective> kAll = {Collective::kAllReduce, Collective::kReduceScatter,
                                      Collective::kAllGather, Collective::kBroadcast,
                                      Collective::kReduce,    Collective::kAllToAll,
                                      Collective::kSendRecv};
const char* kNames[] = {"allreduce", "reducescatter", "allgather", "broadcast",
                        "reduce",    "alltoall",      "sendrecv"};
}  // namespace

std::string_view collectiveName(Collective c) { return kNames[static_cast<int>(c)]; }

std::optional<Collective> parseCollective(const std::string& name) {
  for (Collective c : kAll) {
    if (collectiveName(c) == name) return c;
  }
  return std::nullopt;
}

const std::vector<Collective>& allCollectives() { return kAll; }

bool reduces(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
}
bool rooted(Collective c) { return c == Collective::kBroadcast || c == Collective::kReduce; }

double busFactor(Collective c, int n) {
  if (n <= 1) return 1.0;
  switch (c) {
    case Collective::kAllReduce:
      return 2.0 * (n - 1) / n;
    case Collective::kReduceScatter:
    case Collective::kAllGather:
    case Collective::kAllToAll:
      return static_cast<double>(n - 1) / n;
    default:
      return 1.0;
  }
}

namespace {
bool blockwise(Collective c) {
  return c == Collective::kReduceScatter || c == Collective::kAllGather ||
         c == Collective::kAllToAll;
}
}  // namespace

Buffers::Buffers(Collective c, size_t sizeBytes, DataType t, ReduceOp o, int root, int rank,
                 int ranks)
    : c_(c),
      type_(t),
      op_(reduces(c) ? o : ReduceOp::kSum),
      root_(root),
      rank_(rank),
      ranks_(ranks) {
  const size_t es = dataTypeSize(t);
  perCall_ = blockwise(c) ? static_cast<size_t>(ranks) : 1;
  callCount_ = sizeBytes / es / perCall_;
  send_.assign(std::max<size_t>(sendElems() * es, 1), 0);
  recv_.assign(std::max<size_t>(recvElems() * es, 1), 0);
}

size_t Buffers::tableCount() const { return callCount_ * perCall_; }

size_t Buffers::sendElems() const {
  return c_ == Collective::kReduceScatter || c_ == Collective::kAllToAll ? callCount_ * ranks_
                                                                         : callCount_;
}
size_t Buffers::recvElems() const {
  if (c_ == Collective::kAllGather || c_ == Collective::kAllToAll) return callCount_ * ranks_;
  // In-place reduceScatter runs in a whole-array buffer.
  if (c_ == Collective::kReduceScatter) return callCount_ * ranks_;
  return callCount_;
}

Call Buffers::prepare(bool inPlace, bool fill, bool rsInPlaceAtStart) {
  const size_t es = dataTypeSize(type_);
  const size_t k = callCount_;
  Call call;
  call.collective = c_;
  call.count = k;
  call.dtype = type_;
  call.op = op_;
  call.root = root_;
  call.inPlace = inPlace;
  call.send = send_.data();
  call.recv = recv_.data();
  uint8_t* input = inPlace ? recv_.data() : send_.data();
  switch (c_) {
    case Collective::kReduceScatter:
      if (fill) exact::fillInput(input, k * ranks_, type_, op_, rank_, ranks_);
      if (inPlace) {
        call.send = recv_.data();
        call.recv = rsInPlaceAtStart ? recv_.data() : recv_.data() + k * rank_ * es;
      }
      break;
    case Collective::kAllGather:
      if (inPlace) {
        input = recv_.data() + k * rank_ * es;
        call.send = input;
      }
      if (fill) exact::fillInput(input, k, type_, op_, rank_, ranks_);
      break;
    case Collective::kBroadcast:
      if (fill && rank_ == root_) exact::fillInput(input, k, type_, op_, root_, ranks_);
      if (inPlace) call.send = recv_.data();
      break;
    case Collective::kAllToAll:
      if (fill) exact::fillInput(input, k * ranks_, type_, op_, rank_, ranks_);
      if (inPlace) call.send = recv_.data();
      break;
    default:  // allReduce, reduce, sendrecv
      if (fill) exact::fillInput(input, k, type_, op_, rank_, ranks_);
      if (inPlace) call.send = recv_.data();
      break;
  }
  if (fill && !inPlace) std::memset(recv_.data(), 0xA5, recv_.size());
  return call;
}

uint64_t Buffers::wrong(bool inPlace, bool rsInPlaceAtStart) {
  const size_t es = dataTypeSize(type_);
  const size_t k = callCount_;
  const int n = ranks_, r = rank_;
  if (!expectedReady_) {
    expected_.assign(std::max<size_t>(recvElems() * es, 1), 0);
    uint8_t* e = expected_.data();
    switch (c_) {
      case Collective::kAllReduce:
        exact::fillReduced(e, k, type_, op_, n);
        break;
      case Collective::kReduce:
        if (r == root_) exact::fillReduced(e, k, type_, op_, n);
        break;
      case Collective::kReduceScatter:
        exact::fillReduced(e, k, type_, op_, n, k * r);
        break;
      case Collective::kAllGather:
        for (int b = 0; b < n; ++b) exact::fillInput(e + k * b * es, k, type_, op_, b, n);
        break;
      case Collective::kBroadcast:
        exact::fillInput(e, k, type_, op_, root_, n);
        break;
      case Collective::kAllToAll:
        for (int i = 0; i < n; ++i) exact::fillInput(e + k * i * es, k, type_, op_, i, n, k * r);
        break;
      case Collective::kSendRecv:
        exact::fillInput(e, k, type_, op_, (r + n - 1) % n, n);
        break;
    }
    expectedReady_ = true;
  }
  const uint8_t* got = recv_.data();
  size_t elems = k;
  switch (c_) {
    case Collective::kReduce:
      if (r != root_) return 0;
      break;
    case Collective::kReduceScatter:
      if (inPlace && !rsInPlaceAtStart) got += k * r * es;
      break;
    case Collective::kAllGather:
    case Collective::kAllToAll:
      elems = k * n;
      break;
    default:
      break;
  }
  return exact::countMismatches(got, expected_.data(), elems, type_);
}

}  // namespace braid::bench
