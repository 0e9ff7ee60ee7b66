// Text generation from the model being trained: temperature sampling, one token at a time,
// from a prompt, with a caller-owned seeded RNG (so samples are reproducible and resumable).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "model.h"

namespace braid::train {

// Generates `count` tokens after `prompt` (bytes as tokens; vocab must be 256) and returns
// them as text. temperature <= 0 picks the most likely token.
std::string generate(Model& model, const std::string& prompt, int count, float temperature,
                     std::mt19937_64& rng);

}  // namespace braid::train
