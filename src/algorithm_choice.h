// Which algorithm runs a collective: the registry of algorithms per collective kind, overrides
// (BRAID_ALGO, Communicator::setAlgorithm), and the tuner, which picks the algorithm (and its
// pipeline chunk) with the smallest predicted time under the cost model (cost_model.h) for the
// communicator's shape. Every rank holds the same model and shape, so every rank decides alike.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/types.h"
#include "cost_model.h"
#include "op_context.h"

namespace braid {

using AlgorithmFn = Status (*)(OpContext& ctx, const OpDesc& d);

struct AlgorithmInfo {
  CollectiveKind kind;
  const char* name;
  AlgorithmFn run;
  bool needsArena = false;  // runs only where a shared-memory arena spans every rank
  bool needsHosts = false;  // composed: needs >1 host with the same number of ranks on each
};

// Every algorithm braid has, for every collective kind.
const std::vector<AlgorithmInfo>& algorithmRegistry();
// Names of kind's algorithms: all of them, or those that can run on a communicator of `shape`.
std::vector<std::string> algorithmNames(CollectiveKind kind);
std::vector<std::string> algorithmNames(CollectiveKind kind, const CommShape& shape);
const AlgorithmInfo* findAlgorithm(CollectiveKind kind, const std::string& name);

// What the tuner decided for one call.
struct Decision {
  const AlgorithmInfo* algorithm = nullptr;
  size_t chunkBytes = 0;   // pipeline chunk for algorithms that have one (0 = their default)
  double predictedUs = 0;  // the model's time (infinity where it has no formula)
  bool forced = false;     // BRAID_ALGO / setAlgorithm, not the model
};

// The latest decisions by (kind, bytes), so that a call of a size seen before skips the model
// (evaluating every algorithm's formula cost about as much as a small shared-memory allReduce).
// Direct-mapped; a copy starts empty.
class DecisionCache {
 public:
  DecisionCache() = default;
  DecisionCache(const DecisionCache&) {}
  DecisionCache& operator=(const DecisionCache&) {
    clear();
    return *this;
  }
  bool find(CollectiveKind kind, size_t bytes, Decision* d) const;
  void store(CollectiveKind kind, size_t bytes, const Decision& d);
  void clear();

 private:
  struct Entry {
    int kind = -1;
    size_t bytes = 0;
    Decision decision;
  };
  static size_t slot(CollectiveKind kind, size_t bytes);
  mutable std::mutex mu_;
  std::array<Entry, 64> entries_{};
};

class AlgorithmChoice {
 public:
  // The model and the communicator's shape; call before parse() and force().
  void configure(const CostModel& model, const CommShape& shape);
  const CostModel& model() const { return model_; }
  const CommShape& shape() const { return shape_; }

  // Parses BRAID_ALGO: "name" (for every collective that has it) or "kind:name,kind:name"
  // with kind one of allreduce, reducescatter, allgather, broadcast, reduce, alltoall, barrier.
  Status parse(const std::string& spec);
  // "" or "auto" = the tuner. Forcing an algorithm this communicator cannot run at all
  // (hierarchical on one host or unequal hosts) is an error; one that needs a shared-memory
  // arena falls back to the tuner's choice where there is none.
  Status force(CollectiveKind kind, const std::string& name);
  // The algorithm for a call of `bytes` bytes (the per-rank buffer as the user passed it).
  Decision choose(CollectiveKind kind, size_t bytes) const;
  // The algorithm for one stage of a composed algorithm, on a group of shape `stage`.
  Decision chooseStage(CollectiveKind kind, size_t bytes, const CommShape& stage) const;

 private:
  Decision decide(CollectiveKind kind, size_t bytes) const;

  CostModel model_;
  CommShape shape_;
  std::array<const AlgorithmInfo*, 9> forced_{};
  mutable DecisionCache decided_;
};

}  // namespace braid
