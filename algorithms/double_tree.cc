// The pipelined double binary tree engine behind tree allReduce, reduce and broadcast. Each of
// the two trees carries one half of the buffer, cut into chunks; partial sums flow up a tree
// chunk by chunk and results flow back down, so a chunk is one hop behind the previous one and
// the whole transfer takes about (depth + chunks) chunk times instead of depth * halves.
//
// Every request of the operation is posted up front, in one order that the two ends of each
// link agree on: by chunk, then phase (up before down), then tree. A message then only ever
// waits behind messages earlier in that order, or for data of the same chunk further down (up)
// or up (down) its own tree, so the schedule cannot deadlock. Sends stream behind the receive
// that fills their bytes; at a rank with two children the second child's chunk is added on the
// CPU, and the send to the parent waits on a gate that opens when that sum is done.
#include <algorithm>
#include <cstring>
#include <vector>

#include "algorithms.h"
#include "patterns/ring.h"

namespace braid::algorithms {
namespace {

// A chunk whose second child's contribution the CPU adds once both children's bytes are in.
struct CpuSum {
  const Request* first;   // first child's bytes, already reduced into acc
  const Request* second;  // second child's bytes, in tmp
  Request* gate;          // opens the send of acc to the parent / children
  uint8_t* acc;
  const uint8_t* tmp;
  size_t count;
};

// One chunk of one tree: bytes at offset off of every buffer, len elements.
struct Chunk {
  size_t off, bytes, len;
};

// Posts a chunk's up phase: reduce the children's partial sums into acc and send the result to
// the parent. Returns what the chunk's sum is ready behind (nullptr: ready now).
const Request* postUp(OpContext& ctx, const DoubleTreeJob& job, const patterns::TreeLinks& l,
                      const Chunk& c, std::vector<CpuSum>& sums) {
  const uint8_t* up = job.input + c.off;
  const Request* ready = nullptr;
  if (l.childCount() == 0 && l.parent < 0 && job.acc + c.off != up) {
    std::memcpy(job.acc + c.off, up, c.bytes);  // a lone node (world of one)
  }
  if (l.childCount() >= 1) {
    ready = ctx.recvReduce(l.children[0], job.acc + c.off, job.input + c.off, c.bytes);
    up = job.acc + c.off;
  }
  if (l.childCount() == 2) {
    const Request* second = ctx.recv(l.children[1], job.tmp + c.off, c.bytes);
    Request* gate = ctx.gate(c.bytes);
    sums.push_back({ready, second, gate, job.acc + c.off, job.tmp + c.off, c.len});
    ready = gate;
  }
  if (l.parent >= 0) ctx.send(l.parent, up, c.bytes, ready);
  return ready;
}

// Posts a chunk's down phase: receive the result from the parent (at a tree's top: the sum, or
// the input when only broadcasting) and forward it to the children as it arrives.
void postDown(OpContext& ctx, const DoubleTreeJob& job, const patterns::TreeLinks& l,
              const Chunk& c, const Request* upReady) {
  const uint8_t* down = job.reduceUp ? job.acc + c.off : job.input + c.off;
  const Request* ready = job.reduceUp ? upReady : nullptr;
  if (l.parent >= 0) {
    ready = ctx.recv(l.parent, job.output + c.off, c.bytes);
    down = job.output + c.off;
  }
  for (int child : l.children) {
    if (child >= 0) ctx.send(child, down, c.bytes, ready);
  }
}

}  // namespace

Status runDoubleTree(OpContext& ctx, const DoubleTreeJob& job, size_t count, size_t chunkBytes) {
  const size_t es = ctx.elemSize();
  const size_t chunkElems = std::max<size_t>(1, chunkBytes / es);
  size_t chunks[2];
  for (int t = 0; t < 2; ++t) {
    chunks[t] = (patterns::blockCount(count, 2, t) + chunkElems - 1) / chunkElems;
  }
  std::vector<CpuSum> sums;
  for (size_t i = 0; i < std::max(chunks[0], chunks[1]); ++i) {
    const Request* upReady[2] = {nullptr, nullptr};
    for (int phase = 0; phase < 2; ++phase) {
      for (int t = 0; t < 2; ++t) {
        if (i >= chunks[t]) continue;
        const size_t first = patterns::blockBegin(count, 2, t) + i * chunkElems;
        const size_t len = std::min(chunkElems, patterns::blockBegin(count, 2, t + 1) - first);
        const Chunk c{first * es, len * es, len};
        if (phase == 0 && job.reduceUp) upReady[t] = postUp(ctx, job, job.links[t], c, sums);
        if (phase == 1 && job.broadcastDown) postDown(ctx, job, job.links[t], c, upReady[t]);
      }
    }
  }
  // Add the second children's chunks in posting order, which is also the order the chunks can
  // complete in; everything else moves meanwhile.
  for (const CpuSum& s : sums) {
    BRAID_RETURN_IF_ERROR(ctx.waitFor(s.first));
    BRAID_RETURN_IF_ERROR(ctx.waitFor(s.second));
    ctx.reducer()(s.acc, s.acc, s.tmp, s.count);
    OpContext::openGate(s.gate);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
