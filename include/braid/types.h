// Element types and reduction operators shared by the C++ and C APIs.
// Values are stable: the C API's braidDataType_t / braidRedOp_t use the same numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace braid {

// A CUDA stream (cudaStream_t) for GPU calls; the public headers stay CUDA-free. nullptr is the
// legacy default stream.
using Stream = void*;

enum class DataType : int {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kBfloat16 = 7,
  kFloat32 = 8,
  kFloat64 = 9,
};
inline constexpr int kNumDataTypes = 10;

enum class ReduceOp : int {
  kSum = 0,
  kProd = 1,
  kMin = 2,
  kMax = 3,
  kAvg = 4,  // sum, then divided by the number of ranks (integer types: truncating division)
};
inline constexpr int kNumReduceOps = 5;

// Size in bytes of one element; 0 for an invalid value.
size_t dataTypeSize(DataType type);
bool isValid(DataType type);
bool isValid(ReduceOp op);
bool isFloatingPoint(DataType type);

// Short names as used on command lines and in logs: "int8", "fp16", "bf16", "fp32", "sum", ...
std::string_view toString(DataType type);
std::string_view toString(ReduceOp op);
std::optional<DataType> parseDataType(std::string_view name);
std::optional<ReduceOp> parseReduceOp(std::string_view name);

// The kinds of operation a communicator runs; part of every collective's fingerprint.
enum class CollectiveKind : int {
  kAllReduce = 0,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kBarrier,
  kSend,
  kRecv,
};
std::string_view toString(CollectiveKind kind);

}  // namespace braid
