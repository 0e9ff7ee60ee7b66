// How braid-bench sets up, checks and scores each collective: buffer sizes for a table "size",
// exact inputs and expected outputs per rank, and the nccl-tests bus-bandwidth factor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"

namespace braid::bench {

std::string_view collectiveName(Collective c);
std::optional<Collective> parseCollective(const std::string& name);
const std::vector<Collective>& allCollectives();
// Whether op and root mean anything for c.
bool reduces(Collective c);
bool rooted(Collective c);

// busbw = algbw * busFactor (nccl-tests): what each link carries relative to "size".
double busFactor(Collective c, int ranks);

// The buffers of one rank for one (collective, size, dtype, op, root) and how to check them.
// "size" is nccl-tests': the whole array for reduceScatter/allGather/allToAll, the message for
// the others.
class Buffers {
 public:
  Buffers(Collective c, size_t sizeBytes, DataType t, ReduceOp o, int root, int rank, int ranks);

  // Elements the API call takes as `count` (0 if size is below one element per rank).
  size_t callCount() const { return callCount_; }
  size_t tableCount() const;  // elements of "size"
  size_t bytes() const { return callCount_ * perCall_ * dataTypeSize(type_); }

  // Fills inputs (for a check) and returns the Call for the chosen placement.
  Call prepare(bool inPlace, bool fill, bool rsInPlaceAtStart);
  // Elements of this rank's result that differ from the exact expectation.
  uint64_t wrong(bool inPlace, bool rsInPlaceAtStart);

  // The host buffers the Calls point into (a device mirrors them).
  uint8_t* sendHost() { return send_.data(); }
  uint8_t* recvHost() { return recv_.data(); }
  size_t sendHostBytes() const { return send_.size(); }
  size_t recvHostBytes() const { return recv_.size(); }

 private:
  size_t sendElems() const;
  size_t recvElems() const;

  Collective c_;
  DataType type_;
  ReduceOp op_;
  int root_, rank_, ranks_;
  size_t callCount_ = 0;
  size_t perCall_ = 1;  // size / callCount, in elements (n for block collectives)
  std::vector<uint8_t> send_, recv_, expected_;
  bool expectedReady_ = false;
};

}  // namespace braid::bench
