// hktune family "thunderkittens": sched.cuh's EPILOGUE 3 (SCHED 1, MMA_LAG 1, whole-K units). A fragment of sched.cuh,
// included by it inside namespace hk_sched's anonymous namespace (it uses its types, release, block_tile and knobs, and
// sched_promote.cuh's main_loop_promoted); not a header of its own.
//
// A tile's epilogue (C from the fp32 accumulator through the consumer's two C buffers and TMA stores, as EPILOGUE 2) runs
// inside the next tile's main loop, after that tile's first k step is issued, so the tensor cores work through it instead
// of idling while both consumers store. fp8 (PROMOTE 2, 4): the first step goes into a promotion partial and the
// accumulator is zeroed after the flush (main_loop_promoted). bf16 (PROMOTE 0): the first step overwrites the accumulator,
// whose last tile was packed to bf16 first (consumer_e3). ptxas drains every wgmma in flight at a branch or back-edge it
// cannot see past (info C7517, "warpgroup.wait is injected"), so the flush has none: every thread runs the read wait (a
// no-op where no store was issued) and the store is one predicated instruction.
#pragma once

// The TMA store of one C buffer by the consumer's first thread, predicated, not branched.
__device__ inline void store_c(const globals_t& g, c_tile_t& buf, int row, int col, bool issuer) {
  static_assert(c_tile_t::swizzle, "the C buffers are swizzled tiles (5-d tensor map)");
  const uint64_t tmap = reinterpret_cast<uint64_t>(g.C.template get_tma<c_tile_t, 2>());
  const uint32_t src = static_cast<uint32_t>(__cvta_generic_to_shared(&buf));
  const int4 c = kittens::tma::detail::tma_coords<c_tile_t, 2>(kittens::coord<c_tile_t>{row, col}.template unit_coord<2, 3>());
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  asm volatile("{\n .reg .pred p;\n setp.ne.u32 p, %7, 0;\n"
               " @p cp.async.bulk.tensor.5d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4, %5, %6}], [%1];\n"
               " @p cp.async.bulk.commit_group;\n}\n"
               :: "l"(tmap), "r"(src), "n"(0), "r"(c.x), "r"(c.y), "r"(c.z), "r"(c.w), "r"((uint32_t)issuer) : "memory");
}

// Tile bt's C from c (this consumer's rows: fp8 the fp32 accumulator, scaled here and zeroed after, as the tile in flight
// adds into it next; bf16 the last tile's sum, already packed to bf16); `on` false (before the first tile): the buffers are
// written, nothing is stored.
template <class RT>
__device__ inline void flush_c(const globals_t& g, RT (&c)[kHalves], epi_t* epi, int2 bt, int wg, int& ebuf, bool on) {
  using part_rt = kittens::rt<typename RT::T, 16, kCBox>;
#if defined(HKT_FP8)
  const float scale = g.scale_a[0] * g.scale_b[0];    // read per tile, from L2
#endif
  const int row64 = bt.x * kASub + wg * kHalves;
  const bool issuer = on && warpgroup::laneid() == 0;
#pragma unroll
  for (int h = 0; h < kHalves; h++) {
#if defined(HKT_FP8)
    kittens::warp::mul(c[h], c[h], scale);
#endif
#pragma unroll
    for (int j = 0; j < kBN / kCBox; j++) {
      c_tile_t& buf = epi->c[wg][ebuf];
      tma::store_async_read_wait<1>();                  // buf's last store read out
      warpgroup::sync(1 + wg);
      part_rt part;
#pragma unroll
      for (int q = 0; q < kCBox / 16; q++) part.tiles[0][q] = c[h].tiles[0][(kCBox / 16) * j + q];
      warpgroup::store(buf, part);
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      warpgroup::sync(1 + wg);
      store_c(g, buf, row64 + h, bt.y * (kBN / kCBox) + j, issuer);
      ebuf ^= 1;
    }
#if defined(HKT_FP8)
    kittens::warp::zero(c[h]);
#endif
  }
}

#if PROMOTE == 0
// bf16: one tile's main loop into cur (its first step overwrites: no zeroing), the previous tile's flush run while that
// first step is in flight; then MMA_LAG 1 (each step's wgmmas in flight while the next step's are issued) or 0 (each
// step waited for before its stage is freed), as sched.cuh's loop.
template <class Flush>
__device__ inline void main_loop_overlapped(acc_t (&cur)[kHalves], stage_t* ring, semaphore* full, semaphore* empty,
                                            int& it, int KS, int wg, const Flush& flush) {
  const int s0 = it % STAGES;
  wait(full[s0], (it / STAGES) & 1);
#pragma unroll
  for (int h = 0; h < kHalves; h++) warpgroup::mm_ABt(cur[h], ring[s0].a[wg * kHalves + h], reinterpret_cast<bt_t&>(ring[s0].b));
  it++;
  flush();
#if MMA_LAG == 0
  warpgroup::mma_async_wait();
  if (laneid() == 0) release(empty[s0]);
#endif
  for (int k = 1; k < KS; k++, it++) {
    const int s = it % STAGES;
    wait(full[s], (it / STAGES) & 1);
#pragma unroll
    for (int h = 0; h < kHalves; h++) warpgroup::mma_ABt(cur[h], ring[s].a[wg * kHalves + h], reinterpret_cast<bt_t&>(ring[s].b));
#if MMA_LAG == 0
    warpgroup::mma_async_wait();
    if (laneid() == 0) release(empty[s]);
#else
    warpgroup::mma_async_wait<kHalves>();            // the previous step done, this one in flight: free its stage
    if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
#endif
  }
#if MMA_LAG
  warpgroup::mma_async_wait();
  if (laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
#endif
}
#endif

// HKT_E3_PEEL 1: a block's first tile runs the same main loop with nothing to flush (peeled out of the tile loop: a
// second copy of the loop, branch-free inside like the first). 0: the first tile's flush stores nothing (on false) but
// still writes the C buffers, one epilogue's worth of work a block pays for nothing. The default is 1 for bf16 and 0 for
// fp8 (promoted), as measured on an H100 (2026-12-06, bench/results/h100-2026-12-06g, two readings each, bf16 vs fp8):
// bf16 peeled / unpeeled +3.9-4.2% at 2048^3, +0.6-0.8% at 1024x8192x8192, +0.6-0.7% at 16384x8192x1024, +0.8-1.6% at
// 4096^3; fp8 128x144 PROMOTE 2 at 8192^3 -1.6% / -0.7% (its promoted main loop is long: two copies of it cost more).
#ifndef HKT_E3_PEEL
#define HKT_E3_PEEL (PROMOTE == 0)
#endif

// The consumers' tile loop at EPILOGUE 3 (sched.cuh's otherwise).
__device__ inline void consumer_e3(const globals_t& g, stage_t* ring, semaphore* full, semaphore* empty, epi_t* epi,
                                   int cid, int tasks, int nclusters, int R, int Cc, int rank, int KS, int wg) {
  int it = 0, ebuf = 0, n = 0, u = cid;
  int2 held = {0, 0};            // the tile whose C is still held
#if PROMOTE
  acc_t acc[kHalves];
#pragma unroll
  for (int h = 0; h < kHalves; h++) kittens::warp::zero(acc[h]);
#if HKT_E3_PEEL
  if (u < tasks) {               // the first tile: acc starts zeroed, nothing to flush
    main_loop_promoted(acc, ring, full, empty, it, KS, wg, [] {});
    held = block_tile(u, R, Cc, rank);
    u += nclusters, n++;
  }
#endif
  for (; u < tasks; u += nclusters, n++) {
    const bool on = n > 0;
    main_loop_promoted(acc, ring, full, empty, it, KS, wg, [&]() { flush_c(g, acc, epi, held, wg, ebuf, on); });
    held = block_tile(u, R, Cc, rank);
  }
  flush_c(g, acc, epi, held, wg, ebuf, n > 0);     // the last tile (nothing in flight any more)
#else
  // bf16: the last tile's sum packed to bf16 (half the accumulator's registers) while the tile accumulates. Packed by
  // ordinary instructions after the tile's wgmmas are waited for: ptxas, tracking GMMA-defined registers across the tile
  // loop, drains the next tile's first wgmma before any read of a register a wgmma wrote (C7517), even one waited for.
  acc_t acc[kHalves];
  kittens::rt_bf<16, kBN> last[kHalves];
#if HKT_E3_PEEL
  if (u < tasks) {               // the first tile: its first step overwrites acc, nothing to flush
    main_loop_overlapped(acc, ring, full, empty, it, KS, wg, [] {});
#pragma unroll
    for (int h = 0; h < kHalves; h++) kittens::warp::copy(last[h], acc[h]);
    held = block_tile(u, R, Cc, rank);
    u += nclusters, n++;
  }
#endif
  for (; u < tasks; u += nclusters, n++) {
    const bool on = n > 0;
    main_loop_overlapped(acc, ring, full, empty, it, KS, wg, [&]() { flush_c(g, last, epi, held, wg, ebuf, on); });
#pragma unroll
    for (int h = 0; h < kHalves; h++) kittens::warp::copy(last[h], acc[h]);
    held = block_tile(u, R, Cc, rank);
  }
  flush_c(g, last, epi, held, wg, ebuf, n > 0);
#endif
}
