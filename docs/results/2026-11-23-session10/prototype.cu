// Session 10 experiment record, not built by CMake: the standalone prototype whose output is
// prototype-2xh200.txt (nvcc -O3 -arch=sm_90 -std=c++17 --expt-relaxed-constexpr). One process
// drives both GPUs through peer access; it times a plain push, and a one-shot push-then-reduce
// allReduce serial (one round) or pipelined (sender and reducer warps, parts, chunk sizes),
// with three ways to publish a chunk (fence.sc.sys, fence.acq_rel.sys, release store only).
// Prototype (not committed): pipelined one-shot push-reduce on 2 GPUs, one process.
// Compares serial (push all, then reduce) with warp-specialised senders/reducers.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
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

struct Bufs {
  float* in;
  float* out;
  uint8_t* staging;
  uint64_t* flags;  // flags: ready[lanes*P], ack[lanes*P]
};
constexpr int P_MAX = 8;
constexpr int LANES_MAX = 128;

__device__ __forceinline__ uint64_t ldAcq(const uint64_t* p) {
  uint64_t v;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void stRel(uint64_t* p, uint64_t v) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ void namedBar(int id, int n) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory");
}

struct Args {
  Bufs me, peer;
  size_t count;       // floats
  size_t chunk;       // floats per round per lane
  size_t slotFloats;  // capacity of one slot
  int parts;
  int senderThreads;  // 0 = serial
  int fenceKind;      // 0 = __threadfence_system (fence.sc.sys), 1 = fence.acq_rel.sys, 2 = none
                      // (release store only)
  uint64_t seq;
};

__device__ void copyChunk(float4* dst, const float4* src, size_t n4, int t, int nt) {
  size_t i = t;
  for (; i + 3 * nt < n4; i += 4 * nt) {
    float4 a = src[i], b = src[i + nt], c = src[i + 2 * nt], d = src[i + 3 * nt];
    dst[i] = a;
    dst[i + nt] = b;
    dst[i + 2 * nt] = c;
    dst[i + 3 * nt] = d;
  }
  for (; i < n4; i += nt) dst[i] = src[i];
}
__device__ void reduceChunk(float4* out, const float4* a, const float4* b, size_t n4, int t,
                            int nt) {
  size_t i = t;
  for (; i + nt < n4; i += 2 * nt) {
    float4 x = a[i], y = __ldcg(b + i), x2 = a[i + nt], y2 = __ldcg(b + i + nt);
    out[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    out[i + nt] = make_float4(x2.x + y2.x, x2.y + y2.y, x2.z + y2.z, x2.w + y2.w);
  }
  for (; i < n4; i += nt) {
    float4 x = a[i], y = __ldcg(b + i);
    out[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
  }
}

__global__ void __launch_bounds__(1024) pipeKernel(Args a) {
  const int lane = blockIdx.x, lanes = gridDim.x;
  const size_t perRound = a.chunk * lanes;
  const size_t rounds = (a.count + perRound - 1) / perRound;
  auto tag = [&](size_t r) { return (a.seq << 32) | (r + 1); };
  const int half = a.seq & 1;
  const size_t fo = (size_t)half * LANES_MAX * P_MAX + lane * P_MAX;
  uint64_t* readyMine = a.me.flags + fo;
  uint64_t* ackMine = a.me.flags + 2 * LANES_MAX * P_MAX + fo;
  uint64_t* sentMine = a.me.flags + 4 * LANES_MAX * P_MAX + fo;
  uint64_t* readyPeer = a.peer.flags + fo;
  uint64_t* ackPeer = a.peer.flags + 2 * LANES_MAX * P_MAX + fo;
  auto slot = [&](uint8_t* base, int part) {
    return reinterpret_cast<float*>(base + (((size_t)half * lanes + lane) * a.parts + part) *
                                               a.slotFloats * 4);
  };
  auto spin = [&](const uint64_t* p, uint64_t want) {
    for (long k = 0; ldAcq(p) < want; ++k)
      if (k > (1L << 25)) {
        printf("hang lane %d want %llx have %llx\n", lane, (unsigned long long)want,
               (unsigned long long)ldAcq(p));
        __trap();
      }
  };
  const bool serial = a.senderThreads == 0;
  const int t = threadIdx.x;
  const bool sender = serial || t < a.senderThreads;
  const bool reducer = serial || t >= a.senderThreads;
  const int st = serial ? t : t, sn = serial ? blockDim.x : a.senderThreads;
  const int rt = serial ? t : t - a.senderThreads,
            rn = serial ? blockDim.x : blockDim.x - a.senderThreads;
  for (size_t r = 0; r < rounds; ++r) {
    const int part = r % a.parts;
    const size_t begin = (r * lanes + lane) * a.chunk;
    const size_t n = begin >= a.count ? 0 : std::min(a.chunk, a.count - begin);
    if (sender) {
      if (st == 0) spin(&ackMine[part], sentMine[part]);
      if (serial)
        __syncthreads();
      else
        namedBar(1, sn);
      copyChunk(reinterpret_cast<float4*>(slot(a.peer.staging, part)),
                reinterpret_cast<const float4*>(a.me.in + begin), n / 4, st, sn);
      if (serial)
        __syncthreads();
      else
        namedBar(1, sn);
      if (st == 0) {
        if (a.fenceKind == 0)
          __threadfence_system();
        else if (a.fenceKind == 1)
          asm volatile("fence.acq_rel.sys;" ::: "memory");
        stRel(&readyPeer[part], tag(r));
        sentMine[part] = tag(r);
      }
    }
    if (reducer) {
      if (rt == 0) spin(&readyMine[part], tag(r));
      if (serial)
        __syncthreads();
      else
        namedBar(2, rn);
      reduceChunk(reinterpret_cast<float4*>(a.me.out + begin),
                  reinterpret_cast<const float4*>(a.me.in + begin),
                  reinterpret_cast<const float4*>(slot(a.me.staging, part)), n / 4, rt, rn);
      if (serial)
        __syncthreads();
      else
        namedBar(2, rn);
      if (rt == 0) stRel(&ackPeer[part], tag(r));
    }
  }
}

__device__ void copyChunkVolatile(float4* dst, const float4* src, size_t n4, int t, int nt) {
  for (size_t i = t; i < n4; i += nt) {
    float4 v = src[i];
    asm volatile("st.volatile.global.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(dst + i), "f"(v.x),
                 "f"(v.y), "f"(v.z), "f"(v.w)
                 : "memory");
  }
}
__global__ void __launch_bounds__(1024)
    pushVolatileKernel(float4* dst, const float4* src, size_t n4) {
  const size_t per = (n4 + gridDim.x - 1) / gridDim.x;
  const size_t b = per * blockIdx.x, e = std::min(n4, b + per);
  if (b < e) copyChunkVolatile(dst + b, src + b, e - b, threadIdx.x, blockDim.x);
}
// Pure push: both GPUs copy their input into the peer's staging (wire ceiling).
__global__ void __launch_bounds__(1024) pushKernel(float4* dst, const float4* src, size_t n4) {
  const size_t per = (n4 + gridDim.x - 1) / gridDim.x;
  const size_t b = per * blockIdx.x, e = std::min(n4, b + per);
  if (b < e) copyChunk(dst + b, src + b, e - b, threadIdx.x, blockDim.x);
}

// Runs launch(g, i) for i < iters on GPU g from one host thread per GPU; returns us per iteration
// (slowest GPU, back to back on each GPU's stream).
static double timed(cudaStream_t* s, cudaEvent_t* e0, cudaEvent_t* e1, int warm, int iters,
                    const std::function<void(int, int)>& launch) {
  std::atomic<int> ready{0};
  double us[2];
  auto body = [&](int g) {
    CK(cudaSetDevice(g));
    for (int i = 0; i < warm; ++i) launch(g, i);
    CK(cudaStreamSynchronize(s[g]));
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    CK(cudaEventRecord(e0[g], s[g]));
    for (int i = 0; i < iters; ++i) launch(g, warm + i);
    CK(cudaEventRecord(e1[g], s[g]));
    CK(cudaEventSynchronize(e1[g]));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0[g], e1[g]));
    us[g] = ms * 1000.0 / iters;
  };
  std::thread t1(body, 1);
  body(0);
  t1.join();
  return std::max(us[0], us[1]);
}

int main() {
  int ndev = 0;
  CK(cudaGetDeviceCount(&ndev));
  if (ndev < 2) {
    printf("need 2 GPUs\n");
    return 1;
  }
  const size_t maxBytes = size_t(32) << 20;
  const size_t stagingBytes = size_t(64) << 20;
  Bufs b[2];
  cudaStream_t s[2];
  cudaEvent_t e0[2], e1[2];
  for (int g = 0; g < 2; ++g) {
    CK(cudaSetDevice(g));
    CK(cudaDeviceEnablePeerAccess(1 - g, 0));
    CK(cudaMalloc(&b[g].in, maxBytes));
    CK(cudaMalloc(&b[g].out, maxBytes));
    CK(cudaMalloc(&b[g].staging, stagingBytes));
    CK(cudaMalloc(&b[g].flags, 6 * LANES_MAX * P_MAX * 8));
    CK(cudaMemset(b[g].flags, 0, 6 * LANES_MAX * P_MAX * 8));
    std::vector<float> h(maxBytes / 4);
    for (size_t i = 0; i < h.size(); ++i) h[i] = float((i * 7 + g * 3) % 1000);
    CK(cudaMemcpy(b[g].in, h.data(), maxBytes, cudaMemcpyHostToDevice));
    CK(cudaStreamCreateWithFlags(&s[g], cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0[g]));
    CK(cudaEventCreate(&e1[g]));
  }
  uint64_t seqBase = 1;
  auto run = [&](size_t bytes, int lanes, size_t chunkBytes, int parts, int threads, int senders,
                 int fence) {
    Args a[2];
    for (int g = 0; g < 2; ++g) {
      a[g].me = b[g];
      a[g].peer = b[1 - g];
      a[g].count = bytes / 4;
      a[g].slotFloats = chunkBytes / 4;
      a[g].chunk = std::min(chunkBytes / 4, ((bytes / 4 + lanes - 1) / lanes + 63) / 64 * 64);
      a[g].parts = parts;
      a[g].senderThreads = senders;
      a[g].fenceKind = fence;
    }
    const int warm = 5, iters = 40;
    double us = timed(s, e0, e1, warm, iters, [&](int g, int i) {
      Args x = a[g];
      x.seq = seqBase + i;
      pipeKernel<<<lanes, threads, 0, s[g]>>>(x);
    });
    seqBase += warm + iters;
    size_t bad = 0;
    std::vector<float> h(bytes / 4);
    for (int g = 0; g < 2; ++g) {
      CK(cudaSetDevice(g));
      CK(cudaMemset(b[g].out, 0xff, bytes));
      CK(cudaDeviceSynchronize());
    }
    timed(s, e0, e1, 0, 1, [&](int g, int) {
      Args x = a[g];
      x.seq = seqBase;
      pipeKernel<<<lanes, threads, 0, s[g]>>>(x);
    });
    ++seqBase;
    for (int g = 0; g < 2; ++g) {
      CK(cudaSetDevice(g));
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(h.data(), b[g].out, bytes, cudaMemcpyDeviceToHost));
      for (size_t i = 0; i < h.size(); ++i)
        if (h[i] != float((i * 7) % 1000) + float((i * 7 + 3) % 1000)) ++bad;
    }
    return std::make_pair(us, bad);
  };
  auto push = [&](size_t bytes, int blocks, int threads, bool vol) {
    return timed(s, e0, e1, 3, 40, [&](int g, int) {
      auto* d = reinterpret_cast<float4*>(b[1 - g].staging);
      auto* src = reinterpret_cast<const float4*>(b[g].in);
      if (vol)
        pushVolatileKernel<<<blocks, threads, 0, s[g]>>>(d, src, bytes / 16);
      else
        pushKernel<<<blocks, threads, 0, s[g]>>>(d, src, bytes / 16);
    });
  };
  const size_t sizes[] = {4096, 256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20};
  printf("# pure push (both directions), us: blocks x threads, v = st.volatile\n%10s", "bytes");
  struct PB {
    int blocks, threads;
    bool vol;
  };
  const PB pb[] = {{16, 512, false}, {64, 512, false}, {16, 512, true}, {64, 512, true}};
  for (auto& c : pb) printf(" %5dx%-3d%s", c.blocks, c.threads, c.vol ? "v" : " ");
  printf("\n");
  for (size_t sz : sizes) {
    printf("%10zu", sz);
    for (auto& c : pb) printf(" %10.1f", push(sz, c.blocks, c.threads, c.vol));
    printf("\n");
  }
  struct Cfg {
    int lanes;
    size_t chunk;
    int parts;
    int threads;
    int senders;
    int fence;
  };
  std::vector<Cfg> cfgs = {
      {64, 256 << 10, 2, 512, 0, 0},  // serial, fewest rounds (today's kernel)
      {64, 256 << 10, 2, 512, 0, 1},  // fence.acq_rel.sys
      {64, 256 << 10, 2, 512, 0, 2},  // release store only
      {64, 64 << 10, 2, 512, 256, 0}, {64, 64 << 10, 2, 512, 256, 1},
      {64, 32 << 10, 4, 512, 256, 1},
  };
  printf("# push-reduce one-shot, us (bad values in brackets when nonzero)\n");
  printf("%-28s", "lanes/chunkK/parts/thr/send/f");
  for (size_t sz : sizes) printf(" %9zuK", sz >> 10);
  printf("\n");
  for (auto& c : cfgs) {
    char name[64];
    snprintf(name, sizeof name, "%d/%zu/%d/%d/%d/%d", c.lanes, c.chunk >> 10, c.parts, c.threads,
             c.senders, c.fence);
    printf("%-28s", name);
    for (size_t sz : sizes) {
      auto [us, bad] = run(sz, c.lanes, c.chunk, c.parts, c.threads, c.senders, c.fence);
      if (bad)
        printf(" %6.1f[%zu]", us, bad);
      else
        printf(" %10.1f", us);
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
