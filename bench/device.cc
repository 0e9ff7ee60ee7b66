// The host-memory device of braid-bench (--device cpu): calls on the Buffers themselves, timed
// by the wall clock. Also the CUDA device's stand-in in builds without CUDA.
#include "device.h"

#include <chrono>

namespace braid::bench {
namespace {

using Clock = std::chrono::steady_clock;

class CpuDevice final : public Device {
 public:
  std::string name() const override { return "cpu"; }
  Result<Call> prepare(Buffers& buf, bool inPlace, bool fill, bool rsInPlaceAtStart) override {
    return buf.prepare(inPlace, fill, rsInPlaceAtStart);
  }
  Result<uint64_t> wrong(Buffers& buf, bool inPlace, bool rsInPlaceAtStart) override {
    return buf.wrong(inPlace, rsInPlaceAtStart);
  }
  Status time(Backend& b, const Call& call, int iterations, std::vector<double>* eachUs,
              double* totalUs, double* issueUs) override {
    eachUs->assign(static_cast<size_t>(iterations), 0.0);
    auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) {
      auto t0 = Clock::now();
      BRAID_RETURN_IF_ERROR(b.run(call));
      (*eachUs)[i] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    }
    *totalUs = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    *issueUs = *totalUs;
    return Status();
  }
  Status sync() override { return Status(); }
};

}  // namespace

std::unique_ptr<Device> makeCpuDevice() { return std::make_unique<CpuDevice>(); }

#if !BRAID_BENCH_CUDA
Result<std::unique_ptr<Device>> makeCudaDevice(size_t, bool) {
  return unsupported("this braid-bench was built without CUDA (install the CUDA toolkit, rebuild)");
}
#endif

}  // namespace braid::bench
