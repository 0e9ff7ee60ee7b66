// OpDesc: one operation as the user asked for it (or as a composed algorithm asks one of its
// stages to run it on a sub-group).
#pragma once

#include <cstddef>

#include "braid/types.h"

namespace braid {

struct OpDesc {
  CollectiveKind kind = CollectiveKind::kBarrier;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;
  DataType dtype = DataType::kUint8;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;   // broadcast, reduce
  int peer = -1;  // send, recv
};

}  // namespace braid
