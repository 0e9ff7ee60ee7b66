// braid-test-worker: a rank program for the multi-process tests, launched by braid-run (or with
// a torchrun/Open MPI/Slurm-style environment). Modes:
//   check        every collective once on exact inputs, plus split; prints "rank R ok"
//   kill V K     large allReduces in a loop; rank V kills itself (SIGKILL) at iteration K;
//                the others ignore SIGTERM so they can report: "rank R error: <status>"
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "braid/communicator.h"
#include "exact_data.h"

using namespace braid;

namespace {

int fail(int rank, const Status& s) {
  std::printf("rank %d error: %s\n", rank, s.toString().c_str());
  std::fflush(stdout);
  return 3;
}

int check(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  const size_t count = 300001;
  std::vector<float> in(count), out(count), want(count);
  exact::fillInput(in.data(), count, DataType::kFloat32, ReduceOp::kSum, r, n);
  exact::fillReduced(want.data(), count, DataType::kFloat32, ReduceOp::kSum, n);
  Status s = comm.allReduce(in.data(), out.data(), count, DataType::kFloat32, ReduceOp::kSum);
  if (!s.isOk()) return fail(r, s);
  if (exact::countMismatches(out.data(), want.data(), count, DataType::kFloat32) != 0) {
    return fail(r, internalError("allReduce result is wrong"));
  }
  std::vector<int64_t> all(n);
  int64_t mine = r * 10;
  s = comm.allGather(&mine, all.data(), 1, DataType::kInt64);
  if (!s.isOk()) return fail(r, s);
  for (int i = 0; i < n; ++i) {
    if (all[i] != i * 10) return fail(r, internalError("allGather result is wrong"));
  }
  int64_t token = r == n - 1 ? 4242 : 0;
  s = comm.broadcast(&token, &token, 1, DataType::kInt64, n - 1);
  if (!s.isOk()) return fail(r, s);
  if (token != 4242) return fail(r, internalError("broadcast result is wrong"));
  auto sub = comm.split(r % 2, -r);
  if (!sub.isOk()) return fail(r, sub.status());
  int32_t one = 1, members = 0;
  s = (*sub)->allReduce(&one, &members, 1, DataType::kInt32, ReduceOp::kSum);
  if (!s.isOk()) return fail(r, s);
  if (members != (n + 1 - r % 2) / 2) return fail(r, internalError("split size is wrong"));
  s = comm.barrier();
  if (!s.isOk()) return fail(r, s);
  std::printf("rank %d ok transport=%s\n", r,
              n > 1 ? comm.transportTo((r + 1) % n).c_str() : "self");
  return 0;
}

int killTest(Communicator& comm, int victim, int atIteration) {
  signal(SIGTERM, SIG_IGN);  // stay alive to report what braid says
  const int r = comm.rank();
  std::vector<float> buf(1 << 20, 1.0f);
  for (int it = 0; it < 1000000; ++it) {
    if (r == victim && it == atIteration) raise(SIGKILL);
    Status s =
        comm.allReduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kMax);
    if (!s.isOk()) return fail(r, s);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "check";
  auto comm = Communicator::fromEnvironment();
  if (!comm.isOk()) {
    std::printf("init error: %s\n", comm.status().toString().c_str());
    return 2;
  }
  if (mode == "check") return check(**comm);
  if (mode == "kill" && argc == 4) return killTest(**comm, std::atoi(argv[2]), std::atoi(argv[3]));
  std::fprintf(stderr, "usage: braid-test-worker check | kill VICTIM ITERATION\n");
  return 2;
}
