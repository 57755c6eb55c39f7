// hktune family "thunderkittens": sched.cuh's stream-K work units and fixup (STREAM_K=1). A fragment
// of sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it uses its acc_t, kHalves,
// kBN, kSlabFloats, kSplit, kConsumers); not a header of its own.
//
// Stream-K design (STREAM_K=1, SCHED 1, SPLIT_K 1): data-parallel tiles, then one stream-K tail.
//   * A persistent grid of P clusters over T cluster tiles of KS k steps leaves its last round P - T % P
//     clusters idle (8192^3 at 128x256 on 132 SMs: 2048 tiles, 15.5 rounds run as 16). With stream-K the
//     first D = (T / P - 1) * P tiles stay whole (D = T when T % P == 0: nothing to balance), and the k
//     steps of the other T - D tiles (one round plus the partial one) are cut into P equal contiguous
//     ranges of L = ceil((T - D) * KS / P) k steps, one per cluster (CUTLASS's data-parallel + stream-K
//     hybrid): every cluster runs D / P whole tiles and then L k steps, so the tail round is full.
//   * A cluster's range crosses tile boundaries: its units are (tile, k0, kn) pieces. A piece that starts a
//     tile (k0 = 0) owns it; a piece starting inside a tile (k0 > 0) can only be the cluster's first piece of
//     the tail, so every block stores at most one partial sum per launch: the workspace holds one slab slot
//     (WG_M x 64*N_BLOCK fp32) and one flag per (block, consumer warpgroup).
//   * The owner of a split tile is the cluster whose range holds the tile's first k step, and that piece is
//     that cluster's last unit; the other pieces of the tile are the first tail units of the next clusters.
//     The owner adds their slots in k order (deterministic: the same sum in every run), then writes C.
//   * Progress: an owner waits only for pieces that are their clusters' first tail units, which wait for
//     nothing, and the grid is never larger than the clusters resident at once (sched_host.cuh): no deadlock.
//     A consumer waits only after it has freed all its ring stages, so the producer is never blocked.
//   * A contributor adds 1 to its flag (red.release.gpu) after its slot is stored; the owner spins on
//     ld.acquire.gpu until it reads 1, adds the slot, and stores 0 for the next launch (stream-ordered).
//     Slots are read and written as split-K's fixup does: register order, float4 per thread, L1 bypassed.
#pragma once

#if STREAM_K
#include "sched_units.cuh"   // units_t, sk_plan, sk_sources: the schedule (host-testable)

// A piece that does not start its tile: its partial sum to this block's slot, then the flag.
__device__ inline void sk_store(acc_t (&acc)[kHalves], float* __restrict__ ws, int* flags, int wg) {
  const int slab = blockIdx.x * kConsumers + wg;
  slot_store_signal(acc, slot_of(ws, slab), flags + slab, 1 + wg);
}

// The owner of tail tile t (its piece: k steps 0..kn-1 of KS) adds the other pieces' slots in k order.
__device__ inline void sk_gather(acc_t (&acc)[kHalves], float* __restrict__ ws, int* flags, int wg, int rank,
                                 int t, int kn, int KS, int span) {
  sk_sources(t, kn, KS, span, [&](int c) {                          // the clusters of the other pieces, k order
    const int slab = (c * kCS + rank) * kConsumers + wg;
    slot_wait(flags + slab, 1, 1 + wg, true);                      // and reset for the next launch
    slot_add(acc, slot_of(ws, slab));
  });
}
#endif
