// The GPT-2-style Transformer that braid-train trains: token + learned position embeddings,
// pre-LayerNorm blocks (causal multi-head attention, GELU MLP), a final LayerNorm and an output
// head tied to the token embedding. Forward and backward run on the CPU across `threads` cores.
//
// All parameters live in one flat float array (and all gradients in another of the same
// layout), so data parallelism can reduce contiguous buckets and ZeRO-1 can shard by range.
// Tensors are laid out in forward order, so backward finishes them roughly from the highest
// offset down; the tied token embedding (offset 0) is finished last.
//
// This header is the contract between the model (model.cc, backward.cc, ...) and the
// data-parallel driver (ddp.cc, zero.cc, train.cc): the driver sees only flat arrays, tensor
// ranges and the gradient-ready callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::train {

struct ModelConfig {
  int vocab = 256;    // byte-level tokenizer
  int context = 64;   // maximum sequence length T
  int layers = 2;
  int heads = 4;
  int width = 64;     // embedding channels C; must be divisible by heads
};

// Why a config cannot be built (width not divisible by heads, a size below 1, ...), or OK.
Status validate(const ModelConfig& config);

// One parameter tensor: a range of the flat parameter (and gradient) array.
struct ParamTensor {
  std::string name;  // e.g. "h0.attn.qkv.weight"
  size_t offset = 0; // first element in the flat arrays
  size_t size = 0;   // elements
  bool decay = true; // AdamW weight decay applies (false for biases and LayerNorm)
};

class Model {
 public:
  virtual ~Model() = default;

  // A model with parameters initialised GPT-2 style from `seed` (same seed → same bits);
  // nullptr when validate(config) fails. Results do not depend on `threads`.
  static std::unique_ptr<Model> create(const ModelConfig& config, uint64_t seed, int threads);

  virtual const ModelConfig& config() const = 0;
  virtual const std::vector<ParamTensor>& tensors() const = 0;
  virtual size_t numParams() const = 0;
  virtual float* params() = 0;
  virtual float* grads() = 0;

  // Mean cross-entropy over the B*T positions (tokens and targets are B*T values, row-major,
  // each in [0, vocab)). Keeps the activations backward needs. T <= context.
  // targets may be null (logits only, e.g. for sampling): returns 0 and backward has nothing to
  // differentiate. Returns NaN, computing nothing, when B, T or a token is out of range.
  virtual float forward(const int32_t* tokens, const int32_t* targets, int B, int T) = 0;
  // Logits of the last forward, B*T*vocab (for sampling).
  virtual const float* logits() const = 0;
  // Adds d(loss of the last forward * lossScale)/d(params) into grads(). gradReady(i) is called
  // as soon as tensor i's gradient is final for this backward (each tensor exactly once, from the
  // calling thread), so a driver can start reducing it while backward goes on.
  virtual void backward(float lossScale, const std::function<void(int tensor)>& gradReady) = 0;
  virtual void zeroGrad() = 0;
};

}  // namespace braid::train
