// The α–β–γ formulas of every algorithm braid has or is adding (docs/tuner.md lists them with
// their derivation). Each formula walks the algorithm's steps at the level of "which link does
// this step use, how many bytes go through it, how many flows share it".
#include "cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "params.h"
#include "patterns/hierarchy.h"

namespace braid {
namespace {

using K = CollectiveKind;
constexpr double kInf = std::numeric_limits<double>::infinity();

// One step's latency and per-byte time.
struct Hop {
  double a = 0, b = 0;
};

Hop localHop(const CostModel& m, const CommShape& s) {
  const LinkCost& l = m.link(s.local);
  return {l.alphaUs, l.betaUsPerByte};
}
// The network link of a host, shared by `flows` flows of this group and by the concurrent groups.
Hop remoteHop(const CostModel& m, const CommShape& s, double flows) {
  const LinkCost& l = m.link(s.remote);
  return {l.alphaUs, l.betaUsPerByte * std::max(1.0, flows) * s.linkSharing};
}
// A flat algorithm's step: on one host the local link, else the network (steps are synchronous,
// so the slowest link sets the pace).
Hop flatHop(const CostModel& m, const CommShape& s, double flows) {
  return s.hosts > 1 ? remoteHop(m, s, flows) : localHop(m, s);
}
size_t flatPipeline(const CostModel& m, const CommShape& s) {
  return m.link(s.hosts > 1 ? s.remote : s.local).pipelineBytes;
}
// A step between partners `distance` apart (recursive halving/doubling, binomial trees) stays on
// one host when hosts are blocks of consecutive ranks that aligned 2*distance blocks nest in;
// otherwise every rank of a host may cross at once.
Hop distanceHop(const CostModel& m, const CommShape& s, int distance) {
  bool local = s.hosts == 1 || (s.hostMajor && s.uniform && s.ranksPerHost % (2 * distance) == 0);
  return local ? localHop(m, s) : remoteHop(m, s, s.ranksPerHost);
}

int ceilLog2(int n) {
  int d = 0;
  while ((1 << d) < n) ++d;
  return d;
}
int floorPow2(int n) {
  int p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
double ceilDiv(double a, double b) { return std::ceil(a / b); }

// Chunk sizes the tuner tries for pipelined algorithms.
const size_t kChunks[] = {size_t{8} << 10,   size_t{16} << 10,  size_t{32} << 10,  size_t{64} << 10,
                          size_t{128} << 10, size_t{256} << 10, size_t{512} << 10, size_t{1} << 20,
                          size_t{2} << 20,   size_t{4} << 20};

// The best chunk for a pipeline of `depth` steps moving `bytes` in chunks, each step costing
// alpha + perChunk(chunk).
template <typename StepCost>
double bestPipeline(int depth, double bytes, size_t* chunk, StepCost stepCost) {
  double best = kInf;
  for (size_t c : kChunks) {
    double used = std::max(1.0, std::min(static_cast<double>(c), bytes));
    double k = std::max(1.0, ceilDiv(bytes, used));
    double t = (depth + k - 1) * stepCost(used);
    if (t < best) {
      best = t;
      if (chunk != nullptr) *chunk = c;
    }
    if (static_cast<double>(c) >= bytes) break;  // larger chunks change nothing
  }
  return best;
}

// --- allReduce (S = the buffer) ---------------------------------------------------------------

// The fold of a world that is not a power of two (halving-doubling, recursive doubling): the
// extra ranks hand their buffer in, the partners reduce it and hand the result back.
double foldCost(const CostModel& m, const CommShape& s, double S) {
  if (s.ranks == floorPow2(s.ranks)) return 0;
  Hop h = flatHop(m, s, 1);
  return 2 * (h.a + S * h.b) + S * m.gammaUsPerByte;
}

// log2 p' steps, each a whole-buffer exchange with the participant `dist` away and a reduction;
// a non-power-of-two world's extra ranks fold in first and get the result at the end.
double recursiveDoublingAllReduce(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks, q = floorPow2(p);
  double t = 0;
  for (int dist = 1; dist < q; dist *= 2) {
    Hop h = distanceHop(m, s, dist);
    t += h.a + S * h.b + S * m.gammaUsPerByte;
  }
  return t + foldCost(m, s, S);
}

double ringAllReduce(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks;
  Hop h = flatHop(m, s, s.ringFlows);
  return 2.0 * (p - 1) * (h.a + S / p * h.b) + (p - 1.0) / p * S * m.gammaUsPerByte;
}

// Every rank sends `bytes` to every peer at once: the host-local and the cross-host transfers
// overlap, the cross-host ones share a host's link among all its ranks' remote flows. Each
// message after the first costs its link's per-message overhead.
double toEveryPeer(const CostModel& m, const CommShape& s, double bytes) {
  const int p = s.ranks, l = s.ranksPerHost;
  const double oLocal = m.link(s.local).overheadUs, oRemote = m.link(s.remote).overheadUs;
  double t = 0, overhead = 0;
  if (l > 1) {
    t = localHop(m, s).a + (l - 1.0) * bytes * localHop(m, s).b;
    overhead = (l - 1.0) * oLocal;
  }
  if (s.hosts > 1) {
    Hop r = remoteHop(m, s, static_cast<double>(l) * (p - l));
    t = std::max(t, r.a + bytes * r.b);
    overhead += (p - l) * oRemote;
  }
  // The first message's overhead is part of alpha.
  return t + std::max(0.0, overhead - (s.hosts > 1 ? oRemote : oLocal));
}

// Every rank sends its buffer to every peer and reduces n buffers.
double oneShotAllReduce(const CostModel& m, const CommShape& s, double S) {
  return toEveryPeer(m, s, S) + (s.ranks - 1.0) * S * m.gammaUsPerByte;
}

double shmOneShot(const CostModel& m, const CommShape& s, double S) {
  if (s.arenaWindow == 0 || S > static_cast<double>(s.arenaWindow)) return kInf;
  Hop h = localHop(m, s);
  return h.a + S * h.b + (s.ranks - 1.0) * S * m.gammaUsPerByte;
}

// Rounds of one window: stage, reduce a 1/n slice of every window, copy every slice out.
double shmTwoShot(const CostModel& m, const CommShape& s, double S) {
  if (s.arenaWindow == 0) return kInf;
  Hop h = localHop(m, s);
  double rounds = std::max(1.0, ceilDiv(S, static_cast<double>(s.arenaWindow)));
  return 2 * rounds * h.a + S * h.b + (s.ranks - 1.0) / s.ranks * S * m.gammaUsPerByte;
}

// Pipelined double binary tree: two trees of depth D each carry half; a chunk goes up (reduced)
// and down. In the steady state a rank sends about 4 chunks per step (up and down, both trees).
double treeAllReduce(const CostModel& m, const CommShape& s, double S, size_t* chunk) {
  const int d = ceilLog2(s.ranks);
  Hop h = flatHop(m, s, 2);
  return bestPipeline(2 * d, S / 2, chunk, [&](double c) { return h.a + 4 * c * h.b; }) +
         S * m.gammaUsPerByte;
}

// Halving-doubling steps move each step's bytes as one message (not streamed fragment by
// fragment like the ring), so the sender's and the receiver's copies of a step do not overlap:
// measured on loopback TCP at 4 ranks, 1-4 MiB ran 25-60% slower than the ring although the
// plain α-β terms favour halving-doubling. Its bandwidth term is scaled by this factor.
constexpr double kUnstreamedFactor = 1.5;

// Recursive halving (reduce-scatter) and doubling (allgather) on the largest power of two p';
// the other p - p' ranks first fold their data into a partner and get the result back at the end.
double halvingDoublingAllReduce(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks, q = floorPow2(p);
  double t = 0;
  for (int dist = q / 2; dist >= 1; dist /= 2) {
    Hop h = distanceHop(m, s, dist);
    t += 2 * (h.a + S * dist / q * h.b * kUnstreamedFactor);  // halving step + mirror doubling
  }
  t += (q - 1.0) / q * S * m.gammaUsPerByte;
  return t + foldCost(m, s, S);
}

// --- reduceScatter / allGather (S = all n blocks) ---------------------------------------------

double ringReduceScatter(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks;
  Hop h = flatHop(m, s, s.ringFlows);
  return (p - 1) * (h.a + S / p * h.b) + (p - 1.0) / p * S * m.gammaUsPerByte;
}
double ringAllGather(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks;
  Hop h = flatHop(m, s, s.ringFlows);
  return (p - 1) * (h.a + S / p * h.b);
}

double halvingReduceScatter(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks, q = floorPow2(p);
  double t = 0;
  for (int dist = q / 2; dist >= 1; dist /= 2) {
    Hop h = distanceHop(m, s, dist);
    t += h.a + S * dist / q * h.b * kUnstreamedFactor;
  }
  t += (q - 1.0) / q * S * m.gammaUsPerByte;
  if (p != q) {  // fold the whole input in, send the folded rank its block back
    Hop h = flatHop(m, s, 1);
    t += h.a + S * h.b + S * m.gammaUsPerByte + h.a + S / p * h.b;
  }
  return t;
}
double doublingAllGather(const CostModel& m, const CommShape& s, double S) {
  const int p = s.ranks, q = floorPow2(p);
  double t = 0;
  for (int dist = 1; dist < q; dist *= 2) {
    Hop h = distanceHop(m, s, dist);
    t += h.a + S * dist / q * h.b * kUnstreamedFactor;
  }
  if (p != q) {  // the folded rank's block in, the whole result out
    Hop h = flatHop(m, s, 1);
    t += h.a + S / p * h.b + h.a + S * h.b;
  }
  return t;
}

// --- broadcast / reduce (S = the buffer); `reduce` adds the per-byte reduction --------------

double binomial(const CostModel& m, const CommShape& s, double S, bool reduce) {
  double t = 0;
  for (int dist = 1; dist < s.ranks; dist *= 2) {
    Hop h = distanceHop(m, s, dist);
    t += h.a + S * h.b + (reduce ? S * m.gammaUsPerByte : 0);
  }
  return t;
}
// A chain streams at the transport's fragment: n-1 hops deep, ceil(S/fragment) fragments.
double chain(const CostModel& m, const CommShape& s, double S, bool reduce) {
  if (s.ranks == 1) return 0;
  Hop h = flatHop(m, s, s.ringFlows);
  double g = reduce ? m.gammaUsPerByte : 0;
  double c = std::max(1.0, std::min(S, static_cast<double>(flatPipeline(m, s))));
  double k = std::max(1.0, ceilDiv(S, c));
  return (s.ranks - 2 + k) * (h.a + c * (h.b + g));
}
// Pipelined binary tree: depth ceil(log2 n), each rank passes a chunk to (or from) 2 children.
double treeRooted(const CostModel& m, const CommShape& s, double S, bool reduce, size_t* chunk) {
  Hop h = flatHop(m, s, 2);
  double g = reduce ? m.gammaUsPerByte : 0;
  return bestPipeline(ceilLog2(s.ranks), S, chunk,
                      [&](double c) { return h.a + 2 * c * (h.b + g); });
}

// --- the rest ---------------------------------------------------------------------------------

double pairwiseAllToAll(const CostModel& m, const CommShape& s, double block) {
  return toEveryPeer(m, s, block);
}

double disseminationBarrier(const CostModel& m, const CommShape& s) {
  return ceilLog2(s.ranks) * flatHop(m, s, 1).a;
}

// --- hierarchical -----------------------------------------------------------------------------

std::vector<std::string> formulaNames(CollectiveKind kind);

double stageBest(const CostModel& m, CollectiveKind kind, double bytes, const CommShape& s) {
  if (s.ranks == 1) return 0;
  std::vector<std::string> names = m.stageNames ? m.stageNames(kind) : formulaNames(kind);
  return bestOf(m, kind, static_cast<size_t>(bytes), s, names).us;
}

double hierarchical(const CostModel& m, CollectiveKind kind, double bytes, const CommShape& s) {
  if (s.nested || s.hosts < 2 || !s.uniform) return kInf;
  const CommShape local = localStageShape(s), cross = crossStageShape(s, kind);
  const int l = s.ranksPerHost, hosts = s.hosts;
  const double g = m.gammaUsPerByte;
  switch (kind) {
    case K::kAllReduce: {
      // In pieces: every piece crosses hosts; the host-local steps of all but the first
      // reduce-scatter and the last allgather hide behind the cross-host steps.
      const double pieces =
          static_cast<double>(patterns::hierarchicalPieces(static_cast<size_t>(bytes), l));
      const double piece = bytes / pieces;
      double t = pieces * stageBest(m, kind, std::ceil(piece / l), cross);
      if (l > 1) t += ringReduceScatter(m, local, piece) + ringAllGather(m, local, piece);
      return t;
    }
    case K::kReduceScatter:  // + packing the input
      return stageBest(m, kind, bytes * hosts, local) + stageBest(m, kind, bytes, cross) +
             bytes * s.ranks * g;
    case K::kAllGather:  // + unpacking the output
      return stageBest(m, kind, bytes, cross) + stageBest(m, kind, bytes * hosts, local) +
             bytes * s.ranks * g;
    case K::kBroadcast:
      return stageBest(m, kind, bytes, cross) + stageBest(m, kind, bytes, local);
    default:
      return kInf;
  }
}

std::vector<std::string> formulaNames(CollectiveKind kind) {
  switch (kind) {
    case K::kAllReduce:
      return {"ring", "oneshot",          "shm-oneshot",       "shm-twoshot",
              "tree", "halving-doubling", "recursive-doubling"};
    case K::kReduceScatter:
    case K::kAllGather:
      return {"ring", "halving-doubling"};
    case K::kBroadcast:
    case K::kReduce:
      return {"chain", "binomial", "tree"};
    case K::kAllToAll:
      return {"pairwise"};
    case K::kBarrier:
      return {"dissemination"};
    default:
      return {};
  }
}

}  // namespace

std::string_view toString(LinkClass c) {
  switch (c) {
    case LinkClass::kShm:
      return "shm";
    case LinkClass::kTcp:
      return "tcp";
  }
  return "?";
}

CostModel defaultCostModel() {
  CostModel m;
  // Fitted to docs/results/2026-11-22-cpu-4ranks (docs/tuner.md explains how).
  m.link(LinkClass::kShm) = {5.0, 1.0 / 3000.0, static_cast<size_t>(params().shmSlotBytes), 0.5};
  m.link(LinkClass::kTcp) = {10.0, 1.0 / 1000.0, static_cast<size_t>(params().tcpStripeBytes), 5.0};
  m.gammaUsPerByte = 1.0 / 8000.0;
  return m;
}

void applyModelOverrides(CostModel* m) {
  const Params& p = params();
  auto set = [](double v, double* field) {
    if (v > 0) *field = v;
  };
  auto setBw = [](double gbs, double* beta) {
    if (gbs > 0) *beta = 1.0 / (gbs * 1000.0);  // GB/s -> us per byte
  };
  set(p.tuneShmAlphaUs, &m->link(LinkClass::kShm).alphaUs);
  set(p.tuneShmOverheadUs, &m->link(LinkClass::kShm).overheadUs);
  set(p.tuneTcpOverheadUs, &m->link(LinkClass::kTcp).overheadUs);
  setBw(p.tuneShmGbs, &m->link(LinkClass::kShm).betaUsPerByte);
  set(p.tuneTcpAlphaUs, &m->link(LinkClass::kTcp).alphaUs);
  setBw(p.tuneTcpGbs, &m->link(LinkClass::kTcp).betaUsPerByte);
  setBw(p.tuneReduceGbs, &m->gammaUsPerByte);
}

CommShape shapeOf(const CommTopology& t, LinkClass local, LinkClass remote, size_t arenaWindow) {
  CommShape s;
  s.ranks = static_cast<int>(t.hostOf.size());
  s.hosts = t.hosts;
  s.uniform = t.uniform;
  s.local = local;
  s.remote = remote;
  s.arenaWindow = arenaWindow;
  s.ranksPerHost = 0;
  std::vector<int> flows(static_cast<size_t>(t.hosts), 0);
  for (int h = 0; h < t.hosts; ++h) {
    const auto& ranks = t.ranksOnHost[h];
    s.ranksPerHost = std::max(s.ranksPerHost, static_cast<int>(ranks.size()));
    s.hostMajor = s.hostMajor && ranks.back() - ranks.front() + 1 == static_cast<int>(ranks.size());
  }
  for (int r = 0; r < s.ranks; ++r) {
    int next = (r + 1) % s.ranks;
    if (t.hostOf[r] != t.hostOf[next]) ++flows[t.hostOf[r]];
  }
  s.ringFlows = flows.empty() ? 0 : *std::max_element(flows.begin(), flows.end());
  return s;
}

CommShape localStageShape(const CommShape& s) {
  CommShape l = s;
  l.ranks = s.ranksPerHost;
  l.hosts = 1;
  l.uniform = l.hostMajor = true;
  l.ringFlows = 0;
  l.arenaWindow = 0;  // stages run on group views, which have no arena
  l.nested = true;
  return l;
}

CommShape crossStageShape(const CommShape& s, CollectiveKind kind) {
  CommShape c = s;
  c.ranks = s.hosts;
  c.ranksPerHost = 1;
  c.uniform = c.hostMajor = true;
  c.ringFlows = s.hosts > 1 ? 1 : 0;
  if (kind != K::kBroadcast) c.linkSharing = s.linkSharing * s.ranksPerHost;
  c.arenaWindow = 0;
  c.nested = true;
  return c;
}

double predictUs(const CostModel& m, CollectiveKind kind, std::string_view a, size_t bytes,
                 const CommShape& s, size_t* chunkBytes) {
  if (chunkBytes != nullptr) *chunkBytes = 0;
  const double S = static_cast<double>(bytes);
  const double n = s.ranks;
  if (a == "hierarchical") return hierarchical(m, kind, S, s);
  if (s.ranks == 1) {
    const std::vector<std::string> known = formulaNames(kind);
    return std::find(known.begin(), known.end(), a) == known.end() ? kInf : 0;
  }
  switch (kind) {
    case K::kAllReduce:
      if (a == "ring") return ringAllReduce(m, s, S);
      if (a == "oneshot") return oneShotAllReduce(m, s, S);
      if (a == "shm-oneshot") return shmOneShot(m, s, S);
      if (a == "shm-twoshot") return shmTwoShot(m, s, S);
      if (a == "tree") return treeAllReduce(m, s, S, chunkBytes);
      if (a == "halving-doubling") return halvingDoublingAllReduce(m, s, S);
      if (a == "recursive-doubling") return recursiveDoublingAllReduce(m, s, S);
      break;
    case K::kReduceScatter:
      if (a == "ring") return ringReduceScatter(m, s, S * n);
      if (a == "halving-doubling") return halvingReduceScatter(m, s, S * n);
      break;
    case K::kAllGather:
      if (a == "ring") return ringAllGather(m, s, S * n);
      if (a == "halving-doubling") return doublingAllGather(m, s, S * n);
      break;
    case K::kBroadcast:
    case K::kReduce: {
      const bool reduce = kind == K::kReduce;
      if (a == "binomial") return binomial(m, s, S, reduce);
      if (a == "chain") return chain(m, s, S, reduce);
      if (a == "tree") return treeRooted(m, s, S, reduce, chunkBytes);
      break;
    }
    case K::kAllToAll:
      if (a == "pairwise") return pairwiseAllToAll(m, s, S);
      break;
    case K::kBarrier:
      if (a == "dissemination") return disseminationBarrier(m, s);
      break;
    default:
      break;
  }
  return kInf;
}

Prediction bestOf(const CostModel& m, CollectiveKind kind, size_t bytes, const CommShape& shape,
                  const std::vector<std::string>& names) {
  Prediction best;
  best.us = kInf;
  for (const std::string& name : names) {
    size_t chunk = 0;
    double t = predictUs(m, kind, name, bytes, shape, &chunk);
    if (t < best.us) {
      best = {name, chunk, t};
    }
  }
  return best;
}

}  // namespace braid
