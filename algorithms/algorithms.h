// The CPU algorithms. Each posts its sends and receives on an OpContext and waits; buffers are
// raw bytes, counts are elements of ctx.elemSize() bytes. The collective layer (src/) has
// already validated arguments, handled n == 1 and in-place copies, exchanged fingerprints, and
// finishes kAvg afterwards. One algorithm per file; rank arithmetic lives in patterns/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "op_context.h"
#include "patterns/double_tree.h"

namespace braid::algorithms {

// Ring reduce-scatter over the n blocks of input (count elements). The partial and final sums of
// block b are written to blockOut(b) (blockCount(count, n, b) elements). Returns the receive
// that completes this rank's own block, or nullptr when nothing was posted (n == 1).
using BlockOut = std::function<uint8_t*(int block)>;
const Request* postRingReduceScatter(OpContext& ctx, const uint8_t* input, size_t count,
                                     const BlockOut& blockOut);
// Ring allgather of the n blocks of buffer (count elements in all). This rank's block is sent
// from own (it may stream behind `after`); received blocks land in buffer.
void postRingAllGather(OpContext& ctx, uint8_t* buffer, size_t count, const uint8_t* own,
                       const Request* after);

// allReduce = ring reduce-scatter + ring allgather, streamed fragment by fragment.
Status ringAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
// allReduce for small messages: every rank gathers all inputs and reduces them in rank order.
Status oneShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
// Shared-memory arena variants (ctx.arena() != nullptr): one-shot for small messages (count *
// elemSize <= arena window), two-shot (reduce-scatter + allgather through the windows) for large.
Status shmOneShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
Status shmTwoShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
// send: n * recvCount elements; recv: recvCount elements (may be send + rank's block).
Status ringReduceScatter(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t recvCount);
// recv: n * sendCount elements, this rank's block already in place or sent from send.
Status ringAllGather(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t sendCount);

// Recursive halving-doubling (Rabenseifner); any world size (ranks beyond the largest power of
// two fold into a partner first and get the result back at the end).
Status halvingDoublingAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
// The fold of a world that is not a power of two around an allReduce among the participants
// (patterns/halving_doubling.h). foldIn: a rank that sits out hands its input to its partner,
// receives the result into recv and sets *satOut; its partner reduces that input with its own
// into recv. *input is where the rank's (folded) input is afterwards: recv or send. foldOut: the
// partner hands the result back.
Status foldIn(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t bytes, bool* satOut,
              const uint8_t** input);
void foldOut(OpContext& ctx, const uint8_t* recv, size_t bytes);
Status recursiveDoublingAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
Status halvingDoublingReduceScatter(OpContext& ctx, const uint8_t* send, uint8_t* recv,
                                    size_t recvCount);
Status halvingDoublingAllGather(OpContext& ctx, const uint8_t* send, uint8_t* recv,
                                size_t sendCount);
// The halving and doubling exchanges among the participants (patterns/halving_doubling.h), over
// segment v = elements [segmentBegin(v), segmentBegin(v + 1)). Halving: acc receives, for this
// participant's segment, the reduction of every participant's input (acc may equal input; the
// rest of acc is clobbered). Doubling: buffer holds this participant's segment and receives
// everyone's. Only participants call them.
using SegmentBegin = std::function<size_t(int segment)>;
Status recursiveHalving(OpContext& ctx, const uint8_t* input, uint8_t* acc,
                        const SegmentBegin& segmentBegin);
Status recursiveDoubling(OpContext& ctx, uint8_t* buffer, const SegmentBegin& segmentBegin);

// One rank's part in a pipelined double binary tree (patterns/double_tree.h): tree t carries
// elements blockBegin(count, 2, t) .. blockBegin(count, 2, t + 1) in chunks of chunkBytes.
// reduceUp: input (op) children's partial sums form acc (the result at a tree's top), sent up;
// tmp (count elements) takes second children's chunks. broadcastDown: the top's data (acc when
// reducing, else input) flows down into output.
struct DoubleTreeJob {
  patterns::TreeLinks links[2];
  bool reduceUp = false;
  bool broadcastDown = false;
  const uint8_t* input = nullptr;
  uint8_t* acc = nullptr;
  uint8_t* tmp = nullptr;
  uint8_t* output = nullptr;
};
Status runDoubleTree(OpContext& ctx, const DoubleTreeJob& job, size_t count, size_t chunkBytes);
// allReduce, broadcast and reduce over the double tree, in chunks of treeChunkBytes()
// (BRAID_TREE_CHUNK_BYTES).
size_t treeChunkBytes();
Status treeAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count);
Status treeBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root);
Status treeReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root);

// Rooted collectives. buffer/recv hold count elements.
Status chainBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root);
Status binomialBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count,
                         int root);
Status chainReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root);
Status binomialReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root);

// Hierarchical algorithms, for communicators over several hosts with the same number of ranks
// on each (patterns/hierarchy.h). Composed of stages on the host's ranks and on this rank's
// counterparts on the other hosts; each stage runs through ctx.runStage with the algorithm the
// tuner picks for that group, except allReduce's host-local stages, which are ring
// reduce-scatter / allgather (their blocks need not be equal).
//   allReduce: local reduce-scatter, cross allReduce of this rank's block, local allgather.
//   reduceScatter: pack blocks by (local rank, host), local and then cross reduce-scatter.
//   allGather: cross allgather, local allgather, unpack blocks into rank order.
//   broadcast: cross broadcast among the root's counterparts, local broadcast on every host.
Status hierarchicalAllReduce(OpContext& ctx, const OpDesc& d);
Status hierarchicalReduceScatter(OpContext& ctx, const OpDesc& d);
Status hierarchicalAllGather(OpContext& ctx, const OpDesc& d);
Status hierarchicalBroadcast(OpContext& ctx, const OpDesc& d);

Status pairwiseAllToAll(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t countPerPeer);
Status disseminationBarrier(OpContext& ctx);

}  // namespace braid::algorithms
