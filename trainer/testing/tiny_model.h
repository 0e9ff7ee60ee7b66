// TinyModel: a test-only stand-in for the GPT model behind the trainer's Model contract
// (model.h). logits = (wte[token] + wpe[position]) * head.weight + head.bias, cross-entropy
// loss; exact gradients, and a backward that reports tensors ready from the highest offset down
// like the real one. It lets the data-parallel driver be built and tested before (and
// independently of) the Transformer; tests reach it through makeTestModel().
#pragma once

#include <memory>

#include "model.h"

namespace braid::train::testing {

std::unique_ptr<Model> makeTinyModel(const ModelConfig& config, uint64_t seed);

}  // namespace braid::train::testing
