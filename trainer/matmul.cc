// Register-blocked matrix product with run-time dispatch. One generic body (rowsOf) is inlined
// into wrappers compiled for AVX-512, AVX2+FMA and baseline x86-64; the first call picks the
// widest the CPU supports. The body keeps an MR x NR block of c in vector registers while it
// streams over k, reading a directly (any strides) and b in NR-wide panels: straight from b when
// its rows are contiguous, else from a packed, zero-padded copy. The pool splits the rows of c.
//
// This file is compiled with -ffp-contract=fast so that acc += a * b becomes one FMA.
#include "matmul.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace braid::train {
namespace {

struct Panel {
  const float* data;  // element (k, j) of the panel at data[k * kStride + j]
  size_t kStride;
};

struct Job {
  int M, N, K;
  MatrixView a;
  const Panel* panels;
  int numPanels;
  float* c;
  size_t ldc;
  const float* bias;
  bool accumulate;
};

// Rows [mBegin, mEnd) of c for every panel; W floats per vector, NV vectors per panel row.
template <int MR, int NV, int W>
__attribute__((always_inline)) inline void rowsOf(const Job& job, int mBegin, int mEnd) {
  typedef float V __attribute__((vector_size(W * sizeof(float))));
  constexpr int NR = NV * W;
  for (int p = 0; p < job.numPanels; ++p) {
    const float* b = job.panels[p].data;
    const size_t bk = job.panels[p].kStride;
    const int n0 = p * NR;
    const int nr = std::min(NR, job.N - n0);
    for (int m0 = mBegin; m0 < mEnd; m0 += MR) {
      const int mr = std::min(MR, mEnd - m0);
      // Rows past the edge repeat row m0; their results are computed and dropped, so every
      // kept element goes through exactly the same arithmetic wherever its block lies.
      const float* arow[MR];
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        arow[i] = job.a.data + static_cast<size_t>(m0 + (i < mr ? i : 0)) * job.a.rowStride;
      }
      const size_t ak = job.a.colStride;
      V acc[MR][NV] = {};
      for (int k = 0; k < job.K; ++k) {
        V bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + k * bk + v * W, sizeof(V));
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const float s = arow[i][k * ak];
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[i][v] += bv[v] * s;
        }
      }
      for (int i = 0; i < mr; ++i) {
        float* crow = job.c + static_cast<size_t>(m0 + i) * job.ldc + n0;
        const float* brow = job.bias ? job.bias + n0 : nullptr;
        if (nr == NR) {
          for (int v = 0; v < NV; ++v) {
            V out = acc[i][v], x;
            if (brow) {
              std::memcpy(&x, brow + v * W, sizeof(V));
              out += x;
            }
            if (job.accumulate) {
              std::memcpy(&x, crow + v * W, sizeof(V));
              out += x;
            }
            std::memcpy(crow + v * W, &out, sizeof(V));
          }
        } else {
          float tmp[NR];
          std::memcpy(tmp, acc[i], sizeof(tmp));
          for (int j = 0; j < nr; ++j) {
            float out = tmp[j];
            if (brow) out += brow[j];
            if (job.accumulate) out += crow[j];
            crow[j] = out;
          }
        }
      }
    }
  }
}

// Each instruction set has a wide kernel (two vectors per row of the block) and a narrow one
// (one vector) for products at most one vector wide, such as attention's per-head products.
#define BRAID_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define BRAID_AVX2 __attribute__((target("avx2,fma")))
BRAID_AVX512 void wideAvx512(const Job& job, int b, int e) { rowsOf<8, 2, 16>(job, b, e); }
BRAID_AVX512 void narrowAvx512(const Job& job, int b, int e) { rowsOf<8, 1, 16>(job, b, e); }
BRAID_AVX2 void wideAvx2(const Job& job, int b, int e) { rowsOf<6, 2, 8>(job, b, e); }
BRAID_AVX2 void narrowAvx2(const Job& job, int b, int e) { rowsOf<6, 1, 8>(job, b, e); }
void wideGeneric(const Job& job, int b, int e) { rowsOf<4, 2, 4>(job, b, e); }
void narrowGeneric(const Job& job, int b, int e) { rowsOf<4, 1, 4>(job, b, e); }

struct Kernel {
  const char* name;
  int mr;
  int width;  // floats per vector: the narrow kernel's panel width, half the wide one's
  void (*wide)(const Job&, int, int);
  void (*narrow)(const Job&, int, int);
};

Kernel detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma")) {
    return Kernel{"avx512", 8, 16, wideAvx512, narrowAvx512};
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return Kernel{"avx2", 6, 8, wideAvx2, narrowAvx2};
  }
  return Kernel{"generic", 4, 4, wideGeneric, narrowGeneric};
}

Kernel& kernel() {
  static Kernel k = detect();
  return k;
}

// Products smaller than this many multiply-adds run on the calling thread only.
constexpr double kParallelWork = 1 << 16;

}  // namespace

const char* gemmKernelName() { return kernel().name; }

bool selectGemmKernel(const std::string& name) {
  const Kernel best = detect();
  const std::vector<Kernel> usable = {Kernel{"avx512", 8, 16, wideAvx512, narrowAvx512},
                                      Kernel{"avx2", 6, 8, wideAvx2, narrowAvx2},
                                      Kernel{"generic", 4, 4, wideGeneric, narrowGeneric}};
  bool supported = false;  // kernels up to the best the CPU has, in usable's order
  for (const Kernel& k : usable) {
    supported = supported || std::string(k.name) == best.name;
    if (supported && name == k.name) {
      kernel() = k;
      return true;
    }
  }
  return false;
}

void gemm(int M, int N, int K, MatrixView a, MatrixView b, float* c, size_t ldc, const float* bias,
          bool accumulate, ThreadPool* pool) {
  if (M <= 0 || N <= 0) return;
  const Kernel& ker = kernel();
  const bool narrow = N <= ker.width;
  const int nr = narrow ? ker.width : 2 * ker.width;
  void (*rows)(const Job&, int, int) = narrow ? ker.narrow : ker.wide;
  const int numPanels = (N + nr - 1) / nr;
  // Panels read straight from b where its rows are contiguous and the panel is full; the rest
  // (a transposed b, the ragged last panel) are packed and zero-padded.
  thread_local std::vector<float> packed;
  thread_local std::vector<Panel> panels;
  panels.assign(numPanels, Panel{nullptr, 0});
  const bool direct = b.colStride == 1;
  int packedPanels = 0;
  for (int p = 0; p < numPanels; ++p) {
    if (!(direct && (p + 1) * nr <= N)) ++packedPanels;
  }
  packed.resize(static_cast<size_t>(packedPanels) * std::max(K, 1) * nr);
  float* next = packed.data();
  for (int p = 0; p < numPanels; ++p) {
    const int n0 = p * nr;
    const int width = std::min(nr, N - n0);
    if (direct && width == nr) {
      panels[p] = Panel{b.data + n0, b.rowStride};
      continue;
    }
    for (int k = 0; k < K; ++k) {
      float* dst = next + static_cast<size_t>(k) * nr;
      const float* src = b.data + k * b.rowStride + n0 * b.colStride;
      for (int j = 0; j < width; ++j) dst[j] = src[j * b.colStride];
      for (int j = width; j < nr; ++j) dst[j] = 0.0f;
    }
    panels[p] = Panel{next, static_cast<size_t>(nr)};
    next += static_cast<size_t>(K) * nr;
  }
  const Job job{M, N, K, a, panels.data(), numPanels, c, ldc, bias, accumulate};
  const int blocks = (M + ker.mr - 1) / ker.mr;
  if (!pool || pool->size() == 1 || static_cast<double>(M) * N * K < kParallelWork) {
    rows(job, 0, M);
    return;
  }
  pool->parallelFor(blocks, pool->size(), [&](int64_t first, int64_t last) {
    rows(job, static_cast<int>(first) * ker.mr, std::min<int>(M, last * ker.mr));
  });
}

void linearForward(float* out, const float* inp, const float* weight, const float* bias, int rows,
                   int inDim, int outDim, ThreadPool& pool) {
  gemm(rows, outDim, inDim, MatrixView{inp, static_cast<size_t>(inDim), 1},
       MatrixView{weight, 1, static_cast<size_t>(inDim)}, out, outDim, bias, false, &pool);
}

void linearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int rows, int inDim, int outDim, ThreadPool& pool) {
  const size_t in = inDim, out = outDim;
  if (dinp) {
    gemm(rows, inDim, outDim, MatrixView{dout, out, 1}, MatrixView{weight, in, 1}, dinp, in,
         nullptr, false, &pool);
  }
  gemm(outDim, inDim, rows, MatrixView{dout, 1, out}, MatrixView{inp, in, 1}, dweight, in, nullptr,
       true, &pool);
  if (!dbias) return;
  // Column sums, each column summed over the rows in order by one thread.
  constexpr int kChunk = 64;
  const int chunks = (outDim + kChunk - 1) / kChunk;
  const int parts = static_cast<double>(rows) * outDim < kParallelWork ? 1 : pool.size();
  pool.parallelFor(chunks, parts, [&](int64_t first, int64_t last) {
    for (int ch = static_cast<int>(first); ch < last; ++ch) {
      const int o0 = ch * kChunk, o1 = std::min(outDim, o0 + kChunk);
      float* db = dbias + o0;
      for (int r = 0; r < rows; ++r) {
        const float* d = dout + r * out + o0;
#pragma omp simd
        for (int o = 0; o < o1 - o0; ++o) db[o] += d[o];
      }
    }
  });
}

}  // namespace braid::train
