// Test stand-in for Model::create until the Transformer (trainer/model.cc) exists: the build
// compiles this file only when trainer/model.cc is absent (trainer/CMakeLists.txt).
#include "model.h"
#include "testing/tiny_model.h"

namespace braid::train {

std::unique_ptr<Model> Model::create(const ModelConfig& config, uint64_t seed, int threads) {
  return testing::makeTinyModel(config, seed);
}

}  // namespace braid::train
