// Per-collective set-up, exact checks and bus-bandwidth factors for braid-bench.
#include "collective.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

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

// Host threads per rank for building and checking large buffers (GiB-sized on GPUs): the
// cores shared among the ranks of this host, at most 16.
unsigned hostThreads() {
  static const unsigned threads = [] {
    unsigned ranks = 1;
    for (const char* name : {"LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"}) {
      if (const char* v = std::getenv(name); v != nullptr && std::atoi(v) > 0) {
        ranks = static_cast<unsigned>(std::atoi(v));
        break;
      }
    }
    return std::clamp(std::thread::hardware_concurrency() / ranks, 1u, 16u);
  }();
  return threads;
}

// fn(begin, end) over [0, count) in chunks, on several threads when count is large.
void forChunks(size_t count, const std::function<void(size_t, size_t)>& fn) {
  constexpr size_t kMinChunk = size_t{4} << 20;
  const size_t chunks = std::min<size_t>(hostThreads(), (count + kMinChunk - 1) / kMinChunk);
  if (chunks <= 1) {
    fn(0, count);
    return;
  }
  const size_t step = (count + chunks - 1) / chunks;
  std::vector<std::thread> threads;
  for (size_t begin = step; begin < count; begin += step) {
    threads.emplace_back(fn, begin, std::min(count, begin + step));
  }
  fn(0, std::min(count, step));
  for (auto& t : threads) t.join();
}

void fillInput(uint8_t* buf, size_t count, DataType t, ReduceOp o, int rank, int ranks,
               size_t first = 0) {
  const size_t es = dataTypeSize(t);
  forChunks(count, [&](size_t b, size_t e) {
    exact::fillInput(buf + b * es, e - b, t, o, rank, ranks, first + b);
  });
}

void fillReduced(uint8_t* buf, size_t count, DataType t, ReduceOp o, int ranks, size_t first = 0) {
  const size_t es = dataTypeSize(t);
  forChunks(count, [&](size_t b, size_t e) {
    exact::fillReduced(buf + b * es, e - b, t, o, ranks, first + b);
  });
}

uint64_t countMismatches(const uint8_t* got, const uint8_t* expected, size_t count, DataType t) {
  const size_t es = dataTypeSize(t);
  std::atomic<uint64_t> wrong{0};
  forChunks(count, [&](size_t b, size_t e) {
    wrong += exact::countMismatches(got + b * es, expected + b * es, e - b, t);
  });
  return wrong;
}

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
      if (fill) fillInput(input, k * ranks_, type_, op_, rank_, ranks_);
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
      if (fill) fillInput(input, k, type_, op_, rank_, ranks_);
      break;
    case Collective::kBroadcast:
      if (fill && rank_ == root_) fillInput(input, k, type_, op_, root_, ranks_);
      if (inPlace) call.send = recv_.data();
      break;
    case Collective::kAllToAll:
      if (fill) fillInput(input, k * ranks_, type_, op_, rank_, ranks_);
      if (inPlace) call.send = recv_.data();
      break;
    default:  // allReduce, reduce, sendrecv
      if (fill) fillInput(input, k, type_, op_, rank_, ranks_);
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
        fillReduced(e, k, type_, op_, n);
        break;
      case Collective::kReduce:
        if (r == root_) fillReduced(e, k, type_, op_, n);
        break;
      case Collective::kReduceScatter:
        fillReduced(e, k, type_, op_, n, k * r);
        break;
      case Collective::kAllGather:
        for (int b = 0; b < n; ++b) fillInput(e + k * b * es, k, type_, op_, b, n);
        break;
      case Collective::kBroadcast:
        fillInput(e, k, type_, op_, root_, n);
        break;
      case Collective::kAllToAll:
        for (int i = 0; i < n; ++i) fillInput(e + k * i * es, k, type_, op_, i, n, k * r);
        break;
      case Collective::kSendRecv:
        fillInput(e, k, type_, op_, (r + n - 1) % n, n);
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
  return countMismatches(got, expected_.data(), elems, type_);
}

}  // namespace braid::bench
