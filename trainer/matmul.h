// Matrix products for the model's linear layers (and the tied output head): a register-blocked
// kernel chosen at run time for the CPU's vector width (AVX-512, AVX2+FMA or baseline x86-64),
// so one binary runs everywhere and uses what the machine has.
//
// Every output element is accumulated by one thread in a fixed order over k, so results do not
// depend on the number of threads.
#pragma once

#include <cstddef>
#include <string>

#include "thread_pool.h"

namespace braid::train {

// A read-only matrix whose element (row, col) is data[row * rowStride + col * colStride]:
// transposes are views, never copies.
struct MatrixView {
  const float* data;
  size_t rowStride;
  size_t colStride;
};

// c[M, N] (ldc = row stride) = a[M, K] · b[K, N] (+ bias[N] when not null) (+ c if accumulate).
// Runs on the pool's threads, or only on the calling thread when pool is null.
void gemm(int M, int N, int K, MatrixView a, MatrixView b, float* c, size_t ldc, const float* bias,
          bool accumulate, ThreadPool* pool);

// out[rows, outDim] = inp[rows, inDim] · weight[outDim, inDim]^T + bias (bias may be null).
void linearForward(float* out, const float* inp, const float* weight, const float* bias, int rows,
                   int inDim, int outDim, ThreadPool& pool);

// Given dout = d(loss)/d(out): dinp = dout · weight (overwritten; skipped when null),
// dweight += dout^T · inp, dbias += column sums of dout (skipped when null).
void linearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int rows, int inDim, int outDim, ThreadPool& pool);

// The kernel in use: "avx512", "avx2" or "generic" (for logs and tests).
const char* gemmKernelName();
// Switches to a narrower kernel than the CPU's best, for tests; false if the CPU lacks it.
// Not while products run.
bool selectGemmKernel(const std::string& name);

}  // namespace braid::train
