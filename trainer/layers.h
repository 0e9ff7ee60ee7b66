// The model's element-wise and row-wise layers, forward and backward: embeddings, LayerNorm,
// GELU, residual adds and the softmax cross-entropy loss. Each is parallel over rows (or over
// channels for parameter gradients) and reduces in a fixed order, so results do not depend on
// the number of threads. Backward functions say whether they overwrite (=) or add (+=).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "thread_pool.h"

namespace braid::train {

// out[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]
void encoderForward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B,
                    int T, int C, ThreadPool& pool);
// dwte[tokens[b, t], :] += dout[b, t, :]; dwpe[t, :] += dout[b, t, :]
void encoderBackward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B,
                     int T, int C, ThreadPool& pool);

// out = (inp - mean) * rstd * weight + bias per row of C; keeps mean and rstd per row.
void layerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int rows, int C, ThreadPool& pool);
// dinp += ..., dweight += ..., dbias += ...
void layerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int rows, int C, ThreadPool& pool);

// GELU, tanh approximation (as GPT-2).
void geluForward(float* out, const float* inp, size_t n, ThreadPool& pool);
// dinp = dout * gelu'(inp); dinp may be dout.
void geluBackward(float* dinp, const float* inp, const float* dout, size_t n, ThreadPool& pool);

// out = a + b
void addForward(float* out, const float* a, const float* b, size_t n, ThreadPool& pool);

// probs = softmax(logits) per row of V; returns the mean over rows of -log p[target].
float crossEntropyForward(float* probs, const float* logits, const int32_t* targets, int rows,
                          int V, ThreadPool& pool);
// dlogits = (probs - onehot(target)) * scale
void crossEntropyBackward(float* dlogits, const float* probs, const int32_t* targets, int rows,
                          int V, float scale, ThreadPool& pool);

// out[0, n) = softmax(scale * in[0, n)) (scale > 0; out may be in). Returns the sum of
// e^(scale * (in - max)) before normalising, and the max in *max.
float softmaxRow(float* out, const float* in, int n, float scale, float* max);

// e^x for x <= 0 to about 2 ulp (below -87, e^-87), written so that loops calling it vectorise:
// range reduction by powers of two and a degree-7 polynomial, no branches.
inline float expNonPositive(float x) {
  const float xc = std::max(x, -87.0f);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504f + magic) - magic;
  const float r = (xc - n * 0.693145752f) - n * 1.42860677e-6f;  // ln 2 split in two parts
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * scale;
}

}  // namespace braid::train
