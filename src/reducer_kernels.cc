// Instantiates the reduction loops of reducer_kernels.inc once per instruction set: the
// portable baseline, AVX2 + F16C and AVX-512; reducer.cc picks one at run time.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "reducer_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define BRAID_REDUCER_X86 1
#else
#define BRAID_REDUCER_X86 0
#endif

// "The loop has no loop-carried dependencies": lets the compiler vectorise without checking
// whether dst overlaps a or b (it may only alias them exactly, which is harmless).
#if defined(__clang__)
#define BRAID_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define BRAID_IVDEP _Pragma("GCC ivdep")
#else
#define BRAID_IVDEP
#endif

namespace braid::reducer_internal {
namespace {

std::atomic<size_t> gStreamingBytes{kDefaultStreamingBytes};

// The operators. Integer sum and product wrap around (computed unsigned, so no UB for signed
// types). Floating min/max are the plain comparisons `a < b ? a : b` / `a > b ? a : b`, not
// IEEE minNum/maxNum: when a comparison is false (a NaN on either side, or -0 against +0) the
// result is b, so a NaN propagates only from b. This is exactly what x86 MINPS/MAXPS compute,
// so it vectorises to one instruction.
template <typename T>
struct OpSum {
  static T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    } else {
      return a + b;
    }
  }
};

template <typename T>
struct OpProd {
  static T apply(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
    } else {
      return a * b;
    }
  }
};

template <typename T>
struct OpMin {
  static T apply(T a, T b) { return a < b ? a : b; }
};

template <typename T>
struct OpMax {
  static T apply(T a, T b) { return a > b ? a : b; }
};

namespace generic {
#define BRAID_TARGET
#if BRAID_REDUCER_X86
#define BRAID_VECTOR_BITS 128
#else
#define BRAID_VECTOR_BITS 0
#endif
#include "reducer_kernels.inc"
#undef BRAID_VECTOR_BITS
#undef BRAID_TARGET
}  // namespace generic

#if BRAID_REDUCER_X86
namespace avx2 {
#define BRAID_TARGET __attribute__((target("avx2,f16c")))
#define BRAID_VECTOR_BITS 256
#include "reducer_kernels.inc"
#undef BRAID_VECTOR_BITS
#undef BRAID_TARGET
}  // namespace avx2

namespace avx512 {
#define BRAID_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,f16c")))
#define BRAID_VECTOR_BITS 512
#include "reducer_kernels.inc"
#undef BRAID_VECTOR_BITS
#undef BRAID_TARGET
}  // namespace avx512
#endif

}  // namespace

size_t streamingThreshold() { return gStreamingBytes.load(std::memory_order_relaxed); }
void setStreamingThreshold(size_t bytes) {
  gStreamingBytes.store(bytes, std::memory_order_relaxed);
}

const KernelTable* kernelTable(Isa isa) {
  switch (isa) {
    case Isa::kGeneric:
      return &generic::kTable;
#if BRAID_REDUCER_X86
    case Isa::kAvx2:
      return &avx2::kTable;
    case Isa::kAvx512:
      return &avx512::kTable;
#endif
    default:
      return nullptr;
  }
}

#if BRAID_REDUCER_X86
namespace {
// F16C through CPUID: clang's __builtin_cpu_supports does not know "f16c". Only asked
// together with AVX2 / AVX-512, whose checks cover the OS side (saved YMM/ZMM state).
bool hasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
}  // namespace
#endif

bool isaSupported(Isa isa) {
  if (kernelTable(isa) == nullptr) return false;
#if BRAID_REDUCER_X86
  __builtin_cpu_init();  // also checks that the OS saves the AVX / AVX-512 registers
  switch (isa) {
    case Isa::kGeneric:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && hasF16c();
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && hasF16c();
  }
  return false;
#else
  return isa == Isa::kGeneric;
#endif
}

}  // namespace braid::reducer_internal
