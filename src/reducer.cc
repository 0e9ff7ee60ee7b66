// The reducer API: picks the kernels of the widest instruction set the CPU supports (the
// kernels themselves are in reducer_kernels.inc) and exposes the fp16/bf16 conversions.
#include "reducer.h"

#include "reducer_internal.h"

namespace braid {
namespace reducer_internal {

std::string_view toString(Isa isa) {
  switch (isa) {
    case Isa::kGeneric:
      return "generic";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

Isa bestIsa() {
  static const Isa best = [] {
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
      if (isaSupported(isa)) return isa;
    }
    return Isa::kGeneric;
  }();
  return best;
}

ReduceFn reduceFunctionFor(DataType type, ReduceOp op, Isa isa) {
  if (!isValid(type) || !isValid(op) || !isaSupported(isa)) return nullptr;
  const int column = op == ReduceOp::kAvg ? static_cast<int>(ReduceOp::kSum) : static_cast<int>(op);
  return (*kernelTable(isa))[static_cast<int>(type)].reduce[column];
}

DivideFn divideFunctionFor(DataType type, Isa isa) {
  if (!isValid(type) || !isaSupported(isa)) return nullptr;
  return (*kernelTable(isa))[static_cast<int>(type)].divide;
}

namespace {

const KernelTable& bestTable() {
  static const KernelTable* table = kernelTable(bestIsa());
  return *table;
}

}  // namespace
}  // namespace reducer_internal

ReduceFn reduceFunction(DataType type, ReduceOp op) {
  using reducer_internal::bestTable;
  if (!isValid(type) || !isValid(op)) return nullptr;
  const int column = op == ReduceOp::kAvg ? static_cast<int>(ReduceOp::kSum) : static_cast<int>(op);
  return bestTable()[static_cast<int>(type)].reduce[column];
}

void divideByRanks(void* buf, size_t count, DataType type, int ranks) {
  if (!isValid(type) || ranks <= 1 || count == 0) return;
  reducer_internal::bestTable()[static_cast<int>(type)].divide(buf, count, ranks);
}

float halfToFloat(uint16_t h) { return reducer_internal::halfToFloatScalar(h); }
uint16_t floatToHalf(float f) { return reducer_internal::floatToHalfScalar(f); }
float bf16ToFloat(uint16_t h) { return reducer_internal::bf16ToFloatScalar(h); }
uint16_t floatToBf16(float f) { return reducer_internal::floatToBf16Scalar(f); }

}  // namespace braid
