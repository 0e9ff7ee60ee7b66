// The GPU interface of a build without CUDA: no pointer is a device pointer, streams cannot be
// synchronized (a stream call with host buffers and a non-null stream is refused by the caller),
// and no DeviceComm exists.
#include "gpu.h"

#if !BRAID_HAVE_CUDA

namespace braid::gpu {

bool built() { return false; }
bool isDevicePointer(const void*) { return false; }
Status synchronize(Stream stream) {
  if (stream == nullptr) return Status();
  return unsupported("a stream was given, but this braid was built without CUDA");
}
bool isCapturing(Stream) { return false; }
Status copy(void*, const void*, size_t) { return unsupported("braid was built without CUDA"); }
Status copyAsync(void*, const void*, size_t, Stream) {
  return unsupported("braid was built without CUDA");
}
int chooseDevice(int) { return -1; }
Result<std::unique_ptr<DeviceComm>> createDeviceComm(const DeviceSetup&) {
  return unsupported("braid was built without CUDA");
}

}  // namespace braid::gpu

#endif  // !BRAID_HAVE_CUDA
