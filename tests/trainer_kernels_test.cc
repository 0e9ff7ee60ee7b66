// The model's building blocks: the run-time-dispatched matrix product against a double-precision
// product over ragged shapes, transposed views, bias and accumulation (and the same bits on 1 or
// 3 threads); linear layers; the vectorisable exponential; and the thread pool's hand-out.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "trainer/layers.h"
#include "trainer/matmul.h"
#include "trainer/rng.h"
#include "trainer/thread_pool.h"

namespace braid::train {
namespace {

std::vector<float> randomFloats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}

TEST(TrainerKernels, KernelIsDispatched) {
  const std::string name = gemmKernelName();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "generic") << name;
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    EXPECT_NE(name, "generic");
  }
  EXPECT_TRUE(selectGemmKernel("generic"));  // every x86-64 runs the baseline kernel
  EXPECT_FALSE(selectGemmKernel("neon"));
  EXPECT_TRUE(selectGemmKernel(name));
  EXPECT_EQ(gemmKernelName(), name);
}

// Every kernel this CPU can run, with the best one restored at the end.
std::vector<std::string> usableKernels() {
  const std::string best = gemmKernelName();
  std::vector<std::string> names;
  for (const char* k : {"avx512", "avx2", "generic"}) {
    if (selectGemmKernel(k)) names.push_back(k);
  }
  EXPECT_TRUE(selectGemmKernel(best));
  return names;
}

TEST(TrainerKernels, GemmMatchesDoubleProduct) {
  ThreadPool pool(3);
  const std::string best = gemmKernelName();
  for (const std::string& name : usableKernels()) {
    ASSERT_TRUE(selectGemmKernel(name));
    SCOPED_TRACE(name);
    for (int M : {1, 7, 13, 100}) {
      for (int N : {1, 5, 16, 33, 70}) {
        for (int K : {0, 1, 9, 64}) {
          for (int variant = 0; variant < 8; ++variant) {
            const bool transA = variant & 1, transB = variant & 2, accumulate = variant & 4;
            const bool bias = !accumulate && (M + N) % 2 == 0;
            auto a = randomFloats(size_t(M) * K, 1), b = randomFloats(size_t(K) * N, 2);
            auto bv = randomFloats(N, 3);
            const size_t ldc = N + 3;  // a row stride wider than the row
            auto c = randomFloats(size_t(M) * ldc, 4);
            const auto c0 = c;
            MatrixView av =
                transA ? MatrixView{a.data(), 1, size_t(M)} : MatrixView{a.data(), size_t(K), 1};
            MatrixView bw =
                transB ? MatrixView{b.data(), 1, size_t(K)} : MatrixView{b.data(), size_t(N), 1};
            gemm(M, N, K, av, bw, c.data(), ldc, bias ? bv.data() : nullptr, accumulate,
                 variant % 3 == 0 ? nullptr : &pool);
            for (int m = 0; m < M; ++m) {
              for (int n = 0; n < N + 3; ++n) {
                const float got = c[m * ldc + n];
                if (n >= N) {
                  ASSERT_EQ(got, c0[m * ldc + n]) << "wrote past the row";
                  continue;
                }
                double want = accumulate ? c0[m * ldc + n] : 0.0, size = std::fabs(want);
                if (bias) want += bv[n], size += std::fabs(bv[n]);
                for (int k = 0; k < K; ++k) {
                  const double x = av.data[m * av.rowStride + k * av.colStride];
                  const double y = bw.data[k * bw.rowStride + n * bw.colStride];
                  want += x * y;
                  size += std::fabs(x * y);
                }
                ASSERT_NEAR(got, want, 1e-6 * size + 1e-30)
                    << "M=" << M << " N=" << N << " K=" << K << " variant " << variant;
              }
            }
          }
        }
      }
    }
  }
  selectGemmKernel(best);
}

TEST(TrainerKernels, GemmBitsDoNotDependOnThreads) {
  const int M = 300, N = 70, K = 64;
  auto a = randomFloats(size_t(M) * K, 5), b = randomFloats(size_t(K) * N, 6);
  std::vector<float> c1(size_t(M) * N), c3(size_t(M) * N);
  ThreadPool one(1), three(3);
  gemm(M, N, K, {a.data(), size_t(K), 1}, {b.data(), 1, size_t(K)}, c1.data(), N, nullptr, false,
       &one);
  gemm(M, N, K, {a.data(), size_t(K), 1}, {b.data(), 1, size_t(K)}, c3.data(), N, nullptr, false,
       &three);
  EXPECT_EQ(0, std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)));
}

TEST(TrainerKernels, LinearLayerForwardAndBackward) {
  const int rows = 20, in = 12, out = 7;
  auto x = randomFloats(rows * in, 1), w = randomFloats(out * in, 2), bias = randomFloats(out, 3);
  auto dy = randomFloats(rows * out, 4);
  ThreadPool pool(2);
  std::vector<float> y(rows * out), dx(rows * in), dw(out * in, 1.0f), db(out, 1.0f);
  linearForward(y.data(), x.data(), w.data(), bias.data(), rows, in, out, pool);
  linearBackward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, in, out,
                 pool);
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double s = bias[o];
      for (int i = 0; i < in; ++i) s += double(x[r * in + i]) * w[o * in + i];
      EXPECT_NEAR(y[r * out + o], s, 1e-5);
    }
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int o = 0; o < out; ++o) s += double(dy[r * out + o]) * w[o * in + i];
      EXPECT_NEAR(dx[r * in + i], s, 1e-5);  // overwritten
    }
  }
  for (int o = 0; o < out; ++o) {
    double sb = 1.0;  // accumulated onto the 1.0 already there
    for (int r = 0; r < rows; ++r) sb += dy[r * out + o];
    EXPECT_NEAR(db[o], sb, 1e-5);
    for (int i = 0; i < in; ++i) {
      double s = 1.0;
      for (int r = 0; r < rows; ++r) s += double(dy[r * out + o]) * x[r * in + i];
      EXPECT_NEAR(dw[o * in + i], s, 1e-5);
    }
  }
}

TEST(TrainerKernels, ExpIsAccurate) {
  EXPECT_EQ(expNonPositive(0.0f), 1.0f);
  double worst = 0;
  for (int i = 0; i <= 1000000; ++i) {
    const float x = -87.0f * i / 1000000;
    const double want = std::exp(double(x));
    worst = std::max(worst, std::fabs(expNonPositive(x) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);  // about 2.5 float ulp
  EXPECT_LT(expNonPositive(-1000.0f), 1e-37f);
  EXPECT_GE(expNonPositive(-1000.0f), 0.0f);
}

TEST(TrainerKernels, PoolHandsOutEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 5, 1000}) {
      for (int parts : {1, 2, 3, 8}) {
        std::vector<int> hits(n, 0);
        std::mutex mu;
        std::set<std::thread::id> ids;
        pool.parallelFor(n, parts, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[i];
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << n << " " << parts;
        EXPECT_LE(ids.size(), static_cast<size_t>(std::min(threads, parts)));
      }
    }
  }
}

TEST(TrainerKernels, PoolSurvivesManyShortJobs) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int job = 0; job < 5000; ++job) {
    pool.parallelFor(3, 3, [&](int64_t b, int64_t e) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 15000);
}

}  // namespace
}  // namespace braid::train
