// One 64-bit mixing step for hashing a few integers or bytes (collective fingerprints, the
// argument check of the GPU direct kernels, the keys of cached GPU launches): not cryptographic,
// only so that any differing field changes the result with overwhelming probability.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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

// The same over raw bytes, 8 at a time (the tail byte by byte).
inline uint64_t hashOfBytes(uint64_t seed, const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    seed = hashMix(seed, word);
  }
  for (; i < bytes; ++i) seed = hashMix(seed, p[i]);
  return seed;
}

}  // namespace braid
