// Names and sizes of data types, reduction operators and collective kinds.
#include "braid/types.h"

#include <array>

namespace braid {
namespace {

struct TypeInfo {
  std::string_view name;
  size_t size;
  bool floating;
};
constexpr std::array<TypeInfo, kNumDataTypes> kTypes = {{
    {"int8", 1, false},
    {"uint8", 1, false},
    {"int32", 4, false},
    {"uint32", 4, false},
    {"int64", 8, false},
    {"uint64", 8, false},
    {"fp16", 2, true},
    {"bf16", 2, true},
    {"fp32", 4, true},
    {"fp64", 8, true},
}};
constexpr std::array<std::string_view, kNumReduceOps> kOps = {"sum", "prod", "min", "max", "avg"};

}  // namespace

bool isValid(DataType type) {
  int t = static_cast<int>(type);
  return t >= 0 && t < kNumDataTypes;
}
bool isValid(ReduceOp op) {
  int o = static_cast<int>(op);
  return o >= 0 && o < kNumReduceOps;
}
size_t dataTypeSize(DataType type) {
  return isValid(type) ? kTypes[static_cast<int>(type)].size : 0;
}
bool isFloatingPoint(DataType type) {
  return isValid(type) && kTypes[static_cast<int>(type)].floating;
}
std::string_view toString(DataType type) {
  return isValid(type) ? kTypes[static_cast<int>(type)].name : "invalid-dtype";
}
std::string_view toString(ReduceOp op) {
  return isValid(op) ? kOps[static_cast<int>(op)] : "invalid-op";
}

std::optional<DataType> parseDataType(std::string_view name) {
  for (int i = 0; i < kNumDataTypes; ++i) {
    if (kTypes[i].name == name) return static_cast<DataType>(i);
  }
  // Common aliases.
  if (name == "float" || name == "float32") return DataType::kFloat32;
  if (name == "double" || name == "float64") return DataType::kFloat64;
  if (name == "half" || name == "float16") return DataType::kFloat16;
  if (name == "bfloat16") return DataType::kBfloat16;
  if (name == "int") return DataType::kInt32;
  return std::nullopt;
}
std::optional<ReduceOp> parseReduceOp(std::string_view name) {
  for (int i = 0; i < kNumReduceOps; ++i) {
    if (kOps[i] == name) return static_cast<ReduceOp>(i);
  }
  return std::nullopt;
}

std::string_view toString(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce:
      return "allReduce";
    case CollectiveKind::kReduceScatter:
      return "reduceScatter";
    case CollectiveKind::kAllGather:
      return "allGather";
    case CollectiveKind::kBroadcast:
      return "broadcast";
    case CollectiveKind::kReduce:
      return "reduce";
    case CollectiveKind::kAllToAll:
      return "allToAll";
    case CollectiveKind::kBarrier:
      return "barrier";
    case CollectiveKind::kSend:
      return "send";
    case CollectiveKind::kRecv:
      return "recv";
  }
  return "unknown";
}

}  // namespace braid
