// hktune family "thunderkittens": sched.cuh's main loop with fp8 promotion (PROMOTE=1, SCHED=1).
// A fragment of sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it uses
// its acc_t, stage_t, bt_t, release and knobs); not a header of its own. Design: sched.cuh's knob
// list and kernels/thunderkittens/NOTES.md "Overlapped fp8 promotion".
#pragma once

// fp8 promotion (PROMOTE = n > 0, the interval; sched.cuh lists the knob): the kHalves wgmma groups
// of n consecutive k steps go into one partial (the group's first step resets it: mm_ABt; the rest
// accumulate: mma_ABt), which is added into the fp32 accumulator acc on the CUDA cores once per
// group; a partial last group (KS % n) is added before the epilogue. MMA_LAG=1: two partials
// alternate per group, group g's first step runs while group g-1's partial is added
// (wait_group<kHalves> leaves only that step in flight); each step's stage is released after the
// next step's wait (the add reads registers only). MMA_LAG=0: one m64 partial, the halves of WG_M in
// turn over the group's k steps, every step waiting for its wgmmas, the add at each half's end;
// MMA_LAG=2 the same with a half's steps chained and one wait per half. `it` advances by KS as unpromoted.
#ifndef PROMOTE_CHUNK
#define PROMOTE_CHUNK 4
#endif
static_assert(PROMOTE_CHUNK >= 2 && PROMOTE_CHUNK % 2 == 0, "PROMOTE_CHUNK: even, >= 2");
constexpr int kN = PROMOTE;                     // k steps per promotion group
// k steps between wait_group<0> (MMA_LAG=1): PROMOTE_CHUNK rounded up to whole pairs of groups,
// so that a chunk starts with group parity 0 and every partial index is static
constexpr int kPromoteChunk = (PROMOTE_CHUNK + 2 * kN - 1) / (2 * kN) * (2 * kN);

// p added into acc (one m64 half): pin p's reads after the wait_group before them (registers only:
// no wgmma.fence here); at PROMOTE > 1 keep the add here too (sunk past the next group's wgmmas it spills)
__device__ inline void add_half(acc_t& acc, acc_t& p) {
#pragma unroll
  for (int j = 0; j < acc_t::width; j++) {
#pragma unroll
    for (int q = 0; q < acc_t::packed_per_tile; q++) {
      asm volatile("" : "+f"(p.tiles[0][j].data[q].x) :: "memory");
      asm volatile("" : "+f"(p.tiles[0][j].data[q].y) :: "memory");
    }
  }
  kittens::warp::add(acc, acc, p);
  if constexpr (kN > 1) {
#pragma unroll
    for (int j = 0; j < acc_t::width; j++) {
#pragma unroll
      for (int q = 0; q < acc_t::packed_per_tile; q++) {
        asm volatile("" : "+f"(acc.tiles[0][j].data[q].x), "+f"(acc.tiles[0][j].data[q].y) :: "memory");
      }
    }
  }
}

__device__ inline void promote_add(acc_t (&acc)[kHalves], acc_t (&p)[kHalves]) {
#pragma unroll
  for (int h = 0; h < kHalves; h++) add_half(acc[h], p[h]);
}

// one k step's wgmmas into p: the group's first (kAcc 0: D = A*B) or a later step (kAcc 1: D += A*B)
template <int kAcc>
__device__ inline void promote_issue(acc_t (&p)[kHalves], stage_t& st, int wg) {
#pragma unroll
  for (int h = 0; h < kHalves; h++) {
    if constexpr (kAcc) warpgroup::mma_ABt(p[h], st.a[(kPing ? 0 : wg * kHalves) + h], reinterpret_cast<bt_t&>(st.b));
    else warpgroup::mm_ABt(p[h], st.a[(kPing ? 0 : wg * kHalves) + h], reinterpret_cast<bt_t&>(st.b));
  }
}

// one k step's wgmmas of half h (rows 64h..64h+63 of this consumer's WG_M) into the m64 partial p
template <int kAcc>
__device__ inline void issue_half(acc_t& p, stage_t& st, int wg, int h) {
  if constexpr (kAcc) warpgroup::mma_ABt(p, st.a[(kPing ? 0 : wg * kHalves) + h], reinterpret_cast<bt_t&>(st.b));
  else warpgroup::mm_ABt(p, st.a[(kPing ? 0 : wg * kHalves) + h], reinterpret_cast<bt_t&>(st.b));
}

#if EPILOGUE == 3
// EPILOGUE 3: flush() stores the last tile's C from acc and zeroes it; it runs while this unit's first k step is in
// flight (sched_epilogue3.cuh), before the first add into acc
template <class Flush>
__device__ inline void main_loop_promoted(acc_t (&acc)[kHalves], stage_t* ring, semaphore* full,
                                          semaphore* empty, int& it, int KS, int wg, const Flush& flush) {
#else
__device__ inline void main_loop_promoted(acc_t (&acc)[kHalves], stage_t* ring, semaphore* full,
                                          semaphore* empty, int& it, int KS, int wg) {
#endif
#if MMA_LAG == 1
  acc_t part[2][kHalves];
  // step j of its chunk (static once unrolled; chunks start at group parity 0), k step k of the
  // unit: into part[group & 1]; a group's first step then finds group g-1 complete: add it
  auto step = [&](int j, int k) {
    const int s = it % STAGES;
    wait(full[s], (it / STAGES) & 1);
    if (j % kN == 0) promote_issue<0>(part[(j / kN) & 1], ring[s], wg);
    else promote_issue<1>(part[(j / kN) & 1], ring[s], wg);
    warpgroup::mma_async_wait<kHalves>();    // step k-1 done, step k in flight
    if (k > 0) {
      if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
      if (j % kN == 0) promote_add(acc, part[(j / kN + 1) & 1]);
    }
    it++;
  };
  // Chunks of kPromoteChunk steps (whole pairs of groups: static registers). ptxas
  // serializes every wgmma of the kernel (C7514) when a wgmma group is still in flight across the
  // loop's back-edge while a younger group's wait_group<1> precedes a read of it, so each chunk ends
  // with wait_group<0>: one issue bubble per chunk, every add still overlaps a wgmma.
  int k = 0;
#if EPILOGUE == 3
  // The first chunk peeled: its first step issued, then the flush, with no branch of ours and no back-edge between the
  // wgmma and its wait (ptxas drains wgmmas in flight across the tile loop's back-edge: C7517); a unit shorter than a
  // chunk flushes first (nothing in flight, no overlap)
  if (KS >= kPromoteChunk) {
    step(0, 0);
    flush();
#pragma unroll
    for (int j = 1; j < kPromoteChunk; j++) step(j, j);
    warpgroup::mma_async_wait();
    k = kPromoteChunk;
  } else {
    flush();
  }
#endif
  for (; k + kPromoteChunk <= KS; k += kPromoteChunk) {
#pragma unroll
    for (int j = 0; j < kPromoteChunk; j++) step(j, k + j);
    warpgroup::mma_async_wait();
  }
#pragma unroll
  for (int j = 0; j < kPromoteChunk - 1; j++) {   // the rest: no group in flight across a branch either
    if (k + j < KS) {
      step(j, k + j);
      warpgroup::mma_async_wait();
    }
  }
  warpgroup::mma_async_wait();               // drain: the last (possibly partial) group
  if (KS > 0) {
    if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
    if (((KS - 1) / kN) & 1) promote_add(acc, part[1]);
    else promote_add(acc, part[0]);
  }
#else
  // One m64 partial whatever WG_M: the halves in turn (half-major), so WG_M 128 (256-row tiles) needs
  // the accumulator + one half's partial of registers, not two accumulators. A group's stages stay
  // full until its last half has read them (STAGES > PROMOTE when kHalves > 1; sched.cuh asserts it).
  // MMA_LAG 0: every step waits for its wgmmas (wait_group 0); the other consumer's wgmmas cover the
  // adds. MMA_LAG 2: a half's steps are chained into the partial (wgmmas on one accumulator need no
  // wait between them) and waited for once, before its add; the last half's wait frees the group's
  // stages (STAGES > PROMOTE: the producer fills the next group's meanwhile).
  acc_t part;
  for (int k = 0; k < KS; k += kN) {         // one group: kN steps (fewer at the unit's end)
#pragma unroll
    for (int h = 0; h < kHalves; h++) {
#pragma unroll
      for (int r = 0; r < kN; r++) {
        if (r == 0 || k + r < KS) {
          const int i = it + r, s = i % STAGES;
          if (h == 0) wait(full[s], (i / STAGES) & 1);
          if (r == 0) issue_half<0>(part, ring[s], wg, h);
          else issue_half<1>(part, ring[s], wg, h);
#if MMA_LAG == 0
          warpgroup::mma_async_wait();
          if (h == kHalves - 1 && laneid() == 0) release(empty[s]);
#endif
        }
      }
#if MMA_LAG == 2
      warpgroup::mma_async_wait();
      if (h == kHalves - 1 && laneid() == 0) {
#pragma unroll
        for (int r = 0; r < kN; r++)
          if (r == 0 || k + r < KS) release(empty[(it + r) % STAGES]);
      }
#endif
      add_half(acc[h], part);
    }
    it += KS - k < kN ? KS - k : kN;
  }
#endif
}
