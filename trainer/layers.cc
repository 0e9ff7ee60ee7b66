// Embeddings, LayerNorm, GELU, residual adds and softmax cross-entropy (see layers.h). Rows are
// independent and split across threads; parameter gradients that sum over rows are split by
// channel instead, each channel summed over the rows in order by one thread.
#include "layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace braid::train {
namespace {

// Element-wise passes shorter than this stay on the calling thread.
constexpr size_t kParallelElements = 1 << 15;

int partsFor(size_t elements, ThreadPool& pool) {
  return elements < kParallelElements ? 1 : pool.size();
}

// Runs body(i) for i in [0, n) on `parts` threads, each taking a contiguous range.
template <typename F>
void forEach(ThreadPool& pool, int64_t n, int parts, F&& body) {
  pool.parallelFor(n, parts, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) body(i);
  });
}

constexpr float kLayerNormEps = 1e-5f;
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;

// tanh through e^(-2|u|), so that only non-positive exponents occur.
inline float tanhFast(float u) {
  const float e = expNonPositive(-2.0f * std::fabs(u));
  return std::copysign((1.0f - e) / (1.0f + e), u);
}

}  // namespace

// Loops built on the exponential's polynomial — GELU and the softmaxes, most of a step's
// element-wise work — are compiled for AVX-512, AVX2 and baseline x86-64, picked at load time.
#define BRAID_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

BRAID_VECTOR_CLONES float softmaxRow(float* out, const float* in, int n, float scale, float* max) {
  float mx = in[0];
#pragma omp simd reduction(max : mx)
  for (int i = 0; i < n; ++i) mx = in[i] > mx ? in[i] : mx;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i) {
    out[i] = expNonPositive((in[i] - mx) * scale);
    sum += out[i];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int i = 0; i < n; ++i) out[i] *= inv;
  *max = mx;
  return sum;
}

void encoderForward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B,
                    int T, int C, ThreadPool& pool) {
  const int rows = B * T;
  forEach(pool, rows, partsFor(size_t(rows) * C, pool), [&](int64_t r) {
    const float* te = wte + static_cast<size_t>(tokens[r]) * C;
    const float* pe = wpe + static_cast<size_t>(r % T) * C;
    float* o = out + static_cast<size_t>(r) * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = te[c] + pe[c];
  });
}

void encoderBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B,
                     int T, int C, ThreadPool& pool) {
  // Split by channel: a token's row may appear at many positions, and each of its channels
  // must be summed in position order by one thread.
  constexpr int kChunk = 16;
  const int chunks = (C + kChunk - 1) / kChunk;
  forEach(pool, chunks, partsFor(size_t(B) * T * C, pool), [&](int64_t ch) {
    const int c0 = static_cast<int>(ch) * kChunk, c1 = std::min(C, c0 + kChunk);
    for (int r = 0; r < B * T; ++r) {
      const float* d = dout + static_cast<size_t>(r) * C;
      float* te = dwte + static_cast<size_t>(tokens[r]) * C;
      float* pe = dwpe + static_cast<size_t>(r % T) * C;
#pragma omp simd
      for (int c = c0; c < c1; ++c) {
        te[c] += d[c];
        pe[c] += d[c];
      }
    }
  });
}

void layerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int rows, int C, ThreadPool& pool) {
  forEach(pool, rows, partsFor(size_t(rows) * C, pool), [&](int64_t r) {
    const float* x = inp + static_cast<size_t>(r) * C;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < C; ++c) sum += x[c];
    const float m = sum / C;
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    const float s = 1.0f / std::sqrt(var / C + kLayerNormEps);
    float* o = out + static_cast<size_t>(r) * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = s;
  });
}

void layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int rows, int C, ThreadPool& pool) {
  const int parts = partsFor(size_t(rows) * C, pool);
  forEach(pool, rows, parts, [&](int64_t r) {
    const float* x = inp + static_cast<size_t>(r) * C;
    const float* d = dout + static_cast<size_t>(r) * C;
    const float* w = weight;
    const float m = mean[r], s = rstd[r];
    float dsum = 0.0f, dxsum = 0.0f;  // sums of dnorm and dnorm * xhat
#pragma omp simd reduction(+ : dsum, dxsum)
    for (int c = 0; c < C; ++c) {
      const float dn = d[c] * w[c];
      dsum += dn;
      dxsum += dn * (x[c] - m) * s;
    }
    const float dmean = dsum / C, dxmean = dxsum / C;
    float* di = dinp + static_cast<size_t>(r) * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      di[c] += (d[c] * w[c] - dmean - xhat * dxmean) * s;
    }
  });
  constexpr int kChunk = 16;
  const int chunks = (C + kChunk - 1) / kChunk;
  forEach(pool, chunks, parts, [&](int64_t ch) {
    const int c0 = static_cast<int>(ch) * kChunk, c1 = std::min(C, c0 + kChunk);
    for (int r = 0; r < rows; ++r) {
      const float* x = inp + static_cast<size_t>(r) * C;
      const float* d = dout + static_cast<size_t>(r) * C;
      const float m = mean[r], s = rstd[r];
#pragma omp simd
      for (int c = c0; c < c1; ++c) {
        dweight[c] += d[c] * ((x[c] - m) * s);
        dbias[c] += d[c];
      }
    }
  });
}

// GELU over [begin, end) (see BRAID_VECTOR_CLONES).
BRAID_VECTOR_CLONES void geluRange(float* out, const float* inp, int64_t begin, int64_t end) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanhFast(kGeluScale * (x + kGeluCubic * x * x * x)));
  }
}

BRAID_VECTOR_CLONES void geluBackwardRange(float* dinp, const float* inp, const float* dout,
                                           int64_t begin, int64_t end) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float x = inp[i];
    const float t = tanhFast(kGeluScale * (x + kGeluCubic * x * x * x));
    const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
    dinp[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
  }
}

void geluForward(float* out, const float* inp, size_t n, ThreadPool& pool) {
  pool.parallelFor(static_cast<int64_t>(n), partsFor(n, pool),
                   [&](int64_t begin, int64_t end) { geluRange(out, inp, begin, end); });
}

void geluBackward(float* dinp, const float* inp, const float* dout, size_t n, ThreadPool& pool) {
  pool.parallelFor(static_cast<int64_t>(n), partsFor(n, pool), [&](int64_t begin, int64_t end) {
    geluBackwardRange(dinp, inp, dout, begin, end);
  });
}

void addForward(float* out, const float* a, const float* b, size_t n, ThreadPool& pool) {
  pool.parallelFor(static_cast<int64_t>(n), partsFor(n, pool), [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) out[i] = a[i] + b[i];
  });
}

float crossEntropyForward(float* probs, const float* logits, const int32_t* targets, int rows,
                          int V, ThreadPool& pool) {
  std::vector<double> losses(rows);
  forEach(pool, rows, partsFor(size_t(rows) * V, pool), [&](int64_t r) {
    const float* l = logits + static_cast<size_t>(r) * V;
    float mx;
    const float sum = softmaxRow(probs + static_cast<size_t>(r) * V, l, V, 1.0f, &mx);
    losses[r] = std::log(static_cast<double>(sum)) - (l[targets[r]] - mx);
  });
  double total = 0.0;
  for (double x : losses) total += x;
  return static_cast<float>(total / rows);
}

void crossEntropyBackward(float* dlogits, const float* probs, const int32_t* targets, int rows,
                          int V, float scale, ThreadPool& pool) {
  forEach(pool, rows, partsFor(size_t(rows) * V, pool), [&](int64_t r) {
    const float* p = probs + static_cast<size_t>(r) * V;
    float* d = dlogits + static_cast<size_t>(r) * V;
#pragma omp simd
    for (int v = 0; v < V; ++v) d[v] = p[v] * scale;
    d[targets[r]] = (p[targets[r]] - 1.0f) * scale;
  });
}

}  // namespace braid::train
