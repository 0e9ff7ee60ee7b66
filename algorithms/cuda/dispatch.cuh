// Maps a run-time (DataType, ReduceOp) onto the kernel template instance: calls
// f(T{}, Op{}) with T the element type and Op the operator (kAvg sums; the kernel divides).
#pragma once

#include <cuda_runtime.h>

#include <type_traits>

#include "braid/types.h"
#include "cuda/primitives.cuh"

namespace braid::cuda {

// The kernels' avgRanks argument: kAvg divides the sum by the ranks; 0 = no division.
inline int avgRanksOf(const PeerMemory& m, ReduceOp op) {
  return op == ReduceOp::kAvg ? m.size : 0;
}

template <typename T, typename F>
cudaError_t withOp(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return f(T{}, OpSum{});
    case ReduceOp::kProd:
      return f(T{}, OpProd{});
    case ReduceOp::kMin:
      return f(T{}, OpMin{});
    case ReduceOp::kMax:
      return f(T{}, OpMax{});
  }
  return cudaErrorInvalidValue;
}

// Calls f(std::integral_constant<int, R>{}) with R the rank count a kernel takes at compile time
// (its kRanks): 2 on 2 GPUs, where the loops over ranks unroll and the lists of peers stay in
// registers (push_reduce.cu has the numbers), else 0: the kernel reads m.size.
template <typename F>
cudaError_t withRanks(const PeerMemory& m, F&& f) {
  if (m.size == 2) return f(std::integral_constant<int, 2>{});
  return f(std::integral_constant<int, 0>{});
}

template <typename F>
cudaError_t withTypeAndOp(DataType type, ReduceOp op, F&& f) {
  switch (type) {
    case DataType::kInt8:
      return withOp<int8_t>(op, f);
    case DataType::kUint8:
      return withOp<uint8_t>(op, f);
    case DataType::kInt32:
      return withOp<int32_t>(op, f);
    case DataType::kUint32:
      return withOp<uint32_t>(op, f);
    case DataType::kInt64:
      return withOp<int64_t>(op, f);
    case DataType::kUint64:
      return withOp<uint64_t>(op, f);
    case DataType::kFloat16:
      return withOp<__half>(op, f);
    case DataType::kBfloat16:
      return withOp<__nv_bfloat16>(op, f);
    case DataType::kFloat32:
      return withOp<float>(op, f);
    case DataType::kFloat64:
      return withOp<double>(op, f);
  }
  return cudaErrorInvalidValue;
}

}  // namespace braid::cuda
