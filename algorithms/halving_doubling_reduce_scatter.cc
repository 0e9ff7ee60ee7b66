// Recursive-halving reduce-scatter (the first half of Rabenseifner's allReduce): in log2 p
// steps each participant exchanges half of what it still holds with a partner at distance
// p/2, p/4, ..., so latency is log2 p messages and every rank sends (p-1)/p of the data, like a
// ring. Worlds that are not powers of two fold their extra ranks into partners first.
#include <cstring>

#include "algorithms.h"
#include "patterns/halving_doubling.h"

namespace braid::algorithms {

Status recursiveHalving(OpContext& ctx, const uint8_t* input, uint8_t* acc,
                        const SegmentBegin& segmentBegin) {
  const int n = ctx.size(), p = patterns::hdPow2(n);
  const int v = patterns::hdVirtualRank(ctx.rank(), n);
  const size_t es = ctx.elemSize();
  const uint8_t* current = input;
  for (int step = 0; step < patterns::hdSteps(n); ++step) {
    const int peer = patterns::hdRealRank(patterns::hdHalvingPartner(v, p, step), n);
    const patterns::SegmentRange give = patterns::hdHalvingSend(v, p, step);
    const patterns::SegmentRange keep = patterns::hdHalvingKeep(v, p, step);
    const size_t giveBegin = segmentBegin(give.begin), keepBegin = segmentBegin(keep.begin);
    ctx.send(peer, current + giveBegin * es, (segmentBegin(give.end) - giveBegin) * es);
    const Request* in = ctx.recvReduce(peer, acc + keepBegin * es, current + keepBegin * es,
                                       (segmentBegin(keep.end) - keepBegin) * es);
    // The next step sends part of what this one reduces.
    BRAID_RETURN_IF_ERROR(ctx.waitFor(in));
    current = acc;
  }
  return ctx.wait();
}

Status halvingDoublingReduceScatter(OpContext& ctx, const uint8_t* send, uint8_t* recv,
                                    size_t recvCount) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.elemSize(), blockBytes = recvCount * es;
  const size_t totalBytes = blockBytes * static_cast<size_t>(n);
  const int partner = patterns::hdFoldPartner(r, n);
  if (patterns::hdVirtualRank(r, n) < 0) {
    // Sit out: the partner reduces our input with its own and returns our block.
    ctx.send(partner, send, totalBytes);
    ctx.recv(partner, recv, blockBytes);
    return ctx.wait();
  }
  // Participant v's segment is the blocks of the ranks it stands for.
  auto segmentBegin = [&](int v) {
    return recvCount * static_cast<size_t>(patterns::hdFirstRankOf(v, n));
  };
  uint8_t* acc = ctx.scratch(totalBytes);
  const uint8_t* input = send;
  if (partner >= 0) {
    BRAID_RETURN_IF_ERROR(ctx.waitFor(ctx.recvReduce(partner, acc, send, totalBytes)));
    input = acc;
  }
  BRAID_RETURN_IF_ERROR(recursiveHalving(ctx, input, acc, segmentBegin));
  if (blockBytes > 0) std::memcpy(recv, acc + blockBytes * static_cast<size_t>(r), blockBytes);
  if (partner >= 0) ctx.send(partner, acc + blockBytes * static_cast<size_t>(partner), blockBytes);
  return ctx.wait();
}

}  // namespace braid::algorithms
