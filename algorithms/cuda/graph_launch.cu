// The cache of one-node graphs behind cuda::launch (graph_launch.cuh): process-wide, at most
// kGraphs graphs (least recently used evicted), never destroyed at exit (the CUDA context may be
// gone by then).
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/graph_launch.cuh"
#include "params.h"
#include "util/hash.h"

namespace braid::cuda {
namespace {

constexpr size_t kGraphs = 256;
constexpr size_t kSeen = 4096;  // launches seen once, remembered until this many

struct Graph {
  std::vector<unsigned char> key;
  cudaGraphExec_t exec = nullptr;
  std::list<uint64_t>::iterator use;  // in Cache::uses, most recent first
};

struct Cache {
  std::mutex mu;
  std::unordered_map<uint64_t, Graph> graphs;  // by hash of the whole key
  std::list<uint64_t> uses;
  std::unordered_map<uint64_t, std::vector<unsigned char>> seenOnce;
};

Cache& cache() {
  static Cache* c = new Cache;  // deliberately never destroyed
  return *c;
}

cudaError_t instantiate(const void* kernel, dim3 grid, dim3 block, void** args,
                        cudaGraphExec_t* exec) {
  cudaGraph_t graph = nullptr;
  cudaError_t e = cudaGraphCreate(&graph, 0);
  if (e != cudaSuccess) return e;
  cudaKernelNodeParams p{};
  p.func = const_cast<void*>(kernel);
  p.gridDim = grid;
  p.blockDim = block;
  p.kernelParams = args;
  cudaGraphNode_t node = nullptr;
  e = cudaGraphAddKernelNode(&node, graph, nullptr, 0, &p);
  if (e == cudaSuccess) e = cudaGraphInstantiate(exec, graph, 0);
  cudaGraphDestroy(graph);
  return e;
}

}  // namespace

cudaError_t launchThroughGraph(const void* kernel, dim3 grid, dim3 block, void** args,
                               const unsigned char* key, size_t keyBytes, cudaStream_t stream) {
  auto plain = [&] { return cudaLaunchKernel(kernel, grid, block, args, 0, stream); };
  if (!params().gpuGraphLaunch) return plain();
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &capture) != cudaSuccess ||
      capture != cudaStreamCaptureStatusNone) {
    return plain();
  }
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return plain();
  // The whole key: device, kernel, shape, then the argument bytes.
  const uint64_t head[] = {static_cast<uint64_t>(device),
                           reinterpret_cast<uintptr_t>(kernel),
                           grid.x,
                           grid.y,
                           grid.z,
                           block.x,
                           block.y,
                           block.z};
  const uint64_t h = hashOfBytes(hashOfBytes(0, head, sizeof(head)), key, keyBytes);
  // Stored keys are head then argument bytes; compared in place (no copy on a hit).
  auto same = [&](const std::vector<unsigned char>& stored) {
    return stored.size() == sizeof(head) + keyBytes &&
           std::memcmp(stored.data(), head, sizeof(head)) == 0 &&
           std::memcmp(stored.data() + sizeof(head), key, keyBytes) == 0;
  };

  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.graphs.find(h);
  if (it != c.graphs.end() && same(it->second.key)) {
    c.uses.splice(c.uses.begin(), c.uses, it->second.use);
    return cudaGraphLaunch(it->second.exec, stream);
  }
  // First sight: remember it. Second: build its graph.
  auto seen = c.seenOnce.find(h);
  if (seen == c.seenOnce.end() || !same(seen->second)) {
    if (c.seenOnce.size() >= kSeen) c.seenOnce.clear();
    std::vector<unsigned char>& stored = c.seenOnce[h];
    const auto* headBytes = reinterpret_cast<const unsigned char*>(head);
    stored.assign(headBytes, headBytes + sizeof(head));
    stored.insert(stored.end(), key, key + keyBytes);
    return plain();
  }
  std::vector<unsigned char> full = std::move(seen->second);
  c.seenOnce.erase(seen);
  cudaGraphExec_t exec = nullptr;
  if (instantiate(kernel, grid, block, args, &exec) != cudaSuccess) {
    cudaGetLastError();  // not sticky: fall back to the plain launch
    return plain();
  }
  if (it != c.graphs.end()) {  // a hash collision: the newer launch takes the slot
    cudaGraphExecDestroy(it->second.exec);
    c.uses.erase(it->second.use);
    c.graphs.erase(it);
  }
  if (c.graphs.size() >= kGraphs) {
    // Destroying a graph that is still running frees it once it completes.
    auto oldest = c.graphs.find(c.uses.back());
    cudaGraphExecDestroy(oldest->second.exec);
    c.graphs.erase(oldest);
    c.uses.pop_back();
  }
  c.uses.push_front(h);
  Graph& g = c.graphs[h];
  g.key = std::move(full);
  g.exec = exec;
  g.use = c.uses.begin();
  return cudaGraphLaunch(exec, stream);
}

}  // namespace braid::cuda
