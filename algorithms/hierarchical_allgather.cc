// Hierarchical allGather: gather the blocks of this rank's counterparts on the other hosts
// (1/L of the data crosses the network per rank, every rank of a host at once), gather those
// H-block pieces among the host's ranks, and unpack the (local rank, host) order into rank order.
#include <cstring>

#include "algorithms.h"
#include "patterns/hierarchy.h"

namespace braid::algorithms {

Status hierarchicalAllGather(OpContext& ctx, const OpDesc& d) {
  const CommTopology& t = ctx.topology();
  const int n = ctx.size(), hosts = t.hosts;
  const size_t bytes = d.count * ctx.elemSize();
  if (bytes == 0) return Status();
  // Scratch: the counterparts' blocks (H), then every block in packed order (n).
  uint8_t* counterparts = ctx.scratch(bytes * static_cast<size_t>(hosts + n));
  uint8_t* packed = counterparts + bytes * static_cast<size_t>(hosts);
  OpContext cross(ctx, patterns::crossGroup(t, ctx.rank()));
  OpDesc stage = d;
  stage.recv = counterparts;
  BRAID_RETURN_IF_ERROR(ctx.runStage(cross, Group::kCross, stage));

  OpContext local(ctx, patterns::localGroup(t, ctx.rank()));
  stage.send = counterparts;
  stage.recv = packed;
  stage.count = d.count * static_cast<size_t>(hosts);
  BRAID_RETURN_IF_ERROR(ctx.runStage(local, Group::kLocal, stage));

  auto* recv = static_cast<uint8_t*>(d.recv);
  for (int g = 0; g < n; ++g) {
    std::memcpy(recv + bytes * static_cast<size_t>(g),
                packed + bytes * static_cast<size_t>(patterns::packedBlock(t, g)), bytes);
  }
  return Status();
}

}  // namespace braid::algorithms
