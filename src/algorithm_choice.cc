// The algorithm registry, overrides, and the tuner's choice between algorithms.
#include "algorithm_choice.h"

#include <fmt/format.h>

#include "algorithms.h"
#include "communicator_impl.h"

namespace braid {
namespace {

using namespace algorithms;
using K = CollectiveKind;

const uint8_t* in(const OpDesc& d) { return static_cast<const uint8_t*>(d.send); }
uint8_t* out(const OpDesc& d) { return static_cast<uint8_t*>(d.recv); }

const std::vector<AlgorithmInfo> kRegistry = {
    {K::kAllReduce, "ring",
     [](OpContext& c, const OpDesc& d) { return ringAllReduce(c, in(d), out(d), d.count); }},
    {K::kAllReduce, "oneshot",
     [](OpContext& c, const OpDesc& d) { return oneShotAllReduce(c, in(d), out(d), d.count); }},
    {K::kAllReduce, "shm-oneshot",
     [](OpContext& c, const OpDesc& d) { return shmOneShotAllReduce(c, in(d), out(d), d.count); },
     true},
    {K::kAllReduce, "shm-twoshot",
     [](OpContext& c, const OpDesc& d) { return shmTwoShotAllReduce(c, in(d), out(d), d.count); },
     true},
    {K::kAllReduce, "tree",
     [](OpContext& c, const OpDesc& d) { return treeAllReduce(c, in(d), out(d), d.count); }},
    {K::kAllReduce, "halving-doubling",
     [](OpContext& c, const OpDesc& d) {
       return halvingDoublingAllReduce(c, in(d), out(d), d.count);
     }},
    {K::kAllReduce, "recursive-doubling",
     [](OpContext& c, const OpDesc& d) {
       return recursiveDoublingAllReduce(c, in(d), out(d), d.count);
     }},
    {K::kAllReduce, "hierarchical", hierarchicalAllReduce, false, true},
    {K::kReduceScatter, "ring",
     [](OpContext& c, const OpDesc& d) { return ringReduceScatter(c, in(d), out(d), d.count); }},
    {K::kReduceScatter, "halving-doubling",
     [](OpContext& c, const OpDesc& d) {
       return halvingDoublingReduceScatter(c, in(d), out(d), d.count);
     }},
    {K::kReduceScatter, "hierarchical", hierarchicalReduceScatter, false, true},
    {K::kAllGather, "ring",
     [](OpContext& c, const OpDesc& d) { return ringAllGather(c, in(d), out(d), d.count); }},
    {K::kAllGather, "halving-doubling",
     [](OpContext& c, const OpDesc& d) {
       return halvingDoublingAllGather(c, in(d), out(d), d.count);
     }},
    {K::kAllGather, "hierarchical", hierarchicalAllGather, false, true},
    {K::kBroadcast, "chain",
     [](OpContext& c, const OpDesc& d) {
       return chainBroadcast(c, in(d), out(d), d.count, d.root);
     }},
    {K::kBroadcast, "binomial",
     [](OpContext& c, const OpDesc& d) {
       return binomialBroadcast(c, in(d), out(d), d.count, d.root);
     }},
    {K::kBroadcast, "tree",
     [](OpContext& c, const OpDesc& d) {
       return treeBroadcast(c, in(d), out(d), d.count, d.root);
     }},
    {K::kBroadcast, "hierarchical", hierarchicalBroadcast, false, true},
    {K::kReduce, "chain",
     [](OpContext& c, const OpDesc& d) { return chainReduce(c, in(d), out(d), d.count, d.root); }},
    {K::kReduce, "binomial",
     [](OpContext& c, const OpDesc& d) {
       return binomialReduce(c, in(d), out(d), d.count, d.root);
     }},
    {K::kReduce, "tree",
     [](OpContext& c, const OpDesc& d) { return treeReduce(c, in(d), out(d), d.count, d.root); }},
    {K::kAllToAll, "pairwise",
     [](OpContext& c, const OpDesc& d) { return pairwiseAllToAll(c, in(d), out(d), d.count); }},
    {K::kBarrier, "dissemination",
     [](OpContext& c, const OpDesc&) { return disseminationBarrier(c); }},
};

std::optional<K> parseKind(const std::string& s) {
  for (int k = 0; k <= static_cast<int>(K::kBarrier); ++k) {
    std::string name(toString(static_cast<K>(k)));
    std::string lower;
    for (char ch : name) lower += static_cast<char>(tolower(ch));
    if (lower == s) return static_cast<K>(k);
  }
  return std::nullopt;
}

bool runsOn(const AlgorithmInfo& a, const CommShape& s) {
  if (a.needsArena && s.arenaWindow == 0) return false;
  if (a.needsHosts && (s.nested || s.hosts < 2 || !s.uniform)) return false;
  return true;
}

// What a stage of a composed algorithm may run: no arena (group views have none), not composed.
std::vector<std::string> stageNames(CollectiveKind kind) {
  std::vector<std::string> names;
  for (const auto& a : kRegistry) {
    if (a.kind == kind && !a.needsArena && !a.needsHosts) names.push_back(a.name);
  }
  return names;
}

}  // namespace

const std::vector<AlgorithmInfo>& algorithmRegistry() { return kRegistry; }

std::vector<std::string> algorithmNames(CollectiveKind kind) {
  std::vector<std::string> names;
  for (const auto& a : kRegistry) {
    if (a.kind == kind) names.push_back(a.name);
  }
  return names;
}

std::vector<std::string> algorithmNames(CollectiveKind kind, const CommShape& shape) {
  std::vector<std::string> names;
  for (const auto& a : kRegistry) {
    if (a.kind == kind && runsOn(a, shape)) names.push_back(a.name);
  }
  return names;
}

const AlgorithmInfo* findAlgorithm(CollectiveKind kind, const std::string& name) {
  for (const auto& a : kRegistry) {
    if (a.kind == kind && name == a.name) return &a;
  }
  return nullptr;
}

size_t DecisionCache::slot(CollectiveKind kind, size_t bytes) {
  const size_t key = bytes ^ (static_cast<size_t>(kind) << 56);
  return (key * 0x9E3779B97F4A7C15ull) >> 58;  // Fibonacci hashing: the top 6 bits, 64 slots
}

bool DecisionCache::find(CollectiveKind kind, size_t bytes, Decision* d) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry& e = entries_[slot(kind, bytes)];
  if (e.kind != static_cast<int>(kind) || e.bytes != bytes) return false;
  *d = e.decision;
  return true;
}

void DecisionCache::store(CollectiveKind kind, size_t bytes, const Decision& d) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[slot(kind, bytes)] = Entry{static_cast<int>(kind), bytes, d};
}

void DecisionCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.fill(Entry{});
}

void AlgorithmChoice::configure(const CostModel& model, const CommShape& shape) {
  decided_.clear();
  model_ = model;
  model_.stageNames = stageNames;
  shape_ = shape;
}

Status AlgorithmChoice::force(CollectiveKind kind, const std::string& name) {
  int k = static_cast<int>(kind);
  if (k < 0 || k >= static_cast<int>(forced_.size())) return invalidArgument("bad collective kind");
  if (name.empty() || name == "auto") {
    forced_[k] = nullptr;
    decided_.clear();
    return Status();
  }
  const AlgorithmInfo* a = findAlgorithm(kind, name);
  if (a == nullptr) {
    std::string known;
    for (auto& n : algorithmNames(kind)) known += (known.empty() ? "" : ", ") + n;
    return invalidArgument(fmt::format("{} has no algorithm '{}' (known: {}, auto)", toString(kind),
                                       name, known.empty() ? "none" : known));
  }
  if (a->needsHosts && !runsOn(*a, shape_)) {
    return unsupported(fmt::format(
        "{}: {} needs ranks on more than one host with the same number of ranks on each; this "
        "communicator has {} ranks on {} host(s){}",
        toString(kind), name, shape_.ranks, shape_.hosts,
        shape_.hosts > 1 && !shape_.uniform ? " with different numbers of ranks" : ""));
  }
  forced_[k] = a;
  decided_.clear();
  return Status();
}

Status AlgorithmChoice::parse(const std::string& spec) {
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() : comma + 1;
    if (item.empty()) continue;
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      bool any = false;
      for (int k = 0; k <= static_cast<int>(K::kBarrier); ++k) {
        if (findAlgorithm(static_cast<K>(k), item) != nullptr || item == "auto") {
          Status s = force(static_cast<K>(k), item);
          if (!s.isOk()) return Status(s.code(), "BRAID_ALGO: " + s.message());
          any = true;
        }
      }
      if (!any)
        return invalidArgument(
            fmt::format("BRAID_ALGO: no collective has an algorithm '{}'", item));
      continue;
    }
    auto kind = parseKind(item.substr(0, colon));
    if (!kind)
      return invalidArgument(
          fmt::format("BRAID_ALGO: unknown collective '{}'", item.substr(0, colon)));
    Status s = force(*kind, item.substr(colon + 1));
    if (!s.isOk()) return Status(s.code(), "BRAID_ALGO: " + s.message());
  }
  return Status();
}

namespace {

Decision decisionFor(const CostModel& m, const AlgorithmInfo& a, size_t bytes,
                     const CommShape& shape) {
  Decision d;
  d.algorithm = &a;
  d.predictedUs = predictUs(m, a.kind, a.name, bytes, shape, &d.chunkBytes);
  return d;
}

// The candidate with the smallest predicted time; registry order breaks ties. Where the model
// knows none of them, the first candidate.
Decision fastest(const CostModel& m, CollectiveKind kind, size_t bytes, const CommShape& shape,
                 bool stage) {
  Decision best;
  for (const auto& a : kRegistry) {
    if (a.kind != kind || !runsOn(a, shape) || (stage && (a.needsArena || a.needsHosts))) continue;
    Decision d = decisionFor(m, a, bytes, shape);
    if (best.algorithm == nullptr || d.predictedUs < best.predictedUs) best = d;
  }
  return best;
}

}  // namespace

Decision AlgorithmChoice::choose(CollectiveKind kind, size_t bytes) const {
  Decision cached;
  if (decided_.find(kind, bytes, &cached)) return cached;
  Decision d = decide(kind, bytes);
  decided_.store(kind, bytes, d);
  return d;
}

Decision AlgorithmChoice::decide(CollectiveKind kind, size_t bytes) const {
  const AlgorithmInfo* f = forced_[static_cast<int>(kind)];
  // A forced algorithm that needs an arena falls back to the tuner where there is none
  // (e.g. BRAID_ALGO=allreduce:shm-twoshot on a communicator that spans hosts), as does
  // shm-oneshot for a call larger than the arena's window.
  const bool tooBig =
      f != nullptr && std::string(f->name) == "shm-oneshot" && bytes > shape_.arenaWindow;
  if (f != nullptr && runsOn(*f, shape_) && !tooBig) {
    Decision d = decisionFor(model_, *f, bytes, shape_);
    d.forced = true;
    return d;
  }
  return fastest(model_, kind, bytes, shape_, false);
}

Decision AlgorithmChoice::chooseStage(CollectiveKind kind, size_t bytes,
                                      const CommShape& stage) const {
  return fastest(model_, kind, bytes, stage, true);
}

}  // namespace braid
