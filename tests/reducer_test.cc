// Checks every reduction kernel (data type x operator x instruction set) bit for bit against a
// scalar reference computed independently, plus divideByRanks and the dispatch rules.
// The fp16/bf16 conversions themselves are covered by reducer_convert_test.cc.
#include "reducer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "reducer_internal.h"

namespace braid {
namespace {

using reducer_internal::Isa;

std::vector<Isa> supportedIsas() {
  std::vector<Isa> isas;
  for (int i = 0; i < reducer_internal::kNumIsas; ++i) {
    if (reducer_internal::isaSupported(static_cast<Isa>(i))) isas.push_back(static_cast<Isa>(i));
  }
  return isas;
}

// --- Independent encodings of exactly representable values. ---------------------------------

// An fp16 bit pattern for a value it represents exactly (small integers here).
uint16_t exactHalf(double v) {
  if (v == 0) return std::signbit(v) ? 0x8000 : 0;
  const uint16_t sign = v < 0 ? 0x8000 : 0;
  int exp = 0;
  const double frac = std::frexp(std::fabs(v), &exp);  // v = frac * 2^exp, frac in [0.5, 1)
  const double mantissa = (frac * 2 - 1) * 1024;       // v = (1 + m / 1024) * 2^(exp - 1)
  EXPECT_EQ(mantissa, std::floor(mantissa)) << v << " is not exact in fp16";
  EXPECT_TRUE(exp - 1 >= -14 && exp - 1 <= 15) << v;
  return static_cast<uint16_t>(sign | ((exp - 1 + 15) << 10) | static_cast<int>(mantissa));
}

double decodeHalf(uint16_t h) {
  const int exp = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const double magnitude =
      exp == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exp - 25);  // finite only
  return (h & 0x8000) ? -magnitude : magnitude;
}

uint16_t exactBf16(double v) {
  const uint32_t bits = std::bit_cast<uint32_t>(static_cast<float>(v));
  EXPECT_EQ(bits & 0xFFFF, 0u) << v << " is not exact in bf16";
  EXPECT_EQ(static_cast<double>(static_cast<float>(v)), v);
  return static_cast<uint16_t>(bits >> 16);
}

double decodeBf16(uint16_t h) {
  return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(h) << 16));
}

// --- Per-type reference models. ---------------------------------------------------------------

double refOp(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kProd:
      return a * b;
    case ReduceOp::kMin:
      return std::min(a, b);
    case ReduceOp::kMax:
      return std::max(a, b);
    default:
      return a + b;
  }
}

// Integers: full-range random inputs; sum and product wrap modulo 2^bits.
template <typename T>
struct IntModel {
  using S = T;
  static S gen(std::mt19937_64& rng) { return static_cast<T>(rng()); }
  static S ref(ReduceOp op, S a, S b) {
    const uint64_t ua = static_cast<uint64_t>(a);
    const uint64_t ub = static_cast<uint64_t>(b);
    switch (op) {
      case ReduceOp::kProd:
        return static_cast<T>(ua * ub);  // modular conversion (C++20)
      case ReduceOp::kMin:
        return std::min(a, b);
      case ReduceOp::kMax:
        return std::max(a, b);
      default:
        return static_cast<T>(ua + ub);
    }
  }
};

// Floating types: small integers in [-8, 8], so every result is exact in every type.
template <typename T>
struct FloatModel {
  using S = T;
  static S gen(std::mt19937_64& rng) { return static_cast<T>(static_cast<int>(rng() % 17) - 8); }
  static S ref(ReduceOp op, S a, S b) { return static_cast<T>(refOp(op, a, b)); }
};

struct HalfModel {
  using S = uint16_t;
  static S gen(std::mt19937_64& rng) { return exactHalf(static_cast<int>(rng() % 17) - 8); }
  static S ref(ReduceOp op, S a, S b) { return exactHalf(refOp(op, decodeHalf(a), decodeHalf(b))); }
};

struct Bf16Model {
  using S = uint16_t;
  static S gen(std::mt19937_64& rng) { return exactBf16(static_cast<int>(rng() % 17) - 8); }
  static S ref(ReduceOp op, S a, S b) { return exactBf16(refOp(op, decodeBf16(a), decodeBf16(b))); }
};

constexpr size_t kMaxCount = 1048579;
constexpr size_t kCounts[] = {0, 1, 7, 1023, kMaxCount};

enum class Alias { kNone, kDstIsA, kDstIsB };

// 64-byte aligned storage, so that "aligned" and "one element off" are what they say.
template <typename S>
struct AlignedAllocator {
  using value_type = S;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  S* allocate(size_t n) { return static_cast<S*>(::operator new(n * sizeof(S), kAlign)); }
  void deallocate(S* p, size_t) { ::operator delete(p, kAlign); }
  bool operator==(const AlignedAllocator&) const = default;
  static constexpr std::align_val_t kAlign{64};
};
template <typename S>
using AlignedVector = std::vector<S, AlignedAllocator<S>>;

struct StreamingThresholdGuard {
  ~StreamingThresholdGuard() {
    reducer_internal::setStreamingThreshold(reducer_internal::kDefaultStreamingBytes);
  }
};

// One instruction set: every count, alignment and aliasing, guards around dst.
template <typename Model>
void checkKernelRuns(DataType type, ReduceOp op, Isa isa, size_t threshold,
                     const AlignedVector<typename Model::S>& a,
                     const AlignedVector<typename Model::S>& b,
                     const AlignedVector<typename Model::S>& expected, typename Model::S guard) {
  using S = typename Model::S;
  constexpr size_t kPad = 64 / sizeof(S);
  AlignedVector<S> dst(a.size()), aCopy = a, bCopy = b;
  ReduceFn fn = reducer_internal::reduceFunctionFor(type, op, isa);
  ASSERT_NE(fn, nullptr);
  for (size_t count : kCounts) {
    for (size_t offset : {kPad, kPad + 1}) {
      if (count == kMaxCount && offset == kPad) continue;  // alignment matters for short runs
      for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB}) {
        // Aliased calls never stream: the first pass covered them.
        if (threshold == 0 && alias != Alias::kNone) continue;
        SCOPED_TRACE(::testing::Message()
                     << toString(type) << " " << toString(op) << " isa=" << toString(isa)
                     << " streaming threshold=" << threshold << " count=" << count
                     << " aligned=" << (offset == kPad) << " alias=" << static_cast<int>(alias));
        const S* pa = a.data() + offset;
        const S* pb = b.data() + offset;
        S* pd = dst.data() + offset;
        if (alias == Alias::kDstIsA) {
          std::copy(a.begin() + offset, a.begin() + offset + count, aCopy.begin() + offset);
          pa = pd = aCopy.data() + offset;
        } else if (alias == Alias::kDstIsB) {
          std::copy(b.begin() + offset, b.begin() + offset + count, bCopy.begin() + offset);
          pb = pd = bCopy.data() + offset;
        }
        pd[-1] = guard;
        pd[count] = guard;
        fn(pd, pa, pb, count);
        ASSERT_EQ(std::memcmp(&pd[-1], &guard, sizeof(S)), 0) << "wrote before dst";
        ASSERT_EQ(std::memcmp(&pd[count], &guard, sizeof(S)), 0) << "wrote past dst + count";
        if (std::memcmp(pd, expected.data() + offset, count * sizeof(S)) != 0) {
          for (size_t i = 0; i < count; ++i) {
            ASSERT_EQ(std::memcmp(&pd[i], &expected[offset + i], sizeof(S)), 0)
                << "first difference at element " << i;
          }
        }
      }
    }
  }
}

template <typename Model>
void checkKernel(DataType type, ReduceOp op) {
  using S = typename Model::S;
  // Runs start at kPad (64-byte aligned) or kPad + 1 (unaligned); guards on both sides.
  constexpr size_t kPad = 64 / sizeof(S);
  constexpr size_t kLen = kMaxCount + 2 * kPad + 2;
  std::mt19937_64 rng(static_cast<uint64_t>(type) * 131 + static_cast<uint64_t>(op));
  AlignedVector<S> a(kLen), b(kLen), expected(kLen);
  for (size_t i = 0; i < kLen; ++i) {
    a[i] = Model::gen(rng);
    b[i] = Model::gen(rng);
    expected[i] = Model::ref(op, a[i], b[i]);
  }
  const S guard = Model::gen(rng);

  // Both the cached path and the streaming path (non-temporal stores; forced for every
  // out-of-place call by a threshold of 0).
  StreamingThresholdGuard restore;
  for (size_t threshold : {reducer_internal::kDefaultStreamingBytes, size_t{0}}) {
    reducer_internal::setStreamingThreshold(threshold);
    for (Isa isa : supportedIsas()) {
      checkKernelRuns<Model>(type, op, isa, threshold, a, b, expected, guard);
    }
  }
}

template <typename Fn>
void withModel(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8:
      return fn(IntModel<int8_t>{});
    case DataType::kUint8:
      return fn(IntModel<uint8_t>{});
    case DataType::kInt32:
      return fn(IntModel<int32_t>{});
    case DataType::kUint32:
      return fn(IntModel<uint32_t>{});
    case DataType::kInt64:
      return fn(IntModel<int64_t>{});
    case DataType::kUint64:
      return fn(IntModel<uint64_t>{});
    case DataType::kFloat16:
      return fn(HalfModel{});
    case DataType::kBfloat16:
      return fn(Bf16Model{});
    case DataType::kFloat32:
      return fn(FloatModel<float>{});
    case DataType::kFloat64:
      return fn(FloatModel<double>{});
  }
}

class ReduceKernelTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ReduceKernelTest, MatchesReference) {
  const auto type = static_cast<DataType>(std::get<0>(GetParam()));
  const auto op = static_cast<ReduceOp>(std::get<1>(GetParam()));
  withModel(type, [&](auto model) { checkKernel<decltype(model)>(type, op); });
}

// kAvg is the sum kernel (covered there); the four distinct kernels for every type.
std::string kernelTestName(const ::testing::TestParamInfo<std::tuple<int, int>>& param) {
  return std::string(toString(static_cast<DataType>(std::get<0>(param.param)))) + "_" +
         std::string(toString(static_cast<ReduceOp>(std::get<1>(param.param))));
}

INSTANTIATE_TEST_SUITE_P(AllTypesAndOps, ReduceKernelTest,
                         ::testing::Combine(::testing::Range(0, kNumDataTypes),
                                            ::testing::Range(0, 4)),
                         kernelTestName);

TEST(ReduceFunctionTest, DispatchRules) {
  for (int t = 0; t < kNumDataTypes; ++t) {
    const auto type = static_cast<DataType>(t);
    for (int o = 0; o < kNumReduceOps; ++o) {
      EXPECT_NE(reduceFunction(type, static_cast<ReduceOp>(o)), nullptr);
    }
    EXPECT_EQ(reduceFunction(type, ReduceOp::kAvg), reduceFunction(type, ReduceOp::kSum));
    EXPECT_EQ(
        reduceFunction(type, ReduceOp::kSum),
        reducer_internal::reduceFunctionFor(type, ReduceOp::kSum, reducer_internal::bestIsa()));
  }
  EXPECT_EQ(reduceFunction(static_cast<DataType>(kNumDataTypes), ReduceOp::kSum), nullptr);
  EXPECT_EQ(reduceFunction(static_cast<DataType>(-1), ReduceOp::kSum), nullptr);
  EXPECT_EQ(reduceFunction(DataType::kFloat32, static_cast<ReduceOp>(kNumReduceOps)), nullptr);
  EXPECT_TRUE(reducer_internal::isaSupported(Isa::kGeneric));
  std::printf("reducer: best instruction set here: %s\n",
              std::string(toString(reducer_internal::bestIsa())).c_str());
}

// Floating min/max are `a < b ? a : b` and `a > b ? a : b`: a NaN in a gives b, a NaN in b
// gives NaN, and min(-0, +0) is +0. Every instruction set must agree (scalar and vector paths
// alike), for fp32 and for fp16/bf16, which are combined in fp32.
template <typename S>
void checkMinMaxSemantics(DataType type, float (*widen)(S), S (*narrow)(float)) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const size_t n = 1023;  // full blocks and a tail
  std::vector<S> a(n), b(n), d(n);
  for (size_t i = 0; i < n; ++i) {
    const float values[] = {nan, 1.0f, -inf, -0.0f, 0.0f};
    a[i] = narrow(values[i % 5]);
    b[i] = narrow(i % 7 == 0 ? nan : (i % 7 == 1 ? 0.0f : (i % 7 == 2 ? -0.0f : 2.0f)));
  }
  for (Isa isa : supportedIsas()) {
    for (ReduceOp op : {ReduceOp::kMin, ReduceOp::kMax}) {
      reducer_internal::reduceFunctionFor(type, op, isa)(d.data(), a.data(), b.data(), n);
      for (size_t i = 0; i < n; ++i) {
        const float x = widen(a[i]);
        const float y = widen(b[i]);
        const float want = op == ReduceOp::kMin ? (x < y ? x : y) : (x > y ? x : y);
        const float got = widen(d[i]);
        ASSERT_EQ(std::isnan(got), std::isnan(want)) << toString(isa) << " " << i;
        if (!std::isnan(want)) {
          ASSERT_EQ(got, want) << toString(isa) << " " << i;
          ASSERT_EQ(std::signbit(got), std::signbit(want)) << toString(isa) << " " << i;
        }
      }
    }
  }
}

TEST(ReduceFunctionTest, FloatMinMaxNanSemantics) {
  checkMinMaxSemantics<float>(
      DataType::kFloat32, [](float f) { return f; }, [](float f) { return f; });
  checkMinMaxSemantics<uint16_t>(DataType::kFloat16, halfToFloat, floatToHalf);
  checkMinMaxSemantics<uint16_t>(DataType::kBfloat16, bf16ToFloat, floatToBf16);
}

// --- divideByRanks. -----------------------------------------------------------------------

template <typename T>
void checkIntegerDivide(DataType type) {
  std::mt19937_64 rng(7);
  constexpr size_t kN = 100003;
  std::vector<T> input(kN);
  using L = std::numeric_limits<T>;
  const T specials[] = {L::min(),
                        L::max(),
                        T{0},
                        T{1},
                        static_cast<T>(L::max() - 1),
                        static_cast<T>(L::min() + 1),
                        static_cast<T>(-1)};
  for (size_t i = 0; i < kN; ++i) {
    input[i] = i < std::size(specials) ? specials[i] : static_cast<T>(rng());
  }
  for (int ranks : {1, 2, 3, 7, 8, 200, 1000, 1 << 20}) {
    std::vector<T> want(kN);
    for (size_t i = 0; i < kN; ++i) {
      if constexpr (std::is_signed_v<T>) {
        want[i] = static_cast<T>(static_cast<int64_t>(input[i]) / ranks);
      } else {
        want[i] = static_cast<T>(static_cast<uint64_t>(input[i]) / static_cast<uint64_t>(ranks));
      }
    }
    for (Isa isa : supportedIsas()) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, kN}) {
        std::vector<T> buf = input;
        reducer_internal::divideFunctionFor(type, isa)(buf.data(), count, ranks);
        for (size_t i = 0; i < kN; ++i) {
          ASSERT_EQ(buf[i], i < count ? want[i] : input[i])
              << toString(type) << " isa=" << toString(isa) << " ranks=" << ranks
              << " count=" << count << " i=" << i << " x=" << +input[i];
        }
      }
    }
    std::vector<T> buf = input;
    divideByRanks(buf.data(), kN, type, ranks);
    ASSERT_EQ(buf, want) << toString(type) << " ranks=" << ranks;
  }
}

TEST(DivideByRanksTest, Integers) {
  checkIntegerDivide<int8_t>(DataType::kInt8);
  checkIntegerDivide<uint8_t>(DataType::kUint8);
  checkIntegerDivide<int32_t>(DataType::kInt32);
  checkIntegerDivide<uint32_t>(DataType::kUint32);
  checkIntegerDivide<int64_t>(DataType::kInt64);
  checkIntegerDivide<uint64_t>(DataType::kUint64);
}

// fp32/fp64: a true division in the type itself. fp16/bf16: widened, divided in fp32, rounded.
template <typename S, typename Expect>
void checkFloatDivide(DataType type, const std::vector<S>& input, Expect expect) {
  for (int ranks : {1, 2, 3, 7, 10, 1000}) {
    for (Isa isa : supportedIsas()) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, input.size()}) {
        std::vector<S> buf = input;
        reducer_internal::divideFunctionFor(type, isa)(buf.data(), count, ranks);
        for (size_t i = 0; i < input.size(); ++i) {
          const S want = i < count ? expect(input[i], ranks) : input[i];
          ASSERT_EQ(std::memcmp(&buf[i], &want, sizeof(S)), 0)
              << toString(type) << " isa=" << toString(isa) << " ranks=" << ranks << " i=" << i;
        }
      }
    }
    std::vector<S> buf = input;
    divideByRanks(buf.data(), buf.size(), type, ranks);
    for (size_t i = 0; i < input.size(); ++i) {
      const S want = expect(input[i], ranks);
      ASSERT_EQ(std::memcmp(&buf[i], &want, sizeof(S)), 0) << toString(type) << " i=" << i;
    }
  }
}

TEST(DivideByRanksTest, Floats) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> dist(-1e6, 1e6);
  constexpr size_t kN = 20011;
  std::vector<float> f32(kN);
  std::vector<double> f64(kN);
  std::vector<uint16_t> f16(kN), bf16(kN);
  for (size_t i = 0; i < kN; ++i) {
    f64[i] = dist(rng);
    f32[i] = static_cast<float>(f64[i]);
    f16[i] = static_cast<uint16_t>(rng());  // every pattern class: subnormals, Inf, NaN
    bf16[i] = static_cast<uint16_t>(rng());
  }
  // NaN results: any NaN matches (payloads are not specified); compare canonically.
  auto canonHalf = [](uint16_t h) -> uint16_t { return (h & 0x7FFF) > 0x7C00 ? 0x7E00 : h; };
  auto canonBf16 = [](uint16_t h) -> uint16_t { return (h & 0x7FFF) > 0x7F80 ? 0x7FC0 : h; };
  for (auto& h : f16) h = canonHalf(h);
  for (auto& h : bf16) h = canonBf16(h);
  checkFloatDivide(DataType::kFloat32, f32,
                   [](float x, int r) { return x / static_cast<float>(r); });
  checkFloatDivide(DataType::kFloat64, f64,
                   [](double x, int r) { return x / static_cast<double>(r); });
  checkFloatDivide(DataType::kFloat16, f16, [](uint16_t x, int r) {
    return floatToHalf(halfToFloat(x) / static_cast<float>(r));
  });
  checkFloatDivide(DataType::kBfloat16, bf16, [](uint16_t x, int r) {
    return floatToBf16(bf16ToFloat(x) / static_cast<float>(r));
  });
}

TEST(DivideByRanksTest, IgnoresInvalidArguments) {
  float x[2] = {6.0f, 8.0f};
  divideByRanks(x, 2, DataType::kFloat32, 0);
  divideByRanks(x, 2, DataType::kFloat32, -3);
  divideByRanks(x, 2, static_cast<DataType>(42), 2);
  EXPECT_EQ(x[0], 6.0f);
  EXPECT_EQ(x[1], 8.0f);
}

}  // namespace
}  // namespace braid
