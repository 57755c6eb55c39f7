// hktune family "thunderkittens": the workspace slots both fixups share (split-K, sched_splitk.cuh; stream-K,
// sched_streamk.cuh). A fragment of sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it
// uses acc_t, kHalves, kBN, kSlabFloats); not a header of its own.
// A slot holds one consumer warpgroup's fp32 slab in register order (float4 per thread, [register pair][thread]):
// coalesced, no layout arithmetic, and the same thread of the reader finds its own values. Loads and stores bypass
// L1 (.cg). Memory order as CUTLASS's generic barrier: writers store, named-barrier sync, one thread
// red.release.gpu on the flag; the reader's one thread spins on ld.acquire.gpu, then a named-barrier sync.
#pragma once

constexpr int kSlotPairs = kHalves * (kBN / 16) * 2;              // float4s per thread

__device__ inline float2* slot_pair(acc_t (&acc)[kHalves], int i) {
  constexpr int kPerHalf = kSlotPairs / kHalves;
  return &acc[i / kPerHalf].tiles[0][(i % kPerHalf) / 2].data[2 * (i & 1)];
}

// this thread's float4s of slab `slab`
__device__ inline float4* slot_of(float* ws, int slab) {
  return reinterpret_cast<float4*>(ws + (size_t)slab * kSlabFloats) + warpgroup::laneid();
}

// one thread spins until the flag reads `value` (and with `reset` stores 0 for the next launch, stream-ordered),
// then the warpgroup (named barrier `bar`) goes on
__device__ inline void slot_wait(int* flag, int value, int bar, bool reset = false) {
  if (warpgroup::laneid() == 0) {
    int seen;
    do {
      asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(seen) : "l"(flag) : "memory");
    } while (seen != value);
    if (reset) *reinterpret_cast<volatile int*>(flag) = 0;
  }
  warpgroup::sync(bar);
}

// acc += the slot
__device__ inline void slot_add(acc_t (&acc)[kHalves], const float4* slot) {
  constexpr int kChunk = 8;                                         // float4 loads per fence
#pragma unroll
  for (int i = 0; i < kSlotPairs; i++) {
    float2* d = slot_pair(acc, i);
    const float4 v = __ldcg(slot + i * 128);
    d[0].x += v.x; d[0].y += v.y; d[1].x += v.z; d[1].y += v.w;
    // at most 8 loads (32 registers) in flight: ptxas would otherwise issue all of them at once
    // next to the live accumulator and spill; it does not move loads across a fence
    if (i % kChunk == kChunk - 1 && i + 1 < kSlotPairs) asm volatile("fence.acq_rel.cta;\n" ::: "memory");
  }
}

// the slot = acc, then the flag += 1 (release) once the warpgroup has stored
__device__ inline void slot_store_signal(acc_t (&acc)[kHalves], float4* slot, int* flag, int bar) {
#pragma unroll
  for (int i = 0; i < kSlotPairs; i++) {
    const float2* d = slot_pair(acc, i);
    __stcg(slot + i * 128, make_float4(d[0].x, d[0].y, d[1].x, d[1].y));
  }
  warpgroup::sync(bar);
  if (warpgroup::laneid() == 0)
    asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" :: "l"(flag) : "memory");
}
