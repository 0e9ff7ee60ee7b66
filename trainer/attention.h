// Causal multi-head self-attention, forward and backward, parallel over (batch, head) pairs.
// Layouts: qkv is [B, T, 3C] (queries, keys, values, each C = H heads x C/H channels), out and
// dout are [B, T, C], att is [B, H, T, T] softmax probabilities (row t holds keys 0..t).
#pragma once

#include "thread_pool.h"

namespace braid::train {

void attentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int H,
                      ThreadPool& pool);

// dqkv = d(loss)/d(qkv) (overwritten) from dout and the forward's qkv and att.
void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B,
                       int T, int C, int H, ThreadPool& pool);

}  // namespace braid::train
