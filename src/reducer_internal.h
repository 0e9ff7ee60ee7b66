// Internals of the reduction kernels shared by reducer.cc, reducer_kernels.cc and the tests:
// the per-instruction-set kernel tables and the scalar fp16/bf16 conversions.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "reducer.h"

namespace braid::reducer_internal {

// Instruction sets the kernels are compiled for. kGeneric is the x86-64 baseline (SSE2) or
// whatever the compiler targets elsewhere; the others are picked at run time when the CPU
// (and the OS) support them.
enum class Isa : int {
  kGeneric = 0,
  kAvx2 = 1,    // AVX2 + F16C
  kAvx512 = 2,  // AVX-512 F/BW/DQ/VL + F16C
};
inline constexpr int kNumIsas = 3;
std::string_view toString(Isa isa);

// Whether the kernels for `isa` are compiled in and this CPU can run them.
bool isaSupported(Isa isa);
// The widest supported instruction set; what reduceFunction() uses.
Isa bestIsa();

// buf[i] = buf[i] / ranks for ranks >= 1.
using DivideFn = void (*)(void* buf, size_t count, int ranks);

// The kernels of one data type for one instruction set. reduce[] is indexed by ReduceOp
// (sum, prod, min, max); avg uses the sum kernel.
struct KernelRow {
  ReduceFn reduce[4];
  DivideFn divide;
};
using KernelTable = KernelRow[kNumDataTypes];

// The table for `isa`, or nullptr where it is not compiled in (reducer_kernels.cc). Does not
// check that the CPU supports it.
const KernelTable* kernelTable(Isa isa);

// Like reduceFunction / divideByRanks, for a given instruction set (nullptr where the CPU
// lacks it or the arguments are invalid).
ReduceFn reduceFunctionFor(DataType type, ReduceOp op, Isa isa);
DivideFn divideFunctionFor(DataType type, Isa isa);

// Out-of-place reductions of at least this many bytes of output write dst with non-temporal
// stores (see reducer_kernels.inc). Adjustable for tests and tuning; 0 = always.
inline constexpr size_t kDefaultStreamingBytes = size_t{8} << 20;
size_t streamingThreshold();
void setStreamingThreshold(size_t bytes);

// --- Scalar conversions (IEEE binary16 and bfloat16), round to nearest even. ---------------
// They match the F16C instructions bit for bit, NaNs included: a NaN keeps its sign and the
// top of its payload and comes out quiet.

inline float halfToFloatScalar(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {  // Inf or NaN (made quiet)
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13) |
                                (mantissa != 0 ? 0x400000u : 0u));
  }
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in fp32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t floatToHalfScalar(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {  // NaN: quiet, top 10 payload bits kept
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  if (abs >= 0x477FF000u) {  // >= 65520 (half way from 65504 to 2^16) and Inf: Inf
    return static_cast<uint16_t>(sign | 0x7C00u);
  }
  if (abs >= 0x38800000u) {  // >= 2^-14: normal half. Rebias, then round the low 13 bits.
    uint32_t v = abs - (112u << 23);
    v += 0x0FFFu + ((v >> 13) & 1u);  // a carry into the exponent is the right result
    return static_cast<uint16_t>(sign | (v >> 13));
  }
  if (abs <= 0x33000000u) {  // <= 2^-25 (half of the smallest subnormal; ties go to 0)
    return static_cast<uint16_t>(sign);
  }
  // Subnormal half: m * 2^-24 with m = significand >> (126 - exponent), rounded.
  const uint32_t significand = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - (abs >> 23);  // 14..24
  uint32_t m = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (m & 1u) != 0)) ++m;  // may reach 2^-14: fine
  return static_cast<uint16_t>(sign | m);
}

inline float bf16ToFloatScalar(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

inline uint16_t floatToBf16Scalar(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {  // NaN: truncate and make quiet so it stays NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  }
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace braid::reducer_internal
