// hktune family "thunderkittens": sched.cuh's split-K fixup (SPLIT_K > 1). A fragment of sched.cuh,
// included by it inside namespace hk_sched's anonymous namespace (it uses its acc_t, kHalves, kBN,
// kSlabFloats, kSplit); not a header of its own.
//
// Split-K design (SPLIT_K > 1): a serial, in-order fixup in an fp32 workspace, no second kernel.
//   * Work units u = 0 .. tiles*SPLIT_K-1, u = tile * SPLIT_K + slice: the slices of one tile are
//     consecutive, so they run in the same round of the persistent loop on different SMs, at once.
//     Each unit runs the unchanged main loop over its K/SPLIT_K k steps into fp32 registers.
//   * The unit of fixup is a consumer warpgroup's slab (WG_M rows x 64*N_BLOCK cols of C): it
//     has a slot of WG_M*64*N_BLOCK floats in the workspace (all slots: M*N floats) and a flag.
//     Slice 0 stores its accumulator to the slot; slice s > 0 waits until the flag says s (slices
//     0..s-1 are in the slot), adds the slot to its accumulator, and - unless it is the last slice -
//     stores the sum back and sets the flag to s+1. The last slice writes C through the normal
//     epilogue and resets the flag to 0 for the next launch. The sum is ((p0 + p1) + p2) + p3 in
//     every run: deterministic, independent of which SM finishes first.
//   * The slot is stored in register order (float4 per thread, [register pair][thread]): fully
//     coalesced, no layout arithmetic, and the same thread of the next slice reads the same values.
//     The slots of one round (~132 slabs of <= 128 KB) stay in L2, so the fixup traffic is L2 traffic.
//   * Progress: a unit only waits for the unit just before it (same tile, previous slice). Every block
//     walks its units in increasing order and the grid is never larger than the blocks that are
//     resident at once, so the lowest unfinished unit never waits: no deadlock (the stream-K argument).
//     A consumer waits only after it has freed all its ring stages, so the producer is never blocked.
//   * The workspace (floats + flags) belongs to the host launch function: allocated on first use per
//     (device, stream), flags zeroed once, grown when needed, freed at unload (workspace() below).
//   * Memory order (as CUTLASS's generic barrier): writers store, named-barrier sync, one thread
//     red.release.gpu on the flag; the waiter's one thread spins on ld.acquire.gpu, then a
//     named-barrier sync; slot loads and stores bypass L1 (.cg).
#pragma once

// Split-K fixup of one consumer warpgroup's slab (design at the top of this file). Returns true when this slice is
// not the last one (its partial sum went to the workspace; no C to write).
__device__ inline bool fixup(acc_t (&acc)[kHalves], float* __restrict__ ws, int* flags, int slab, int slice, int bar) {
  float4* slot = slot_of(ws, slab);
  int* flag = flags + slab;
  if (slice > 0) {
    slot_wait(flag, slice, bar);
    slot_add(acc, slot);
  }
  if (slice == kSplit - 1) {
    if (warpgroup::laneid() == 0) *reinterpret_cast<volatile int*>(flag) = 0;   // next launch: stream-ordered
    return false;
  }
  slot_store_signal(acc, slot, flag, bar);
  return true;
}
