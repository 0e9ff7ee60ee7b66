// Exact-in-any-order inputs and expected results for tests and braid-bench.
#include "exact_data.h"

#include <cmath>
#include <cstring>

#include "reducer.h"

namespace braid::exact {
namespace {

bool isSigned(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64 ||
         isFloatingPoint(t);
}

}  // namespace

double input(DataType type, ReduceOp op, int rank, int ranks, size_t index) {
  const uint64_t i = index, r = static_cast<uint64_t>(rank);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: {
      // |sum| <= 3 * ranks: exact in int8 for <= 42 ranks, in fp16/bf16 always.
      int64_t v = static_cast<int64_t>((r * 3 + i * 5 + (i >> 7)) % 7);
      return isSigned(type) ? static_cast<double>(v - 3) : static_cast<double>(v % 4);
    }
    case ReduceOp::kProd: {
      // Each element: 2 on at most one rank in 8 (so at most 2^8 over 64 ranks... kept <= 4 by
      // the modulus below), -1 on some ranks for signed types, 1 elsewhere.
      if ((i + r * 5) % 23 == 0 && r % 8 < 2) return 2.0;
      if (isSigned(type) && (i * 7 + r) % 5 == 0) return -1.0;
      return 1.0;
    }
    case ReduceOp::kMin:
    case ReduceOp::kMax: {
      int64_t v = static_cast<int64_t>((i * 13 + r * 7 + (i >> 5)) % 17);
      return isSigned(type) ? static_cast<double>(v - 8) : static_cast<double>(v);
    }
  }
  (void)ranks;
  return 0.0;
}

void store(void* buf, size_t i, DataType type, double v) {
  switch (type) {
    case DataType::kInt8:
      static_cast<int8_t*>(buf)[i] = static_cast<int8_t>(v);
      break;
    case DataType::kUint8:
      static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(v);
      break;
    case DataType::kInt32:
      static_cast<int32_t*>(buf)[i] = static_cast<int32_t>(v);
      break;
    case DataType::kUint32:
      static_cast<uint32_t*>(buf)[i] = static_cast<uint32_t>(v);
      break;
    case DataType::kInt64:
      static_cast<int64_t*>(buf)[i] = static_cast<int64_t>(v);
      break;
    case DataType::kUint64:
      static_cast<uint64_t*>(buf)[i] = static_cast<uint64_t>(v);
      break;
    case DataType::kFloat16:
      static_cast<uint16_t*>(buf)[i] = floatToHalf(static_cast<float>(v));
      break;
    case DataType::kBfloat16:
      static_cast<uint16_t*>(buf)[i] = floatToBf16(static_cast<float>(v));
      break;
    case DataType::kFloat32:
      static_cast<float*>(buf)[i] = static_cast<float>(v);
      break;
    case DataType::kFloat64:
      static_cast<double*>(buf)[i] = v;
      break;
  }
}

double load(const void* buf, size_t i, DataType type) {
  switch (type) {
    case DataType::kInt8:
      return static_cast<const int8_t*>(buf)[i];
    case DataType::kUint8:
      return static_cast<const uint8_t*>(buf)[i];
    case DataType::kInt32:
      return static_cast<const int32_t*>(buf)[i];
    case DataType::kUint32:
      return static_cast<const uint32_t*>(buf)[i];
    case DataType::kInt64:
      return static_cast<double>(static_cast<const int64_t*>(buf)[i]);
    case DataType::kUint64:
      return static_cast<double>(static_cast<const uint64_t*>(buf)[i]);
    case DataType::kFloat16:
      return halfToFloat(static_cast<const uint16_t*>(buf)[i]);
    case DataType::kBfloat16:
      return bf16ToFloat(static_cast<const uint16_t*>(buf)[i]);
    case DataType::kFloat32:
      return static_cast<const float*>(buf)[i];
    case DataType::kFloat64:
      return static_cast<const double*>(buf)[i];
  }
  return 0.0;
}

void fillInput(void* buf, size_t count, DataType type, ReduceOp op, int rank, int ranks,
               size_t first) {
  for (size_t i = 0; i < count; ++i) store(buf, i, type, input(type, op, rank, ranks, first + i));
}

void fillReduced(void* buf, size_t count, DataType type, ReduceOp op, int ranks, size_t first) {
  for (size_t i = 0; i < count; ++i) {
    double acc = input(type, op, 0, ranks, first + i);
    for (int r = 1; r < ranks; ++r) {
      double v = input(type, op, r, ranks, first + i);
      switch (op) {
        case ReduceOp::kSum:
        case ReduceOp::kAvg:
          acc += v;
          break;
        case ReduceOp::kProd:
          acc *= v;
          break;
        case ReduceOp::kMin:
          acc = v < acc ? v : acc;
          break;
        case ReduceOp::kMax:
          acc = v > acc ? v : acc;
          break;
      }
    }
    store(buf, i, type, acc);
  }
  // kAvg: the library divides the stored sum in place; do exactly the same.
  if (op == ReduceOp::kAvg) divideByRanks(buf, count, type, ranks);
}

size_t countMismatches(const void* got, const void* expected, size_t count, DataType type) {
  const size_t es = dataTypeSize(type);
  const auto* g = static_cast<const uint8_t*>(got);
  const auto* e = static_cast<const uint8_t*>(expected);
  if (std::memcmp(g, e, count * es) == 0) return 0;
  size_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += std::memcmp(g + i * es, e + i * es, es) != 0;
  return wrong;
}

}  // namespace braid::exact
