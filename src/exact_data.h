// Inputs whose reductions are exact in any order, and their expected results: small integers
// (sum, avg), products of ±1 and 2 (prod), and small signed or unsigned values (min, max), all
// representable exactly in every dtype including fp16/bf16 for up to 64 ranks. Used by the test
// suite and by braid-bench's per-size check, so both compare with zero tolerance.
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/types.h"

namespace braid::exact {

// The input of element `index` on `rank` (of `ranks`) for op, as a double (exact in dtype).
double input(DataType type, ReduceOp op, int rank, int ranks, size_t index);

// buf[i] = input(type, op, rank, ranks, first + i) for i < count.
void fillInput(void* buf, size_t count, DataType type, ReduceOp op, int rank, int ranks,
               size_t first = 0);
// buf[i] = the reduction over all ranks of input(..., first + i), finished like the library
// finishes it (kAvg: divided by ranks in the accumulation type, rounded to dtype).
void fillReduced(void* buf, size_t count, DataType type, ReduceOp op, int ranks, size_t first = 0);

// Elements of got that differ bitwise from expected.
size_t countMismatches(const void* got, const void* expected, size_t count, DataType type);

// Writes v (exactly representable) as element i of a dtype buffer / reads it back.
void store(void* buf, size_t i, DataType type, double v);
double load(const void* buf, size_t i, DataType type);

}  // namespace braid::exact
