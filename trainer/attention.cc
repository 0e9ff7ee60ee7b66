// Causal multi-head attention (see attention.h). Each (batch, head) pair is independent and owns
// disjoint slices of out / dqkv, so the pairs are shared out among threads. Within a pair the
// products are T x T x (C/H) matrix products on the calling thread through gemm: computing the
// masked upper triangle too (as zeros) costs 2x the arithmetic but runs on the vector kernel,
// several times faster than short dot products over a head's 16 channels.
#include "attention.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "layers.h"
#include "matmul.h"

namespace braid::train {
namespace {

int partsFor(int pairs, int T, ThreadPool& pool) {
  // Below ~16k multiply-adds per call the thread hand-off costs more than it saves.
  return static_cast<double>(pairs) * T * T < (1 << 14) ? 1 : pool.size();
}

}  // namespace

void attentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int H,
                      ThreadPool& pool) {
  const int hs = C / H;
  const size_t C3 = 3 * static_cast<size_t>(C), TT = static_cast<size_t>(T) * T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  pool.parallelFor(B * H, partsFor(B * H, T, pool), [&](int64_t first, int64_t last) {
    for (int64_t bh = first; bh < last; ++bh) {
      const int b = static_cast<int>(bh / H), h = static_cast<int>(bh % H);
      const float* q = qkv + static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* p = att + bh * TT;
      // Scores q · k for every (t, t2); row t keeps t2 <= t.
      gemm(T, T, hs, MatrixView{q, C3, 1}, MatrixView{k, 1, C3}, p, T, nullptr, false, nullptr);
      for (int t = 0; t < T; ++t) {
        float* row = p + static_cast<size_t>(t) * T;
        float mx;
        softmaxRow(row, row, t + 1, scale, &mx);
        for (int t2 = t + 1; t2 < T; ++t2) row[t2] = 0.0f;
      }
      float* o = out + static_cast<size_t>(b) * T * C + static_cast<size_t>(h) * hs;
      gemm(T, hs, T, MatrixView{p, static_cast<size_t>(T), 1}, MatrixView{v, C3, 1}, o, C, nullptr,
           false, nullptr);
    }
  });
}

void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B,
                       int T, int C, int H, ThreadPool& pool) {
  const int hs = C / H;
  const size_t C3 = 3 * static_cast<size_t>(C), TT = static_cast<size_t>(T) * T;
  const size_t uT = static_cast<size_t>(T);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  pool.parallelFor(B * H, partsFor(B * H, T, pool), [&](int64_t first, int64_t last) {
    std::vector<float> ds(TT);  // d(loss)/d(probabilities), then d(loss)/d(scores)
    for (int64_t bh = first; bh < last; ++bh) {
      const int b = static_cast<int>(bh / H), h = static_cast<int>(bh % H);
      const size_t headOffset = static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      const float* q = qkv + headOffset;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* dq = dqkv + headOffset;
      float* dk = dq + C;
      float* dv = dq + 2 * C;
      const float* p = att + bh * TT;
      const float* dO = dout + static_cast<size_t>(b) * T * C + static_cast<size_t>(h) * hs;
      // out = p · v
      gemm(T, hs, T, MatrixView{p, 1, uT}, MatrixView{dO, static_cast<size_t>(C), 1}, dv, C3,
           nullptr, false, nullptr);
      gemm(T, T, hs, MatrixView{dO, static_cast<size_t>(C), 1}, MatrixView{v, 1, C3}, ds.data(), T,
           nullptr, false, nullptr);
      // Softmax backward (probabilities past t are 0, so their entries come out 0), with the
      // score scale folded in.
      for (int t = 0; t < T; ++t) {
        const float* pr = p + static_cast<size_t>(t) * T;
        float* d = ds.data() + static_cast<size_t>(t) * T;
        float weighted = 0.0f;
#pragma omp simd reduction(+ : weighted)
        for (int t2 = 0; t2 < T; ++t2) weighted += pr[t2] * d[t2];
#pragma omp simd
        for (int t2 = 0; t2 < T; ++t2) d[t2] = pr[t2] * (d[t2] - weighted) * scale;
      }
      // scores = q · k^T
      gemm(T, hs, T, MatrixView{ds.data(), uT, 1}, MatrixView{k, C3, 1}, dq, C3, nullptr, false,
           nullptr);
      gemm(T, hs, T, MatrixView{ds.data(), 1, uT}, MatrixView{q, C3, 1}, dk, C3, nullptr, false,
           nullptr);
    }
  });
}

}  // namespace braid::train
