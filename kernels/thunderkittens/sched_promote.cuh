// hktune family "thunderkittens": sched.cuh's main loop with fp8 promotion (PROMOTE=1, SCHED=1).
// A fragment of sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it uses
// its acc_t, stage_t, bt_t, release and knobs); not a header of its own. Design: sched.cuh's knob
// list and kernels/thunderkittens/NOTES.md "Overlapped fp8 promotion".
#pragma once

// fp8 promotion (PROMOTE=1; sched.cuh lists the knob): each k step's kHalves wgmma groups go into a fresh
// partial (mm_ABt: the step's first k32 instruction does not accumulate), which is added into the
// fp32 accumulator acc on the CUDA cores. MMA_LAG=1: two partials alternate, step t's wgmmas run
// while step t-1's partial is added (wait_group<kHalves> leaves only step t in flight); the stage
// of step t-1 is released before its add (the add reads registers only). MMA_LAG=0: one partial,
// wait for all, release, add. `it` advances by KS as in the unpromoted loop.
#ifndef PROMOTE_CHUNK
#define PROMOTE_CHUNK 4
#endif
constexpr int kPromoteChunk = PROMOTE_CHUNK;   // k steps between wait_group<0> (MMA_LAG=1)
static_assert(kPromoteChunk >= 2 && kPromoteChunk % 2 == 0, "PROMOTE_CHUNK: even, >= 2");

__device__ inline void promote_add(acc_t (&acc)[kHalves], acc_t (&p)[kHalves]) {
#pragma unroll
  for (int h = 0; h < kHalves; h++) {
    // pin the reads below after the wait_group before them (registers only: no wgmma.fence here)
#pragma unroll
    for (int j = 0; j < acc_t::width; j++) {
#pragma unroll
      for (int q = 0; q < acc_t::packed_per_tile; q++) {
        asm volatile("" : "+f"(p[h].tiles[0][j].data[q].x) :: "memory");
        asm volatile("" : "+f"(p[h].tiles[0][j].data[q].y) :: "memory");
      }
    }
    kittens::warp::add(acc[h], acc[h], p[h]);
  }
}

__device__ inline void promote_issue(acc_t (&p)[kHalves], stage_t& st, int wg) {
#pragma unroll
  for (int h = 0; h < kHalves; h++)
    warpgroup::mm_ABt(p[h], st.a[(kPing ? 0 : wg * kHalves) + h], reinterpret_cast<bt_t&>(st.b));
}

__device__ inline void main_loop_promoted(acc_t (&acc)[kHalves], stage_t* ring, semaphore* full,
                                          semaphore* empty, int& it, int KS, int wg) {
#if MMA_LAG
  acc_t part[2][kHalves];
  // one k step into cur; then the previous step's partial (prev) is complete: free its stage, add it
  auto step = [&](acc_t (&cur)[kHalves], acc_t (&prev)[kHalves], int k) {
    const int s = it % STAGES;
    wait(full[s], (it / STAGES) & 1);
    promote_issue(cur, ring[s], wg);
    warpgroup::mma_async_wait<kHalves>();    // step k-1 done, step k in flight
    if (k > 0) {
      if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
      promote_add(acc, prev);
    }
    it++;
  };
  // Chunks of kPromoteChunk steps (even: step k writes part[k & 1], static registers). ptxas
  // serializes every wgmma of the kernel (C7514) when a wgmma group is still in flight across the
  // loop's back-edge while a younger group's wait_group<1> precedes a read of it, so each chunk ends
  // with wait_group<0>: one issue bubble per chunk, every add still overlaps a wgmma.
  int k = 0;
  for (; k + kPromoteChunk <= KS; k += kPromoteChunk) {
#pragma unroll
    for (int j = 0; j < kPromoteChunk; j++) step(part[j & 1], part[(j + 1) & 1], k + j);
    warpgroup::mma_async_wait();
  }
#pragma unroll
  for (int j = 0; j < kPromoteChunk - 1; j++) {   // the rest: no group in flight across a branch either
    if (k + j < KS) {
      step(part[j & 1], part[(j + 1) & 1], k + j);
      warpgroup::mma_async_wait();
    }
  }
  warpgroup::mma_async_wait();               // drain: the last step's partial
  if (KS > 0) {
    if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
    if ((KS - 1) & 1) promote_add(acc, part[1]);
    else promote_add(acc, part[0]);
  }
#else
  acc_t part[kHalves];
  for (int k = 0; k < KS; k++, it++) {
    const int s = it % STAGES;
    wait(full[s], (it / STAGES) & 1);
    promote_issue(part, ring[s], wg);
    warpgroup::mma_async_wait();
    if (laneid() == 0) release(empty[s]);
    promote_add(acc, part);
  }
#endif
}
