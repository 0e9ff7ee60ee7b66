// Recursive-doubling allgather (the second half of Rabenseifner's allReduce): in log2 p steps
// each participant swaps everything it holds with a partner at distance 1, 2, 4, ..., so the
// gathered range doubles each step. Worlds that are not powers of two fold their extra ranks
// into partners first and send them the whole result at the end.
#include <cstring>

#include "algorithms.h"
#include "patterns/halving_doubling.h"

namespace braid::algorithms {

Status recursiveDoubling(OpContext& ctx, uint8_t* buffer, const SegmentBegin& segmentBegin) {
  const int n = ctx.size();
  const int v = patterns::hdVirtualRank(ctx.rank(), n);
  const size_t es = ctx.elemSize();
  for (int step = 0; step < patterns::hdSteps(n); ++step) {
    const int peer = patterns::hdRealRank(patterns::hdDoublingPartner(v, step), n);
    const patterns::SegmentRange give = patterns::hdDoublingSend(v, step);
    const patterns::SegmentRange get = patterns::hdDoublingRecv(v, step);
    const size_t giveBegin = segmentBegin(give.begin), getBegin = segmentBegin(get.begin);
    ctx.send(peer, buffer + giveBegin * es, (segmentBegin(give.end) - giveBegin) * es);
    // The next step sends what this one receives.
    BRAID_RETURN_IF_ERROR(ctx.waitFor(
        ctx.recv(peer, buffer + getBegin * es, (segmentBegin(get.end) - getBegin) * es)));
  }
  return ctx.wait();
}

Status halvingDoublingAllGather(OpContext& ctx, const uint8_t* send, uint8_t* recv,
                                size_t sendCount) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.elemSize(), blockBytes = sendCount * es;
  const size_t totalBytes = blockBytes * static_cast<size_t>(n);
  const int partner = patterns::hdFoldPartner(r, n);
  uint8_t* mine = recv + blockBytes * static_cast<size_t>(r);
  if (send != mine && blockBytes > 0) std::memcpy(mine, send, blockBytes);
  if (patterns::hdVirtualRank(r, n) < 0) {
    // Sit out: hand our block to the partner, receive the whole result from it.
    ctx.send(partner, mine, blockBytes);
    ctx.recv(partner, recv, totalBytes);
    return ctx.wait();
  }
  if (partner >= 0) {
    BRAID_RETURN_IF_ERROR(ctx.waitFor(
        ctx.recv(partner, recv + blockBytes * static_cast<size_t>(partner), blockBytes)));
  }
  // Participant v's segment is the blocks of the ranks it stands for.
  BRAID_RETURN_IF_ERROR(recursiveDoubling(ctx, recv, [&](int v) {
    return sendCount * static_cast<size_t>(patterns::hdFirstRankOf(v, n));
  }));
  if (partner >= 0) ctx.send(partner, recv, totalBytes);
  return ctx.wait();
}

}  // namespace braid::algorithms
