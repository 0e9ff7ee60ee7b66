// The tuner's cost model: how long an algorithm takes for a collective of a given size on a
// given group, from an α–β(–γ) description of each link class. Pure functions of their inputs,
// so every rank that holds the same model and shape predicts the same times and picks the same
// algorithm. Formulas and defaults are documented in docs/tuner.md.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "braid/types.h"
#include "topology.h"

namespace braid {

// A kind of link between two ranks. New fabrics (nvlink, ucx) add an entry here, a column of
// defaults in defaultCostModel(), and a probe pair; the formulas take any class.
enum class LinkClass : int { kShm = 0, kTcp = 1 };
constexpr int kNumLinkClasses = 2;
std::string_view toString(LinkClass c);

struct LinkCost {
  double alphaUs = 0;        // latency of one message / one synchronisation step
  double betaUsPerByte = 0;  // time per byte through the link (1 / bandwidth)
  size_t pipelineBytes = 0;  // the transport's streaming unit (a chain forwards in these)
  // LogP's o: CPU time of each further message a rank sends (and its receiver takes) in one
  // step; a step with k messages costs alpha + (k - 1) * overhead. Matters where ranks share
  // cores and the link itself is fast (loopback, veth), so that messages cost mostly CPU.
  double overheadUs = 0;
};

// The algorithms a composed algorithm's stage may run for kind, in tie-break order.
using StageNames = std::vector<std::string> (*)(CollectiveKind kind);

struct CostModel {
  std::array<LinkCost, kNumLinkClasses> links;
  double gammaUsPerByte = 0;  // one local pass over memory: reducing (or copying) a byte
  // The stages of hierarchical algorithms choose among these (the registry's, set by the
  // tuner); nullptr = every algorithm the model has a formula for.
  StageNames stageNames = nullptr;
  const LinkCost& link(LinkClass c) const { return links[static_cast<int>(c)]; }
  LinkCost& link(LinkClass c) { return links[static_cast<int>(c)]; }
};

// The built-in defaults (docs/tuner.md says where they come from), then BRAID_TUNE_* overrides.
CostModel defaultCostModel();
void applyModelOverrides(CostModel* model);

// What the model knows about the group an algorithm runs on.
struct CommShape {
  int ranks = 1;
  int hosts = 1;
  int ranksPerHost = 1;                // the most ranks on one host
  bool uniform = true;                 // every host has ranksPerHost ranks
  bool hostMajor = true;               // each host's ranks are consecutive
  LinkClass local = LinkClass::kShm;   // between ranks of one host
  LinkClass remote = LinkClass::kTcp;  // between hosts
  int ringFlows = 0;                   // ring edges leaving the busiest host (0 on one host)
  int linkSharing = 1;     // groups that use each host's network link at once (cross stages)
  size_t arenaWindow = 0;  // window of a shared-memory arena spanning the group; 0 = none
  bool nested = false;     // a stage of a composed algorithm (no composed algorithm inside)
};

// The shape of a whole communicator, and of the groups the hierarchical algorithms use.
CommShape shapeOf(const CommTopology& t, LinkClass local, LinkClass remote, size_t arenaWindow);
CommShape localStageShape(const CommShape& s);  // one host's ranks
// One rank per host. For broadcast only the root's counterparts use the network; for the other
// collectives the L cross groups of a host do at once, sharing its link.
CommShape crossStageShape(const CommShape& s, CollectiveKind kind);

// The best of `names` for a call (first of equal times, so the order breaks ties).
struct Prediction {
  std::string algorithm;  // empty when no name has a finite prediction
  size_t chunkBytes = 0;
  double us = 0;
};
Prediction bestOf(const CostModel& m, CollectiveKind kind, size_t bytes, const CommShape& shape,
                  const std::vector<std::string>& names);

// The predicted time in microseconds of `algorithm` for `kind` on `shape`, where `bytes` is the
// per-rank buffer as the user passes it (reduceScatter: the output block; allGather: the input
// block; allToAll: the block per peer). Sets *chunkBytes to the best pipeline chunk for
// algorithms that have one (0 otherwise). Infinity when the model has no formula for the name
// or the algorithm cannot run on the shape.
double predictUs(const CostModel& m, CollectiveKind kind, std::string_view algorithm, size_t bytes,
                 const CommShape& shape, size_t* chunkBytes = nullptr);

}  // namespace braid
