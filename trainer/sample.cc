// Temperature sampling with Model::logits (see sample.h).
#include "sample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace braid::train {

std::string generate(Model& model, const std::string& prompt, int count, float temperature,
                     std::mt19937_64& rng) {
  const int V = model.config().vocab, T = model.config().context;
  std::vector<int32_t> seq;
  for (unsigned char c : prompt) seq.push_back(c);
  if (seq.empty()) seq.push_back('\n');
  std::string out;
  std::vector<double> p(V);
  for (int i = 0; i < count; ++i) {
    int n = std::min<int>(static_cast<int>(seq.size()), T);
    std::vector<int32_t> window(seq.end() - n, seq.end());
    model.forward(window.data(), window.data(), 1, n);
    const float* logits = model.logits() + static_cast<size_t>(n - 1) * V;
    int next = 0;
    if (temperature <= 0) {
      next = static_cast<int>(std::max_element(logits, logits + V) - logits);
    } else {
      float top = *std::max_element(logits, logits + V);
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += p[v] = std::exp((logits[v] - top) / temperature);
      double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * sum;
      next = V - 1;
      for (int v = 0; v < V; ++v) {
        if (u < p[v]) {
          next = v;
          break;
        }
        u -= p[v];
      }
    }
    seq.push_back(next);
    out.push_back(static_cast<char>(next));
  }
  return out;
}

}  // namespace braid::train
