// Element-wise reduction kernels on CPU buffers for every (DataType x ReduceOp).
// fp16 and bf16 are widened to fp32, combined, and rounded back (round to nearest even).
#pragma once

#include <cstddef>

#include "braid/types.h"

namespace braid {

// dst[i] = a[i] op b[i] for i < count. dst may alias a or b (exactly, not partially).
using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t count);

// The kernel for (type, op); kAvg maps to the sum kernel (finish with divideByRanks).
// nullptr for invalid arguments.
ReduceFn reduceFunction(DataType type, ReduceOp op);

// buf[i] = buf[i] / ranks (floating: computed in the accumulation type and rounded; integer:
// truncating division). Completes kAvg.
void divideByRanks(void* buf, size_t count, DataType type, int ranks);

// Half-precision conversions used by the kernels and by tests.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToBf16(float f);

}  // namespace braid
