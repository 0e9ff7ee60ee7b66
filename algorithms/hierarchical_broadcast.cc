// Hierarchical broadcast: the root sends to its counterparts (same local rank) on the other
// hosts, then each of them broadcasts on its host. The message crosses each host's network link
// once, and the slow inter-host hops number H-1 (chain) or log2 H (binomial), not n-1 or log2 n.
#include "algorithms.h"
#include "patterns/hierarchy.h"

namespace braid::algorithms {

Status hierarchicalBroadcast(OpContext& ctx, const OpDesc& d) {
  const CommTopology& t = ctx.topology();
  const int me = ctx.rank();
  // The collective layer has already put the root's data in its recv buffer.
  OpDesc stage = d;
  stage.send = d.recv;
  if (t.localRankOf[me] == t.localRankOf[d.root]) {
    OpContext cross(ctx, patterns::crossGroup(t, me));
    stage.root = t.hostOf[d.root];
    BRAID_RETURN_IF_ERROR(ctx.runStage(cross, Group::kCross, stage));
  }
  OpContext local(ctx, patterns::localGroup(t, me));
  stage.root = t.localRankOf[d.root];
  return ctx.runStage(local, Group::kLocal, stage);
}

}  // namespace braid::algorithms
