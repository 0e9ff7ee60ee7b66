// One 64-bit mixing step for hashing a few integers (collective fingerprints, the argument check
// of the GPU direct kernels): not cryptographic, only so that any differing field changes the
// result with overwhelming probability.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace braid {

inline uint64_t hashMix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

inline uint64_t hashOfValues(uint64_t seed, std::initializer_list<uint64_t> values) {
  for (uint64_t v : values) seed = hashMix(seed, v);
  return seed;
}

}  // namespace braid
