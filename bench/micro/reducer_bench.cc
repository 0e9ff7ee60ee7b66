// Single-thread bandwidth of the CPU reduction kernels against memcpy, at 1 MiB (caches) and
// 256 MiB (memory). Bytes are counted the same way everywhere: the destination buffer's size
// per iteration. The release criterion is fp32 sum >= 80% of memcpy at 256 MiB.
//
//   braid-micro --benchmark_filter='Memcpy|Reduce/fp32/sum'
//
// Reduce/<type>/<op>: dst = a op b, three distinct buffers. ReduceInPlace: a = a op b (dst
// aliases a, as in the collectives). Divide: divideByRanks (the end of avg), in place.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "reducer.h"
#include "reducer_internal.h"

namespace braid {
namespace {

constexpr size_t kSizes[] = {size_t{1} << 20, size_t{256} << 20};

// A page-aligned buffer filled with `pattern` (every page touched before timing). The
// patterns are chosen so that no data type runs into subnormals or NaNs.
struct Buffer {
  explicit Buffer(size_t bytes, uint8_t pattern) : data(std::aligned_alloc(4096, bytes)) {
    std::memset(data, pattern, bytes);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data;
};

// 0x3C: fp32 ~0.0115, fp16 1.06, bf16 0.0115, fp64 ~1.6e-18; integers anything.
constexpr uint8_t kPatternA = 0x3C;
constexpr uint8_t kPatternB = 0x3B;

void setBytes(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

void BM_Memcpy(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  Buffer src(bytes, kPatternA);
  Buffer dst(bytes, 0);
  for (auto _ : state) {
    std::memcpy(dst.data, src.data, bytes);
    benchmark::ClobberMemory();
  }
  setBytes(state, bytes);
}

void BM_Reduce(benchmark::State& state, DataType type, ReduceOp op, bool inPlace) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const size_t count = bytes / dataTypeSize(type);
  const ReduceFn fn = reduceFunction(type, op);
  Buffer a(bytes, kPatternA);
  Buffer b(bytes, kPatternB);
  Buffer out(inPlace ? 4096 : bytes, 0);  // unused when in place
  void* dst = inPlace ? a.data : out.data;
  for (auto _ : state) {
    fn(dst, a.data, b.data, count);
    benchmark::ClobberMemory();
  }
  setBytes(state, bytes);
}

void BM_Divide(benchmark::State& state, DataType type) {
  const auto bytes = static_cast<size_t>(state.range(0));
  const size_t count = bytes / dataTypeSize(type);
  Buffer buf(bytes, kPatternA);
  int64_t run = 0;
  for (auto _ : state) {
    // The values shrink by 3 each time: refill (untimed) long before fp32 would reach
    // subnormals, which are slow on some CPUs.
    if (++run % 32 == 0) {
      state.PauseTiming();
      std::memset(buf.data, kPatternA, bytes);
      state.ResumeTiming();
    }
    divideByRanks(buf.data, count, type, 3);
    benchmark::ClobberMemory();
  }
  setBytes(state, bytes);
}

void applySizes(benchmark::internal::Benchmark* b) {
  for (size_t size : kSizes) b->Arg(static_cast<int64_t>(size));
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

int registerAll() {
  applySizes(benchmark::RegisterBenchmark("Memcpy", BM_Memcpy));
  for (int t = 0; t < kNumDataTypes; ++t) {
    const auto type = static_cast<DataType>(t);
    const std::string typeName(toString(type));
    for (int o = 0; o < 4; ++o) {  // avg is the sum kernel
      const auto op = static_cast<ReduceOp>(o);
      const std::string name = "Reduce/" + typeName + "/" + std::string(toString(op));
      applySizes(benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, type, op, false));
    }
    const std::string inPlace = "ReduceInPlace/" + typeName + "/sum";
    applySizes(
        benchmark::RegisterBenchmark(inPlace.c_str(), BM_Reduce, type, ReduceOp::kSum, true));
    const std::string divide = "Divide/" + typeName;
    applySizes(benchmark::RegisterBenchmark(divide.c_str(), BM_Divide, type));
  }
  benchmark::AddCustomContext("reducer_isa", std::string(toString(reducer_internal::bestIsa())));
  return 0;
}

const int registered = registerAll();

}  // namespace
}  // namespace braid
