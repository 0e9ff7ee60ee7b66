// Checks the fp16/bf16 <-> fp32 conversions: exhaustive round trips, round-to-nearest-even
// against an independent reference, NaN/Inf handling, and that the vector (F16C, AVX-512)
// paths of the kernels round exactly like the scalar ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "reducer.h"
#include "reducer_internal.h"

namespace braid {
namespace {

using reducer_internal::Isa;

bool isHalfNan(uint16_t h) { return (h & 0x7FFF) > 0x7C00; }
bool isBf16Nan(uint16_t h) { return (h & 0x7FFF) > 0x7F80; }

std::vector<Isa> supportedIsas() {
  std::vector<Isa> isas;
  for (int i = 0; i < reducer_internal::kNumIsas; ++i) {
    if (reducer_internal::isaSupported(static_cast<Isa>(i))) isas.push_back(static_cast<Isa>(i));
  }
  return isas;
}

TEST(HalfConvertTest, RoundTripsEveryPattern) {
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = halfToFloat(h);
    if (isHalfNan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(isHalfNan(floatToHalf(f))) << std::hex << i;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0);
    } else {
      ASSERT_EQ(floatToHalf(f), h) << std::hex << i;
    }
  }
}

TEST(HalfConvertTest, DecodesKnownValues) {
  EXPECT_EQ(halfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(halfToFloat(0xC000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(halfToFloat(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x0400), 0x1p-14f);  // smallest normal
  EXPECT_EQ(halfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
}

TEST(HalfConvertTest, RoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3C00);             // tie: down to the even 1.0
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3C02);         // tie: up to the even mantissa
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);  // just above the tie
  EXPECT_EQ(floatToHalf(2047.0f + 0.5f), 0x6800);              // tie, carries into the exponent
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);  // the tie above the largest half goes to Inf
  EXPECT_EQ(floatToHalf(-1e10f), 0xFC00);
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);  // tie between 0 and the smallest subnormal
  EXPECT_EQ(floatToHalf(-0x1p-25f), 0x8000);
  EXPECT_EQ(floatToHalf(0x1p-25f * 1.0001f), 0x0001);
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);         // tie between subnormals 1 and 2
  EXPECT_EQ(floatToHalf(5 * 0x1p-25f), 0x0002);         // tie between subnormals 2 and 3
  EXPECT_EQ(floatToHalf(0x1p-14f - 0x1p-26f), 0x0400);  // rounds up into the normals
  EXPECT_EQ(floatToHalf(1e-30f), 0x0000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_TRUE(isHalfNan(floatToHalf(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lives only in the low 13 bits must not become Inf.
  EXPECT_TRUE(isHalfNan(floatToHalf(std::bit_cast<float>(0x7F800001u))));
  EXPECT_TRUE(isHalfNan(floatToHalf(std::bit_cast<float>(0xFF800001u))));
}

// Reference: the nearest of the representable values (found by binary search), ties to the
// even encoding; `top` stands in for Inf as the next value after the largest finite one.
uint16_t nearestEven(float f, const std::vector<double>& positive, uint16_t signBit) {
  const double x = std::fabs(static_cast<double>(f));
  const auto it = std::lower_bound(positive.begin(), positive.end(), x);
  size_t hi = static_cast<size_t>(it - positive.begin());
  if (hi == positive.size()) hi = positive.size() - 1;  // beyond `top`: Inf
  size_t pick = hi;
  if (positive[hi] != x && hi > 0) {
    const double down = x - positive[hi - 1];
    const double up = positive[hi] - x;
    pick = (down < up || (down == up && (hi - 1) % 2 == 0)) ? hi - 1 : hi;
  }
  return static_cast<uint16_t>((std::signbit(f) ? signBit : 0) | pick);
}

// Every positive finite encoding in order (encodings are monotonic), then Inf as `top`.
std::vector<double> positiveValues(uint16_t infBits, float (*decode)(uint16_t), double top) {
  std::vector<double> values;
  for (uint32_t h = 0; h < infBits; ++h) values.push_back(decode(static_cast<uint16_t>(h)));
  values.push_back(top);
  return values;
}

TEST(HalfConvertTest, MatchesNearestEvenReferenceOnSampledFloats) {
  const std::vector<double> halves = positiveValues(0x7C00, halfToFloat, 65536.0);
  const std::vector<double> bf16s = positiveValues(0x7F80, bf16ToFloat, 0x1p128);
  // A stride through all 2^32 patterns plus random values near the half range.
  std::mt19937 rng(3);
  std::vector<uint32_t> samples;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFu; bits += 4099) samples.push_back(uint32_t(bits));
  for (int i = 0; i < 200000; ++i) {
    samples.push_back((rng() & 0x807FFFFFu) | ((100u + rng() % 45u) << 23));
  }
  for (uint32_t bits : samples) {
    const float f = std::bit_cast<float>(bits);
    if (std::isnan(f)) {
      ASSERT_TRUE(isHalfNan(floatToHalf(f))) << std::hex << bits;
      ASSERT_TRUE(isBf16Nan(floatToBf16(f))) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(floatToHalf(f), nearestEven(f, halves, 0x8000)) << std::hex << bits;
    ASSERT_EQ(floatToBf16(f), nearestEven(f, bf16s, 0x8000)) << std::hex << bits;
  }
}

TEST(Bf16ConvertTest, RoundTripsEveryPattern) {
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = bf16ToFloat(h);
    ASSERT_EQ(std::bit_cast<uint32_t>(f), i << 16);
    if (isBf16Nan(h)) {
      ASSERT_TRUE(isBf16Nan(floatToBf16(f))) << std::hex << i;
    } else {
      ASSERT_EQ(floatToBf16(f), h) << std::hex << i;
    }
  }
}

TEST(Bf16ConvertTest, RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3F80);                     // tie: down to even
  EXPECT_EQ(floatToBf16(1.0f + 3 * 0x1p-8f), 0x3F82);                 // tie: up to even
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);          // above the tie
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7F7F7FFFu)), 0x7F7F);  // below the tie
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7F7F8000u)), 0x7F80);  // tie at the top: Inf
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(floatToBf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x00008001u)), 0x0001);
  // NaNs whose payload is only in the low 16 bits must stay NaN (truncation would give Inf).
  EXPECT_TRUE(isBf16Nan(floatToBf16(std::bit_cast<float>(0x7F800001u))));
  EXPECT_TRUE(isBf16Nan(floatToBf16(std::bit_cast<float>(0xFF80FFFFu))));
  EXPECT_TRUE(isBf16Nan(floatToBf16(std::numeric_limits<float>::quiet_NaN())));
}

// The kernels convert with F16C / AVX-512 or with vectorised bit tricks: they must agree with
// the scalar conversions bit for bit, NaN payloads included. max(x, x) = x round-trips every
// pattern through both conversions; a + b and a * b exercise the rounding on random operands.
void checkIsaAgainstScalar(DataType type, Isa isa, float (*widen)(uint16_t),
                           uint16_t (*narrow)(float), const std::vector<uint16_t>& all,
                           const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  std::vector<uint16_t> out(all.size());
  reducer_internal::reduceFunctionFor(type, ReduceOp::kMax, isa)(out.data(), all.data(), all.data(),
                                                                 all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(out[i], narrow(widen(all[i]))) << std::hex << i;
  }
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd}) {
    out.assign(a.size(), 0);
    reducer_internal::reduceFunctionFor(type, op, isa)(out.data(), a.data(), b.data(), a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const float x = widen(a[i]);
      const float y = widen(b[i]);
      const uint16_t want = narrow(op == ReduceOp::kSum ? x + y : x * y);
      if (std::isnan(widen(want))) {  // which NaN the fp32 operation makes is the CPU's
        ASSERT_TRUE(std::isnan(widen(out[i]))) << std::hex << a[i] << " " << b[i];
      } else {
        ASSERT_EQ(out[i], want) << std::hex << a[i] << " " << b[i];
      }
    }
  }
}

void checkKernelAgainstScalar(DataType type, float (*widen)(uint16_t), uint16_t (*narrow)(float)) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t i = 0; i <= 0xFFFF; ++i) all[i] = static_cast<uint16_t>(i);
  std::mt19937 rng(5);
  std::vector<uint16_t> a(100003), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint16_t>(rng());
    // Mostly operands of similar magnitude, so that sums round in interesting ways.
    b[i] = i % 4 == 0 ? static_cast<uint16_t>(rng())
                      : static_cast<uint16_t>((a[i] & 0xFF00) ^ (rng() & 0x80FF));
  }
  for (Isa isa : supportedIsas()) {
    SCOPED_TRACE(toString(isa));
    checkIsaAgainstScalar(type, isa, widen, narrow, all, a, b);
    // Again through the streaming path (non-temporal stores), forced by a threshold of 0.
    reducer_internal::setStreamingThreshold(0);
    checkIsaAgainstScalar(type, isa, widen, narrow, all, a, b);
    reducer_internal::setStreamingThreshold(reducer_internal::kDefaultStreamingBytes);
  }
}

TEST(HalfConvertTest, KernelsMatchScalarConversions) {
  checkKernelAgainstScalar(DataType::kFloat16, halfToFloat, floatToHalf);
}

TEST(Bf16ConvertTest, KernelsMatchScalarConversions) {
  checkKernelAgainstScalar(DataType::kBfloat16, bf16ToFloat, floatToBf16);
}

}  // namespace
}  // namespace braid
