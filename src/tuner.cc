// The communicator's tuner: builds the cost model (defaults, the optional BRAID_TUNE_PROBE
// measurements, BRAID_TUNE_* overrides) and the communicator's shape, runs the stages of
// composed algorithms with the algorithm the model picks for each, and logs decisions.
//
// Every rank must make the same decisions, or ranks would run different algorithms against each
// other (the fingerprint would catch it, as an error). Decisions are pure functions of the model
// and the shape; the shape comes from the host ids every rank exchanged, and the probe's numbers
// are rank 0's, published to all through the store.
#include <algorithm>
#include <array>
#include <cmath>

#include "communicator_impl.h"
#include "logging.h"
#include "params.h"
#include "store_values.h"

namespace braid {
namespace {

std::string describeLink(const CostModel& m, LinkClass c) {
  const LinkCost& l = m.link(c);
  return fmt::format("{} alpha {:.2f} us, {:.3f} GB/s, {:.2f} us per further message", toString(c),
                     l.alphaUs, l.betaUsPerByte > 0 ? 1e-3 / l.betaUsPerByte : 0.0, l.overheadUs);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int sizeClass(size_t bytes) {
  int c = 0;
  while (bytes > 1) bytes >>= 1, ++c;
  return c;
}

}  // namespace

Status Communicator::Impl::configureTuner(bool arenaSpansAll, bool tcpEverywhere) {
  const LinkClass local = tcpEverywhere ? LinkClass::kTcp : LinkClass::kShm;
  const CommShape shape =
      shapeOf(topology, local, LinkClass::kTcp, arenaSpansAll ? env_.arena->windowBytes() : 0);
  CostModel model = defaultCostModel();
  algorithms_.configure(model, shape);  // the probe's own collectives run with the defaults
  std::string source = "defaults";
  const std::string& probe = params().tuneProbe;
  if (probe != "0" && probe != "1" && probe != "auto") {
    return invalidArgument(fmt::format("BRAID_TUNE_PROBE={}: expected 0, 1 or auto", probe));
  }
  if (size_ > 1 && (probe == "1" || (probe == "auto" && topology.hosts > 1))) {
    BRAID_RETURN_IF_ERROR(probeLinks(&model));
    source = "probe";
  }
  applyModelOverrides(&model);
  algorithms_.configure(model, shape);
  BRAID_LOG(kInfo, kTune,
            "cost model ({}, BRAID_TUNE_* overrides applied): {}; {}; reduce {:.3f} GB/s; shape: "
            "{} ranks on {} host(s){}, {} per host",
            source, describeLink(model, LinkClass::kShm), describeLink(model, LinkClass::kTcp),
            model.gammaUsPerByte > 0 ? 1e-3 / model.gammaUsPerByte : 0.0, shape.ranks, shape.hosts,
            shape.uniform ? "" : " (unequal)", shape.ranksPerHost);
  return Status();
}

Status Communicator::Impl::probeLinks(CostModel* model) {
  // Rank 0 measures against one partner per link class: a rank on its host (the local class)
  // and the first rank of the next host (the network).
  const CommShape& shape = algorithms_.shape();
  struct Pair {
    LinkClass link;
    int partner;
  };
  std::vector<Pair> pairs;
  const auto& home = topology.ranksOnHost[topology.hostOf[0]];
  if (topology.hosts > 1) pairs.push_back({shape.remote, topology.ranksOnHost[1][0]});
  if (home.size() > 1 && (pairs.empty() || shape.local != shape.remote)) {
    pairs.push_back({shape.local, home[1]});
  }
  constexpr size_t kSmall = 8, kLarge = size_t{1} << 20;
  constexpr int kWarmups = 3, kSmallTrips = 20, kLargeTrips = 5;
  std::vector<uint8_t> buffer(kLarge);
  // Results: alpha, beta and the per-message overhead per link class, then gamma; 0 = not
  // measured.
  constexpr int kBurst = 8;
  std::array<double, 3 * kNumLinkClasses + 1> found{};
  auto p2p = [&](CollectiveKind kind, size_t bytes, int peer) {
    OpDesc d;
    d.kind = kind;
    d.send = buffer.data();
    d.recv = buffer.data();
    d.count = bytes;
    d.dtype = DataType::kUint8;
    d.peer = peer;
    return run(d);
  };
  // The median round trip of `burst` messages one way and one back.
  auto roundTrip = [&](int partner, size_t bytes, int burst, int trips, double* us) -> Status {
    std::vector<double> rtt;
    for (int i = 0; i < kWarmups + trips; ++i) {
      auto t0 = Clock::now();
      for (int k = 0; k < burst; ++k) {
        BRAID_RETURN_IF_ERROR(p2p(rank_ == 0 ? CollectiveKind::kSend : CollectiveKind::kRecv, bytes,
                                  rank_ == 0 ? partner : 0));
      }
      BRAID_RETURN_IF_ERROR(p2p(rank_ == 0 ? CollectiveKind::kRecv : CollectiveKind::kSend, bytes,
                                rank_ == 0 ? partner : 0));
      if (i >= kWarmups) {
        rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    }
    *us = median(rtt);
    return Status();
  };
  for (const Pair& p : pairs) {
    if (rank_ != 0 && rank_ != p.partner) continue;
    // One-way times are half a round trip; each further message of a burst adds its overhead.
    double small = 0, large = 0, burst = 0;
    BRAID_RETURN_IF_ERROR(roundTrip(p.partner, kSmall, 1, kSmallTrips, &small));
    BRAID_RETURN_IF_ERROR(roundTrip(p.partner, kSmall, kBurst, kSmallTrips, &burst));
    BRAID_RETURN_IF_ERROR(roundTrip(p.partner, kLarge, 1, kLargeTrips, &large));
    const int c = static_cast<int>(p.link);
    found[3 * c] = small / 2;
    found[3 * c + 1] = std::max(large - small, 2e-3) / 2 / static_cast<double>(kLarge);
    found[3 * c + 2] = std::max(burst - small, 1e-3) / (kBurst - 1);
  }
  if (rank_ == 0) {
    // Reduction speed: fp32 sum of one buffer into another, best of a few.
    std::vector<float> a(kLarge / 4, 1.0f), b(kLarge / 4, 2.0f);
    ReduceFn sum = reduceFunction(DataType::kFloat32, ReduceOp::kSum);
    double best = 0;
    for (int i = 0; i < 5; ++i) {
      auto t0 = Clock::now();
      sum(a.data(), a.data(), b.data(), a.size());
      double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      best = i == 0 ? us : std::min(best, us);
    }
    found.back() = best / static_cast<double>(kLarge);
  }
  // Everyone adopts rank 0's numbers, through the store rather than a collective: rank 0
  // publishes them after its last ping-pong, so no rank leaves creation while another still
  // probes, and a rank that fails its first collective cannot abort a peer's creation.
  const std::string key = "tune/probe";
  if (rank_ == 0) {
    BRAID_RETURN_IF_ERROR(setValue(*store_, key, found));
  } else {
    auto got = getValue<decltype(found)>(*store_, key, env_.timeout, "tuner probe results");
    if (!got.isOk()) return got.status();
    found = *got;
  }
  for (int c = 0; c < kNumLinkClasses; ++c) {
    if (found[3 * c] > 0) model->links[c].alphaUs = found[3 * c];
    if (found[3 * c + 1] > 0) model->links[c].betaUsPerByte = found[3 * c + 1];
    if (found[3 * c + 2] > 0) model->links[c].overheadUs = found[3 * c + 2];
  }
  if (found.back() > 0) model->gammaUsPerByte = found.back();
  return Status();
}

Status Communicator::Impl::runStage(OpContext& group, Group which, const OpDesc& d) {
  const size_t bytes = d.count * dataTypeSize(d.dtype);
  if (group.size() == 1) {
    // As on a one-rank communicator, the result is the input.
    if (bytes > 0 && d.send != d.recv) std::memmove(d.recv, d.send, bytes);
    return Status();
  }
  const CommShape& s = algorithms_.shape();
  const Decision c = algorithms_.chooseStage(
      d.kind, bytes, which == Group::kLocal ? localStageShape(s) : crossStageShape(s, d.kind));
  BRAID_LOG(kTrace, kTune, "{} stage on {} ranks ({}): {} for {} B, predicted {:.1f} us",
            toString(d.kind), group.size(), which == Group::kLocal ? "host" : "across hosts",
            c.algorithm->name, bytes, c.predictedUs);
  group.setChunkBytes(c.chunkBytes);
  return c.algorithm->run(group, d);
}

void Communicator::Impl::logDecision(const OpDesc& d, size_t bytes, const Decision& decision) {
  if (!logEnabled(LogLevel::kInfo, Subsys::kTune)) return;
  auto key = std::make_pair(static_cast<int>(d.kind), sizeClass(bytes));
  auto it = logged_.find(key);
  if (it != logged_.end() && it->second == decision.algorithm) return;
  logged_[key] = decision.algorithm;
  std::string chunk =
      decision.chunkBytes > 0 ? fmt::format(", chunk {} B", decision.chunkBytes) : "";
  BRAID_LOG(kInfo, kTune, "{} of {} B on {} ranks: {}{}{}, predicted {:.1f} us", toString(d.kind),
            bytes, size_, decision.algorithm->name, decision.forced ? " (forced)" : "", chunk,
            decision.predictedUs);
}

}  // namespace braid
