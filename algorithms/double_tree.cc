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

}  // namespace

Status runDoubleTree(OpContext& ctx, const DoubleTreeJob& job, size_t count, size_t chunkBytes) {
  const size_t es = ctx.elemSize();
  const size_t chunkElems = std::max<size_t>(1, chunkBytes / es);
  uint8_t* tmp = job.tmp;
  size_t chunks[2];
  for (int t = 0; t < 2; ++t) {
    chunks[t] = (patterns::blockCount(count, 2, t) + chunkElems - 1) / chunkElems;
  }
  std::vector<CpuSum> sums;
  // What each tree's current chunk is ready behind at the top of its up phase.
  const Request* upReady[2] = {nullptr, nullptr};
  for (size_t c = 0; c < std::max(chunks[0], chunks[1]); ++c) {
    for (int phase = 0; phase < 2; ++phase) {
      for (int t = 0; t < 2; ++t) {
        if (c >= chunks[t]) continue;
        const patterns::TreeLinks& l = job.links[t];
        const size_t first = patterns::blockBegin(count, 2, t) + c * chunkElems;
        const size_t len = std::min(chunkElems, patterns::blockBegin(count, 2, t + 1) - first);
        const size_t off = first * es, bytes = len * es;
        if (phase == 0) {
          if (!job.reduceUp) continue;
          const uint8_t* up = job.input + off;
          const Request* ready = nullptr;
          if (l.childCount() == 0 && l.parent < 0 && job.acc + off != up) {
            std::memcpy(job.acc + off, up, bytes);  // a lone node (world of one)
          }
          if (l.childCount() >= 1) {
            ready = ctx.recvReduce(l.children[0], job.acc + off, job.input + off, bytes);
            up = job.acc + off;
          }
          if (l.childCount() == 2) {
            const Request* second = ctx.recv(l.children[1], tmp + off, bytes);
            Request* gate = ctx.gate(bytes);
            sums.push_back({ready, second, gate, job.acc + off, tmp + off, len});
            ready = gate;
          }
          if (l.parent >= 0) ctx.send(l.parent, up, bytes, ready);
          upReady[t] = ready;
        } else {
          if (!job.broadcastDown || l.childCount() == 0) {
            if (job.broadcastDown && l.parent >= 0) ctx.recv(l.parent, job.output + off, bytes);
            continue;
          }
          const uint8_t* down = job.reduceUp ? job.acc + off : job.input + off;
          const Request* ready = job.reduceUp ? upReady[t] : nullptr;
          if (l.parent >= 0) {
            ready = ctx.recv(l.parent, job.output + off, bytes);
            down = job.output + off;
          }
          for (int child : l.children) {
            if (child >= 0) ctx.send(child, down, bytes, ready);
          }
        }
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
