// Throwaway: where do 4.2 us of an 8-byte allReduce go on 2 GPUs? Loop time per launch of
// empty and LL-exchange kernels, plain / graph relaunch / PDL.
#include <cuda_runtime.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>
#define CK(x)                                                          \
  do {                                                                 \
    cudaError_t e = (x);                                               \
    if (e != cudaSuccess) {                                            \
      printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e)); \
      exit(1);                                                         \
    }                                                                  \
  } while (0)

__global__ void emptyK(int pdl) {
  if (pdl) {
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;");
  }
}
__global__ void llK(uint4* mine, uint4* peer, unsigned long long* seq, uint2* out, int pdl,
                    int early) {
  if (pdl) {
    if (early) asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
  }
  if (threadIdx.x == 0) {
    unsigned long long s = *(volatile unsigned long long*)seq;
    unsigned flag = (unsigned)(s + 1);
    int par = s & 1;
    uint4 v = make_uint4(1, flag, 2, flag);
    asm volatile("st.volatile.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(peer + par), "r"(v.x),
                 "r"(v.y), "r"(v.z), "r"(v.w)
                 : "memory");
    uint4 g;
    do {
      asm volatile("ld.volatile.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                   : "=r"(g.x), "=r"(g.y), "=r"(g.z), "=r"(g.w)
                   : "l"(mine + par)
                   : "memory");
    } while (g.y != flag || g.w != flag);
    *out = make_uint2(g.x + 1, g.z + 2);
    if (pdl && !early) asm volatile("griddepcontrol.launch_dependents;");
    *seq = s + 1;
  }
}

int main() {
  uint4* slots[2];
  unsigned long long* seqs[2];
  uint2* outs[2];
  for (int d = 0; d < 2; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaDeviceEnablePeerAccess(1 - d, 0));
    CK(cudaMalloc(&slots[d], 2 * sizeof(uint4)));
    CK(cudaMemset(slots[d], 0, 2 * sizeof(uint4)));
    CK(cudaMalloc(&seqs[d], 8));
    CK(cudaMemset(seqs[d], 0, 8));
    CK(cudaMalloc(&outs[d], 8));
    CK(cudaDeviceSynchronize());
  }
  std::barrier bar(2);
  const int N = 2000;
  const char* names[] = {"empty plain",
                         "empty graph",
                         "empty plain+PDL",
                         "ll plain",
                         "ll graph",
                         "ll plain+PDL(wait,trigger end)",
                         "ll plain+PDL(trigger first)",
                         "ll graph+PDL node"};
  double gpu[8][2], host[8][2];
  auto work = [&](int d) {
    CK(cudaSetDevice(d));
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int v = 0; v < 8; ++v) {
      bool graph = v == 1 || v == 4 || v == 7;
      bool pdl = v == 2 || v == 5 || v == 6 || v == 7;
      bool ll = v >= 3;
      int early = v == 6;
      cudaLaunchAttribute attr[1];
      attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
      attr[0].val.programmaticStreamSerializationAllowed = 1;
      cudaLaunchConfig_t cfg = {};
      cfg.gridDim = 1;
      cfg.blockDim = 32;
      cfg.stream = st;
      cfg.attrs = pdl ? attr : nullptr;
      cfg.numAttrs = pdl ? 1 : 0;
      int p = pdl;
      auto one = [&](cudaStream_t s) {
        cfg.stream = s;
        if (ll)
          CK(cudaLaunchKernelEx(&cfg, llK, slots[d], slots[1 - d], seqs[d], outs[d], p, early));
        else
          CK(cudaLaunchKernelEx(&cfg, emptyK, p));
      };
      cudaGraphExec_t ge = nullptr;
      if (graph) {
        cudaGraph_t g;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
        one(st);
        CK(cudaStreamEndCapture(st, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
      }
      auto go = [&] {
        if (graph)
          CK(cudaGraphLaunch(ge, st));
        else
          one(st);
      };
      for (int i = 0; i < 200; ++i) go();
      CK(cudaStreamSynchronize(st));
      bar.arrive_and_wait();
      go();  // align
      CK(cudaEventRecord(a, st));
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < N; ++i) go();
      auto t1 = std::chrono::steady_clock::now();
      CK(cudaEventRecord(b, st));
      CK(cudaStreamSynchronize(st));
      float ms;
      CK(cudaEventElapsedTime(&ms, a, b));
      gpu[v][d] = ms * 1000.0 / N;
      host[v][d] = std::chrono::duration<double, std::micro>(t1 - t0).count() / N;
      bar.arrive_and_wait();
    }
  };
  for (int rep = 0; rep < 3; ++rep) {
    std::thread t0(work, 0), t1(work, 1);
    t0.join();
    t1.join();
    for (int v = 0; v < 8; ++v)
      printf("rep %d %-34s loop us/launch %6.2f %6.2f   host us/launch %5.2f %5.2f\n", rep,
             names[v], gpu[v][0], gpu[v][1], host[v][0], host[v][1]);
  }
}
