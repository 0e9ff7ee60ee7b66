// Floor of the bench's timing method: back-to-back one-node graph launches (or plain launches)
// of an empty kernel with an event recorded after each, as braid-bench times GPU iterations.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>
__global__ void empty(int* p) {
  if (p && threadIdx.x == 1023) *p = 1;
}
int main() {
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  int* d;
  cudaMalloc(&d, 4);
  void* args[] = {&d};
  cudaGraph_t g;
  cudaGraphCreate(&g, 0);
  cudaKernelNodeParams p{};
  p.func = (void*)empty;
  p.gridDim = dim3(1);
  p.blockDim = dim3(32);
  p.kernelParams = args;
  cudaGraphNode_t node;
  cudaGraphAddKernelNode(&node, g, nullptr, 0, &p);
  cudaGraphExec_t ex;
  cudaGraphInstantiate(&ex, g, 0);
  const int N = 200;
  std::vector<cudaEvent_t> ev(N + 1);
  for (auto& e : ev) cudaEventCreate(&e);
  for (int mode = 0; mode < 4; ++mode) {
    for (int rep = 0; rep < 3; ++rep) {
      cudaStreamSynchronize(s);
      auto t0 = std::chrono::steady_clock::now();
      cudaEventRecord(ev[0], s);
      for (int i = 0; i < N; ++i) {
        if (mode == 0)
          cudaGraphLaunch(ex, s);
        else if (mode == 1)
          empty<<<1, 32, 0, s>>>(d);
        else if (mode == 2)
          cudaGraphLaunch(ex, s);
        else
          empty<<<1, 32, 0, s>>>(d);
        if (mode < 2) cudaEventRecord(ev[i + 1], s);
      }
      if (mode >= 2) cudaEventRecord(ev[N], s);
      double host =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
          N;
      cudaEventSynchronize(ev[N]);
      float total;
      cudaEventElapsedTime(&total, ev[0], ev[N]);
      std::vector<float> each;
      if (mode < 2)
        for (int i = 0; i < N; ++i) {
          float ms;
          cudaEventElapsedTime(&ms, ev[i], ev[i + 1]);
          each.push_back(ms * 1000);
        }
      std::sort(each.begin(), each.end());
      printf("%-34s host %.2f us/iter, gpu avg %.2f us/iter, median %.2f\n",
             mode == 0   ? "graph launch + event record"
             : mode == 1 ? "kernel launch + event record"
             : mode == 2 ? "graph launch only"
                         : "kernel launch only",
             host, total * 1000 / N, each.empty() ? 0.f : each[N / 2]);
    }
  }
  return 0;
}
