// Copies with non-temporal stores: for large outputs that will not be read again soon, writing
// past the cache saves the read-for-ownership of every destination line (a third of the memory
// traffic of a copy).
#pragma once

#include <cstddef>

namespace braid {

// memcpy semantics (no overlap); the stores bypass the cache where the CPU allows it.
void streamCopy(void* dst, const void* src, size_t bytes);

}  // namespace braid
