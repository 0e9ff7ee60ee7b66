// The trainer's random numbers: a small, fully specified generator (SplitMix64) and a normal
// sampler built on it, so initialisation and shuffles give the same bits on every platform and
// standard library (std::normal_distribution and std::shuffle are implementation-defined).
#pragma once

#include <cmath>
#include <cstdint>

namespace braid::train {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0), by rejection so that every value is equally likely.
  uint64_t below(uint64_t n) {
    uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);
    uint64_t x;
    do {
      x = next();
    } while (x >= limit);
    return x % n;
  }
  // Standard normal (Box-Muller; one value per call keeps the state easy to checkpoint).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t state() const { return state_; }
  void setState(uint64_t state) { state_ = state; }

 private:
  uint64_t state_;
};

// Mixes two values into one seed (e.g. a run seed and an epoch number).
inline uint64_t mixSeed(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull));
  return r.next();
}

}  // namespace braid::train
