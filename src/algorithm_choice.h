// Which algorithm runs a collective: the registry of algorithms per collective kind, the
// default size thresholds, and overrides (BRAID_ALGO, Communicator::setAlgorithm). The tuner
// (a later issue) replaces the thresholds with a cost model; callers only see this interface.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/types.h"
#include "op_context.h"

namespace braid {

struct OpDesc;

using AlgorithmFn = Status (*)(OpContext& ctx, const OpDesc& d);

struct AlgorithmInfo {
  CollectiveKind kind;
  const char* name;
  AlgorithmFn run;
  bool needsArena = false;  // runs only where a shared-memory arena spans every rank
};

// Every algorithm braid has, for every collective kind.
const std::vector<AlgorithmInfo>& algorithmRegistry();
// Names of kind's algorithms; with hasArena false, those that need no arena.
std::vector<std::string> algorithmNames(CollectiveKind kind, bool hasArena = true);
const AlgorithmInfo* findAlgorithm(CollectiveKind kind, const std::string& name);

class AlgorithmChoice {
 public:
  // Parses BRAID_ALGO: "name" (for every collective that has it) or "kind:name,kind:name"
  // with kind one of allreduce, reducescatter, allgather, broadcast, reduce, alltoall, barrier.
  Status parse(const std::string& spec);
  Status force(CollectiveKind kind, const std::string& name);  // "" or "auto" = default
  // The algorithm to run for a call of `bytes` bytes (per rank buffer, as the user passed),
  // given whether a shared-memory arena spans the communicator and its window size.
  const AlgorithmInfo& choose(CollectiveKind kind, size_t bytes, size_t arenaWindow) const;

 private:
  std::array<const AlgorithmInfo*, 9> forced_{};
};

}  // namespace braid
