// The algorithm registry and the default choice between algorithms.
#include "algorithm_choice.h"

#include <fmt/format.h>

#include "algorithms.h"
#include "communicator_impl.h"
#include "params.h"

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
    {K::kReduceScatter, "ring",
     [](OpContext& c, const OpDesc& d) { return ringReduceScatter(c, in(d), out(d), d.count); }},
    {K::kReduceScatter, "halving-doubling",
     [](OpContext& c, const OpDesc& d) {
       return halvingDoublingReduceScatter(c, in(d), out(d), d.count);
     }},
    {K::kAllGather, "ring",
     [](OpContext& c, const OpDesc& d) { return ringAllGather(c, in(d), out(d), d.count); }},
    {K::kAllGather, "halving-doubling",
     [](OpContext& c, const OpDesc& d) {
       return halvingDoublingAllGather(c, in(d), out(d), d.count);
     }},
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

}  // namespace

const std::vector<AlgorithmInfo>& algorithmRegistry() { return kRegistry; }

std::vector<std::string> algorithmNames(CollectiveKind kind, bool hasArena) {
  std::vector<std::string> names;
  for (const auto& a : kRegistry) {
    if (a.kind == kind && (hasArena || !a.needsArena)) names.push_back(a.name);
  }
  return names;
}

const AlgorithmInfo* findAlgorithm(CollectiveKind kind, const std::string& name) {
  for (const auto& a : kRegistry) {
    if (a.kind == kind && name == a.name) return &a;
  }
  return nullptr;
}

Status AlgorithmChoice::force(CollectiveKind kind, const std::string& name) {
  int k = static_cast<int>(kind);
  if (k < 0 || k >= static_cast<int>(forced_.size())) return invalidArgument("bad collective kind");
  if (name.empty() || name == "auto") {
    forced_[k] = nullptr;
    return Status();
  }
  const AlgorithmInfo* a = findAlgorithm(kind, name);
  if (a == nullptr) {
    std::string known;
    for (auto& n : algorithmNames(kind)) known += (known.empty() ? "" : ", ") + n;
    return invalidArgument(fmt::format("{} has no algorithm '{}' (known: {}, auto)", toString(kind),
                                       name, known.empty() ? "none" : known));
  }
  forced_[k] = a;
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
          BRAID_RETURN_IF_ERROR(force(static_cast<K>(k), item));
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
    if (!s.isOk()) return invalidArgument("BRAID_ALGO: " + s.message());
  }
  return Status();
}

const AlgorithmInfo& AlgorithmChoice::choose(CollectiveKind kind, size_t bytes,
                                             size_t arenaWindow) const {
  const bool arena = arenaWindow > 0;
  const AlgorithmInfo* f = forced_[static_cast<int>(kind)];
  // A forced algorithm that needs an arena falls back to the default where there is none
  // (e.g. BRAID_ALGO=allreduce:shm-twoshot on a communicator that spans hosts).
  const bool tooBig = f != nullptr && std::string(f->name) == "shm-oneshot" && bytes > arenaWindow;
  if (f != nullptr && (arena || !f->needsArena) && !tooBig) return *f;
  const char* name = "ring";
  const bool small = bytes < static_cast<size_t>(params().smallBytes);
  const bool oneShot = bytes <= static_cast<size_t>(params().oneShotBytes);
  switch (kind) {
    case K::kAllReduce:
      if (arena) {
        name = oneShot && bytes <= arenaWindow ? "shm-oneshot" : "shm-twoshot";
      } else {
        name = oneShot ? "oneshot" : "ring";
      }
      break;
    case K::kBroadcast:
    case K::kReduce:
      name = small ? "binomial" : "chain";
      break;
    case K::kAllToAll:
      name = "pairwise";
      break;
    case K::kBarrier:
      name = "dissemination";
      break;
    default:
      break;
  }
  return *findAlgorithm(kind, name);
}

}  // namespace braid
