// The collective layer: argument checks, fingerprints, and the choice of algorithm.
//
// Fingerprints. Every collective has a fingerprint (sequence number, kind, dtype, count, op,
// root). Each rank sends it to both ring neighbours and checks theirs; if any two ranks
// disagree, some adjacent pair does, and both of them fail naming each other. Every data
// message also carries a hash of the fingerprint, and a receiver refuses a fragment whose hash
// differs from its own before touching the payload — so no rank can finish with data mixed from
// a disagreeing rank, and ranks that would otherwise wait forever hear the error instead.
#include <cstring>
#include <limits>

#include "algorithm_choice.h"
#include "communicator_impl.h"
#include "logging.h"
#include "params.h"
#include "patterns/ring.h"
#include "util/hash.h"

namespace braid {
namespace {

struct Fingerprint {
  uint64_t seq = 0;
  int32_t kind = 0;
  int32_t dtype = 0;
  int32_t op = 0;
  int32_t root = 0;
  uint64_t count = 0;
  int32_t algorithm = -1;  // index in algorithmRegistry(): ranks must run the same algorithm
  int32_t reserved = 0;

  bool operator==(const Fingerprint&) const = default;
};
static_assert(sizeof(Fingerprint) == 40);

bool reduces(CollectiveKind k) {
  return k == CollectiveKind::kAllReduce || k == CollectiveKind::kReduceScatter ||
         k == CollectiveKind::kReduce;
}
bool rooted(CollectiveKind k) {
  return k == CollectiveKind::kBroadcast || k == CollectiveKind::kReduce;
}

Fingerprint fingerprintOf(const OpDesc& d, uint64_t seq, const AlgorithmInfo& algo) {
  Fingerprint f;
  f.algorithm = static_cast<int32_t>(&algo - algorithmRegistry().data());
  f.seq = seq;
  f.kind = static_cast<int32_t>(d.kind);
  f.dtype = d.kind == CollectiveKind::kBarrier ? 0 : static_cast<int32_t>(d.dtype);
  f.op = reduces(d.kind) ? static_cast<int32_t>(d.op) : 0;
  f.root = rooted(d.kind) ? d.root : 0;
  f.count = d.kind == CollectiveKind::kBarrier ? 0 : d.count;
  return f;
}

std::string describe(const Fingerprint& f) {
  auto kind = static_cast<CollectiveKind>(f.kind);
  std::string s = fmt::format("{}(count={}", toString(kind), f.count);
  if (kind != CollectiveKind::kBarrier)
    s += fmt::format(", {}", toString(static_cast<DataType>(f.dtype)));
  if (reduces(kind)) s += fmt::format(", {}", toString(static_cast<ReduceOp>(f.op)));
  if (rooted(kind)) s += fmt::format(", root={}", f.root);
  const auto& registry = algorithmRegistry();
  if (f.algorithm >= 0 && static_cast<size_t>(f.algorithm) < registry.size()) {
    s += fmt::format(") with {}", registry[f.algorithm].name);
    return s;
  }
  return s + ")";
}

uint64_t hashOf(const Fingerprint& f) {
  return hashOfValues(0x62726169642d6670ull,
                      {f.seq, uint64_t(f.kind), uint64_t(f.dtype), uint64_t(f.op), uint64_t(f.root),
                       f.count, uint64_t(f.algorithm)});
}

// Whether [a, a+an) and [b, b+bn) overlap.
bool overlaps(const void* a, size_t an, const void* b, size_t bn) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return an > 0 && bn > 0 && x < y + bn && y < x + an;
}

}  // namespace

Status Communicator::Impl::validate(const OpDesc& d) const {
  const char* name = toString(d.kind).data();
  if (d.kind != CollectiveKind::kBarrier && !isValid(d.dtype)) {
    return invalidArgument(fmt::format("{}: unknown dtype {}", name, static_cast<int>(d.dtype)));
  }
  if (reduces(d.kind) && !isValid(d.op)) {
    return invalidArgument(fmt::format("{}: unknown op {}", name, static_cast<int>(d.op)));
  }
  if (rooted(d.kind) && (d.root < 0 || d.root >= size_)) {
    return invalidArgument(fmt::format("{}: root {} is out of range [0, {})", name, d.root, size_));
  }
  if (d.kind == CollectiveKind::kSend || d.kind == CollectiveKind::kRecv) {
    if (d.peer < 0 || d.peer >= size_) {
      return invalidArgument(
          fmt::format("{}: peer {} is out of range [0, {})", name, d.peer, size_));
    }
    if (d.peer == rank_) {
      return invalidArgument(fmt::format("{}: peer {} is this rank", name, d.peer));
    }
  }
  if (d.kind == CollectiveKind::kBarrier) return Status();
  // Elements the largest buffer holds: n blocks for reduceScatter's send, allGather's recv and
  // allToAll's buffers.
  const size_t es = dataTypeSize(d.dtype);
  size_t blocks = 1;
  if (d.kind == CollectiveKind::kReduceScatter || d.kind == CollectiveKind::kAllGather ||
      d.kind == CollectiveKind::kAllToAll) {
    blocks = static_cast<size_t>(size_);
  }
  if (d.count > std::numeric_limits<size_t>::max() / es / blocks / 2) {
    return invalidArgument(
        fmt::format("{}: count {} overflows the addressable size", name, d.count));
  }
  if (d.count == 0) return Status();
  const size_t bytes = d.count * es;
  bool needSend = true, needRecv = true;
  if (d.kind == CollectiveKind::kBroadcast) needSend = rank_ == d.root;
  if (d.kind == CollectiveKind::kReduce) needRecv = rank_ == d.root;
  if (d.kind == CollectiveKind::kSend) needRecv = false;
  if (d.kind == CollectiveKind::kRecv) needSend = false;
  if (needSend && d.send == nullptr) {
    return invalidArgument(fmt::format("{}: send buffer is null with count {}", name, d.count));
  }
  if (needRecv && d.recv == nullptr) {
    return invalidArgument(fmt::format("{}: recv buffer is null with count {}", name, d.count));
  }
  // In place means send == recv (reduceScatter: recv == send + rank's block; allGather:
  // send == recv + rank's block). Any other overlap would read data already overwritten.
  if (needSend && needRecv) {
    size_t sendBytes =
        bytes * (d.kind == CollectiveKind::kReduceScatter || d.kind == CollectiveKind::kAllToAll
                     ? blocks
                     : 1);
    size_t recvBytes =
        bytes *
        (d.kind == CollectiveKind::kAllGather || d.kind == CollectiveKind::kAllToAll ? blocks : 1);
    const uint8_t* s = static_cast<const uint8_t*>(d.send);
    const uint8_t* r = static_cast<const uint8_t*>(d.recv);
    const size_t mine = bytes * static_cast<size_t>(rank_);
    bool inPlace = s == r || (d.kind == CollectiveKind::kReduceScatter && r == s + mine) ||
                   (d.kind == CollectiveKind::kAllGather && s == r + mine);
    if (d.kind == CollectiveKind::kReduceScatter && s == r && rank_ != 0) inPlace = false;
    if (d.kind == CollectiveKind::kAllGather && s == r && rank_ != 0) inPlace = false;
    if (!inPlace && overlaps(s, sendBytes, r, recvBytes)) {
      return invalidArgument(
          fmt::format("{}: send and recv buffers overlap without being in place", name));
    }
  }
  return Status();
}

Status Communicator::Impl::dispatch(OpContext& ctx, const OpDesc& d, const Decision& decision) {
  BRAID_LOG(kTrace, kColl, "{} count={} {} runs {}", toString(d.kind), d.count, toString(d.dtype),
            decision.algorithm->name);
  ctx.setChunkBytes(decision.chunkBytes);
  return decision.algorithm->run(ctx, d);
}

// Runs with execMu_ held.
Status Communicator::Impl::executeCollective(const OpDesc& d) {
  const uint64_t seq = collectiveSeq_++;
  // The algorithm is part of the fingerprint: ranks configured differently (BRAID_ALGO,
  // thresholds) must fail, not run different algorithms against each other.
  const size_t bytes = d.kind == CollectiveKind::kBarrier ? 0 : d.count * dataTypeSize(d.dtype);
  const Decision decision = algorithms_.choose(d.kind, bytes);
  const AlgorithmInfo& algo = *decision.algorithm;
  const Fingerprint mine = fingerprintOf(d, seq, algo);
  OpContext ctx(env_, d.kind, hashOf(mine), d.dtype, d.op);
  const size_t es = d.kind == CollectiveKind::kBarrier ? 0 : dataTypeSize(d.dtype);
  const auto* s = static_cast<const uint8_t*>(d.send);
  auto* r = static_cast<uint8_t*>(d.recv);

  Status st;
  if (size_ == 1) {
    // Nothing to exchange: results are the input.
    if (d.kind != CollectiveKind::kBarrier && bytes > 0 && s != r && r != nullptr) {
      std::memmove(r, s, bytes);
    }
    return Status();
  }

  // Fingerprints to and from both ring neighbours (one exchange when they are the same rank).
  const int left = patterns::ringLeft(rank_, size_), right = patterns::ringRight(rank_, size_);
  Fingerprint fromLeft, fromRight;
  ctx.setSeq(seq);
  ctx.send(right, &mine, sizeof(mine), nullptr, MsgKind::kFingerprint);
  const Request* leftReq = ctx.recv(left, &fromLeft, sizeof(fromLeft), MsgKind::kFingerprint);
  const Request* rightReq = nullptr;
  if (left != right) {
    ctx.send(left, &mine, sizeof(mine), nullptr, MsgKind::kFingerprint);
    rightReq = ctx.recv(right, &fromRight, sizeof(fromRight), MsgKind::kFingerprint);
  }
  ctx.setSeq(hashOf(mine));
  // Compare fingerprints as soon as they arrive: ranks that disagree may otherwise both wait
  // for data that never comes (two ranks that each think they are the root).
  auto compare = [&]() -> Status {
    for (auto [req, other, peer] :
         {std::tuple{leftReq, &fromLeft, left}, std::tuple{rightReq, &fromRight, right}}) {
      if (req != nullptr && req->complete && !(*other == mine)) {
        return remoteError(fmt::format(
            "ranks disagree about collective #{}: rank {} called {} but rank {} called {}", seq,
            peer, describe(*other), rank_, describe(mine)));
      }
    }
    return Status();
  };
  ctx.setCheck(compare);
  ctx.setLabel(seq);

  if (d.kind == CollectiveKind::kBroadcast && rank_ == d.root && s != r && d.count > 0) {
    std::memcpy(r, s, d.count * es);  // the root's own result
  }
  logDecision(d, bytes, decision);
  st = dispatch(ctx, d, decision);
  if (st.isOk()) st = ctx.wait();  // fingerprints of operations that moved no data

  // A fingerprint that arrived and differs explains a failure best.
  Status mismatch = compare();
  if (!mismatch.isOk()) st = mismatch;
  if (!st.isOk()) {
    // Tell the peers while this operation's requests still exist: a transport may still touch
    // them (a half-written TCP frame) while it sends the error.
    fail(st);
    return st;
  }

  if (d.op == ReduceOp::kAvg && reduces(d.kind)) {
    bool hasResult = d.kind != CollectiveKind::kReduce || rank_ == d.root;
    if (hasResult) divideByRanks(r, d.count, d.dtype, size_);
  }
  return Status();
}

Status Communicator::Impl::executePointToPoint(const OpDesc& d) {
  const bool isSend = d.kind == CollectiveKind::kSend;
  uint64_t& counter = isSend ? sendSeq_[d.peer] : recvSeq_[d.peer];
  const uint64_t n = counter++;
  // The hash covers count and dtype, so a mismatched pair fails instead of delivering.
  Fingerprint f;
  f.seq = n;
  f.kind = static_cast<int32_t>(CollectiveKind::kSend);
  f.dtype = static_cast<int32_t>(d.dtype);
  f.count = d.count;
  OpContext ctx(env_, d.kind, hashOf(f), d.dtype, d.op);
  ctx.setLabel(n, fmt::format(" {} rank {}", isSend ? "to" : "from", d.peer));
  const size_t bytes = d.count * dataTypeSize(d.dtype);
  if (isSend) {
    ctx.send(d.peer, d.send, bytes);
  } else {
    ctx.recv(d.peer, d.recv, bytes);
  }
  Status st = ctx.wait();
  if (!st.isOk() && st.code() == StatusCode::kRemoteError &&
      st.message().find("disagree") != std::string::npos) {
    st = remoteError(fmt::format(
        "{} ({} x {}) does not match the peer's operation: every send must be matched by a "
        "recv with the same count and dtype, in the same order",
        st.message(), d.count, toString(d.dtype)));
  }
  if (!st.isOk()) fail(st);  // while the requests still exist (see executeCollective)
  return st;
}

}  // namespace braid
