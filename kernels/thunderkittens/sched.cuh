// hktune family "thunderkittens", SCHED >= 1: a hand-written persistent warp-specialized
// Hopper GEMM (C[M,N] = A[M,K] * Bt[N,K]^T, bf16 or, with -DHKT_FP8, scaled fp8 e4m3; fp32
// accumulate) built from ThunderKittens' tiles, TMA and wgmma wrappers, but with its own
// pipeline instead of TK's lcf template, so that the schedule itself is tunable. Included by
// gemm.cu only when SCHED != 0; with SCHED=0 (and the knobs below at their defaults) gemm.cu
// compiles exactly the lcf kernel it always did.
// Element types: gemm.cu's (hk_tk::in_dtype, hk_tk::kKTile). With -DHKT_FP8 the input tiles are
// 64x128 fp8 e4m3 (128-byte rows, 8 KB like bf16's 64x64, so every size below is the same), a k
// step is 128 deep, and the last K slice multiplies the fp32 sum by scale_a * scale_b before the
// (bf16) epilogue; the pipeline, orders, clusters, epilogues and split-K fixup are unchanged.
//
// Block = M_BLOCK consumer warpgroups + 1 producer warpgroup (its first thread issues TMA).
// Knobs (all -D integers, configs/thunderkittens-sm_90.yaml):
//   SCHED      1: cooperative - the M_BLOCK consumers split one M_BLOCK*WG_M x 64*N_BLOCK tile
//                 by rows; 2: ping-pong - M_BLOCK=2 consumers take alternate WG_M x 64*N_BLOCK
//                 tiles, so one's epilogue runs while the other's main loop does.
//   WG_M       rows per consumer warpgroup: 64 (one m64 wgmma per k16) or 128 (two).
//   CLUSTER_M  2: clusters of 2 blocks on vertically adjacent tiles; the shared Bt tiles are
//   CLUSTER_N     loaded once (each block TMA-multicasts half of them into both blocks' rings).
//                 CLUSTER_N=2 likewise shares the A tiles of horizontally adjacent tiles.
//   ORDER      0: SUPER_M block-rows per group, column by column (over cluster tiles);
//              1: SUPER_M block-columns per group, row by row (the transposed raster);
//              2: as 0, every other group walking its columns backwards (serpentine).
//   EPILOGUE   0: registers -> global; 1: registers -> shared (two 64x64 buffers per consumer,
//              alternating) -> TMA store, all stores read out before the next tile's main loop;
//              2: the same, but the stores drain while the next tile's main loop runs (a buffer
//              is only waited for when it is about to be rewritten); 3 (SCHED 1, whole-K units, MMA_LAG 1; bf16 0 too):
//              as 2, but a tile's epilogue runs after the next tile's first k step is issued, so the tensor
//              cores work through it (sched_epilogue3.cuh; fp8: into a promotion partial; bf16: the
//              accumulator, the last tile held in bf16 meanwhile).
//   MMA_LAG    0: wait for each k step's wgmma before freeing its stage; 1: keep it in flight
//              while the next k step's wgmma is issued, free the previous stage instead;
//              2 (PROMOTE > 0 only): a promotion group's k steps chained into its partial with one
//              wait per group (per half of WG_M), its stages freed after that wait.
//   SPLIT_K    1: one work unit per tile. 2, 4: the tile's K range is cut into SPLIT_K slices and
//              every (tile, slice) is a work unit of the persistent loop; the slices of one tile
//              are summed into C deterministically (sched_splitk.cuh).
//   STREAM_K   1 (SCHED 1, SPLIT_K 1): the tiles of the last full round and the partial one are cut into
//              equal contiguous k-step ranges, one per cluster, so no SM idles in the tail; the pieces of
//              a tile are summed into C deterministically (sched_streamk.cuh).
//   N_EXTRA    16, 32 (N_BLOCK 2, CLUSTER_N 1): tiles of 64*N_BLOCK + 16 = 144 columns (wgmma n144: fp8 from
//              wgmma_n144.cuh, bf16 from TK) or + 32 = 160 (TK's n160), Bt loaded in 48-row (80-row) boxes (CLUSTER_M 2: split
//              between the pair), C stored in 64x48 (64x80) boxes (EPILOGUE 1, 2; 64x16 where those do not fit
//              beside the ring: 6 stages of 128x144 or 128x160);
//              the last tile column may be partial (loads past N read zeros,
//              TMA stores clip at N, EPILOGUE 0 skips those columns), so N need only be a multiple of 16.
//   PROMOTE    fp8, SCHED=1 only: n > 0 puts the wgmmas of n k steps into a fresh partial accumulator and
//              adds it into the fp32 accumulator on the CUDA cores (main_loop_promoted); with MMA_LAG=1 two
//              partials alternate per group, so group g-1's add runs while group g's first step does.
//   STAGES, SUPER_M, PRODUCER_REGS, CONSUMER_REGS as for SCHED=0. Always persistent.
//
#pragma once

#if SPLIT_K > 1 || STREAM_K
#include <utility>
#include <vector>
#endif

namespace hk_sched {
// Internal linkage for everything here: the function-local statics of an inline function (and inline
// variables) are GNU-unique symbols, which the dynamic linker shares between every library of a
// process even under RTLD_LOCAL. A worker that loads several configs then saw the first library's
// `ready`/`slots` in the next one: cudaFuncSetAttribute skipped, launch error 1 (H200, 2026-12-05).
namespace {

using namespace kittens;

constexpr int kCM = CLUSTER_M, kCN = CLUSTER_N, kCS = CLUSTER_M * CLUSTER_N;
constexpr bool kPing = SCHED == 2;
constexpr int kWgM = WG_M;
constexpr int kHalves = kWgM / 64;                                  // m64 wgmmas per consumer
constexpr int kBM = kPing ? kWgM : M_BLOCK * kWgM;                  // rows of one tile
constexpr int kBN = 64 * N_BLOCK + N_EXTRA;
constexpr int kASub = kBM / 64;                                     // 64x64 A tiles per stage
constexpr int kConsumers = M_BLOCK;
constexpr int kThreadsS = 128 * (kConsumers + 1);
constexpr int kStageBytesS = (kASub + N_BLOCK) * 8192 + N_EXTRA * 128;   // 128-byte rows
#if N_EXTRA
constexpr int kBBox = hk_tk::kBBoxN;                                // Bt rows per TMA box: 48 (n144), 80 (n160)
#else
constexpr int kBBox = 64;
#endif
constexpr int kBBoxes = kBN / kBBox;                                // Bt boxes per stage
#if N_EXTRA
constexpr int kCBox = hk_tk::kCBoxN;                                // C columns per epilogue buffer: 48/80, or 16
#else
constexpr int kCBox = 64;
#endif
constexpr int kEpiBytes = EPILOGUE == 0 ? 0 : kConsumers * 2 * 64 * kCBox * 2;
constexpr int kSmemS = STAGES * kStageBytesS + kEpiBytes + 1024;    // + base alignment
// consumer warps that free one stage of every block of the cluster
constexpr int kReleases = (kPing ? 4 : 4 * kConsumers) * kCS;
constexpr int kSplit = SPLIT_K;
constexpr bool kStreamK = STREAM_K == 1;
#if defined(HKT_FP8)
constexpr bool kFp8 = true;
#else
constexpr bool kFp8 = false;
#endif
constexpr int kSlabFloats = kWgM * kBN;                             // one consumer's slab of C

#include "sched_asserts.cuh"   // the knobs' static_asserts, and -DSMEM_BYTES etc. agree with the kernel

using hk_tk::in_dtype;
using hk_tk::kKTile;
using tile_t = st<in_dtype, 64, kKTile>;                // 64 rows x 128 bytes of A or Bt
using bt_t = st<in_dtype, kBN, kKTile>;                 // the stage's contiguous Bt tiles, one wgmma B
using c_tile_t = st_bf<64, kCBox>;                     // an epilogue buffer of C (bf16)
using acc_t = rt_fl<16, kBN>;                          // one warp's 16 rows of a 64-row slice
using part_t = rt_fl<16, kCBox>;                       // kCBox of its columns (epilogue unit)

#if N_EXTRA
using bbox_t = st<in_dtype, kBBox, kKTile>;            // Bt in 48/80-row boxes (144 * y, 160 * y: no multiple of 64)
struct stage_t { tile_t a[kASub]; bbox_t b[kBBoxes]; };
#else
struct stage_t { tile_t a[kASub]; tile_t b[N_BLOCK]; };
#endif
struct epi_t { c_tile_t c[kConsumers][2]; };
static_assert(sizeof(tile_t) == 8192 && sizeof(stage_t) == kStageBytesS && kStageBytesS % 1024 == 0,
              "input tiles pack densely, stages stay 1024-aligned (128-byte swizzle)");
static_assert(EPILOGUE == 0 || sizeof(epi_t) == kEpiBytes, "epilogue buffers");
using globals_t = hk_tk::globals_t;

#include "sched_order.cuh"    // tile_order: ORDER 0-2 over cluster tiles

// The block's tile (row, col in tile units) for cluster tile t.
__device__ inline int2 block_tile(int t, int R, int Cc, int rank) {
  const int2 c = tile_order(t, R, Cc);
  return {c.x * kCM + (kCM > 1 ? rank : 0), c.y * kCN + (kCN > 1 ? rank : 0)};
}

__device__ inline void release(semaphore& s) {
  if constexpr (kCS == 1) {
    arrive(s);
  } else {
#pragma unroll
    for (int r = 0; r < kCS; r++) tma::cluster::arrive(s, r);      // this block's and the peer's
  }
}

__device__ inline void cluster_sync() {     // every thread of both blocks
  asm volatile("barrier.cluster.arrive.release;\n" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire;\n" ::: "memory");
}

#if N_EXTRA
#include "sched_n144.cuh"     // store_guarded: the epilogue of a partial last tile column
#endif

#if SPLIT_K > 1 || STREAM_K
#include "sched_slots.cuh"     // workspace slots: store, add, flags (both fixups)
#endif
#if SPLIT_K > 1
#include "sched_splitk.cuh"    // fixup: the split-K slices of a tile summed in order
#endif
#if STREAM_K
#include "sched_streamk.cuh"   // units_t (data-parallel tiles, then a stream-K tail) and its fixup
#endif

#if PROMOTE
#include "sched_promote.cuh"   // main_loop_promoted: the k loop of PROMOTE > 0
#endif
#if EPILOGUE == 3
#include "sched_epilogue3.cuh"  // consumer_e3: the consumers' tile loop, each epilogue under the next tile's first k step
#endif

#if SPLIT_K > 1
__global__ __launch_bounds__(kThreadsS, 1) void kernel(const __grid_constant__ globals_t g, float* __restrict__ ws,
                                                       int* flags, int units, int ksteps) {
#elif STREAM_K
// dp: whole tiles before the stream-K tail; span: tail k steps per cluster; sk_steps: k steps of the tail
// (kernel parameters: no register held across the loop)
__global__ __launch_bounds__(kThreadsS, 1) void kernel(const __grid_constant__ globals_t g, float* __restrict__ ws,
                                                       int* flags, int dp, int span, int sk_steps) {
#else
__global__ __launch_bounds__(kThreadsS, 1) void kernel(const __grid_constant__ globals_t g) {
#endif
  extern __shared__ int smem_raw[];
  const uint64_t base = ((uint64_t)&smem_raw[0] + 1023) & ~uint64_t(1023);
  stage_t* ring = reinterpret_cast<stage_t*>(base);
  epi_t* epi = reinterpret_cast<epi_t*>(base + STAGES * sizeof(stage_t));
  __shared__ semaphore full[STAGES], empty[STAGES];
  // ping-pong: order[g] completes a phase each time consumer g has seen all the stages of one of
  // its tiles; the other consumer starts its next tile only then. This keeps the two main loops
  // in tile order and every full[] wait within one phase of its barrier (a parity wait cannot
  // tell phase p from p+2).
  __shared__ semaphore order[2];

  const int rank = kCS > 1 ? cluster_ctarank() : 0;
  const int cid = blockIdx.x / kCS, nclusters = gridDim.x / kCS;
#if N_EXTRA
  const int R = g.C.rows() / (kBM * kCM), Cc = (g.C.cols() + kBN - 1) / kBN;   // the last tile column may be partial
#else
  const int R = g.C.rows() / (kBM * kCM), Cc = g.C.cols() / (kBN * kCN);
#endif
  // work units (units_t): (cluster tile, K slice) of KS k steps each, from k step k0 = slice * KS; with
  // stream-K the first dp tiles whole, then pieces of the tail tiles
#if SPLIT_K > 1
  const int tasks = units, KS = ksteps;      // kernel parameters: no register held across the loop
#else
  const int tasks = R * Cc, KS = g.A.cols() / kKTile;
#endif
  const int wg = warpgroup::groupid();

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      init_semaphore(full[s], 1, 0);            // the local producer's arrive.expect_tx
      init_semaphore(empty[s], kReleases, 0);   // every consumer warp of the cluster
    }
    if constexpr (kPing) { init_semaphore(order[0], 1, 0); init_semaphore(order[1], 1, 0); }
    if constexpr (kCS > 1) asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  if constexpr (kCS > 1) cluster_sync();   // the peer's barriers exist before any multicast
  else __syncthreads();

  if (wg == kConsumers) {                                       // ---- producer warpgroup
    warpgroup::decrease_registers<PRODUCER_REGS>();
    if (warpgroup::warpid() == 0 && laneid() == 0) {
      int it = 0;
#if STREAM_K
      int tile, k0, kn;
      for (units_t w(cid, dp, span); w.next(cid, dp, span, sk_steps, nclusters, KS, tile, k0, kn);) {
        const int2 bt = block_tile(tile, R, Cc, rank);
#else
      for (int u = cid; u < tasks; u += nclusters) {
        const int2 bt = block_tile(u / kSplit, R, Cc, rank);
        const int k0 = (u % kSplit) * KS, kn = KS;
#endif
        for (int k = k0; k < k0 + kn; k++, it++) {
          const int s = it % STAGES;
          wait(empty[s], ((it / STAGES) & 1) ^ 1);
          tma::expect_bytes(full[s], kStageBytesS);             // own loads + the peer's multicast
#pragma unroll
          for (int i = 0; i < kASub; i++) {
            if constexpr (kCN > 1) {
              if (i % kCS == rank)
                tma::cluster::load_async(ring[s].a[i], g.A, {bt.x * kASub + i, k}, full[s], (uint16_t)3);
            } else {
              tma::load_async(ring[s].a[i], g.A, {bt.x * kASub + i, k}, full[s]);
            }
          }
#pragma unroll
          for (int i = 0; i < kBBoxes; i++) {
            if constexpr (kCM > 1) {
              if (i % kCS == rank)
                tma::cluster::load_async(ring[s].b[i], g.B, {bt.y * kBBoxes + i, k}, full[s], (uint16_t)3);
            } else {
              tma::load_async(ring[s].b[i], g.B, {bt.y * kBBoxes + i, k}, full[s]);
            }
          }
        }
      }
    }
  } else {                                                      // ---- consumer warpgroups
    warpgroup::increase_registers<CONSUMER_REGS>();
#if EPILOGUE == 3
    consumer_e3(g, ring, full, empty, epi, cid, tasks, nclusters, R, Cc, rank, KS, wg);
#else
    acc_t acc[kHalves];
    int it = 0, ebuf = 0;
#if STREAM_K
    int n = 0, tile, k0, kn;
    for (units_t w(cid, dp, span); w.next(cid, dp, span, sk_steps, nclusters, KS, tile, k0, kn); n++) {
#else
    for (int u = cid, n = 0; u < tasks; u += nclusters, n++) {
      const int kn = KS;
#endif
      if constexpr (kPing) {                                    // alternate tiles: skip the other's
        if ((n & 1) != wg) { it += kn; continue; }
      }
      if constexpr (kPing) {
        if (n > 0) wait(order[wg ^ 1], ((n - 1) >> 1) & 1);     // the other's previous tile
      }
#if STREAM_K
      const int2 bt = block_tile(tile, R, Cc, rank);
#else
      const int2 bt = block_tile(u / kSplit, R, Cc, rank);
#endif
#pragma unroll
      for (int h = 0; h < kHalves; h++) kittens::warp::zero(acc[h]);
#if PROMOTE
      main_loop_promoted(acc, ring, full, empty, it, kn, wg);
#else
      for (int k = 0; k < kn; k++, it++) {
        const int s = it % STAGES;
        wait(full[s], (it / STAGES) & 1);
#pragma unroll
        for (int h = 0; h < kHalves; h++)
          warpgroup::mma_ABt(acc[h], ring[s].a[(kPing ? 0 : wg * kHalves) + h],
                             reinterpret_cast<bt_t&>(ring[s].b));
#if MMA_LAG
        // this step's kHalves groups stay in flight; the previous step's are done: free its stage
        warpgroup::mma_async_wait<kHalves>();
        if (k > 0 && laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
#else
        warpgroup::mma_async_wait();
        if (laneid() == 0) release(empty[s]);
#endif
      }
#if MMA_LAG
      warpgroup::mma_async_wait();
      if (kn > 0 && laneid() == 0) release(empty[(it + STAGES - 1) % STAGES]);
#endif
#endif
      if constexpr (kPing) {
        if (warpgroup::laneid() == 0) arrive(order[wg]);
      }
      // ---- epilogue: rows of this consumer, in 64-row slices
      const int row64 = bt.x * kASub + (kPing ? 0 : wg * kHalves);
#if SPLIT_K > 1
      // only the last K slice writes C; the others hand their partial sum on (fixup)
      if (fixup(acc, ws, flags, (row64 / kHalves) * (g.C.cols() / kBN) + bt.y, u % kSplit, 1 + wg)) continue;
#endif
#if STREAM_K
      if (kn < KS) {                          // a piece of a tail tile: hand it on, or own the tile and sum
        if (k0 > 0) {
          sk_store(acc, ws, flags, wg);
          continue;
        }
        sk_gather(acc, ws, flags, wg, rank, tile - dp, kn, KS, span);
      }
#endif
#if defined(HKT_FP8)
      {  // C = scale_a * scale_b * (the tile's whole fp32 sum); the scales are read per tile, from L2
        const float scale = g.scale_a[0] * g.scale_b[0];
#pragma unroll
        for (int h = 0; h < kHalves; h++) kittens::warp::mul(acc[h], acc[h], scale);
      }
#endif
#pragma unroll
      for (int h = 0; h < kHalves; h++) {
#if EPILOGUE == 0 && N_EXTRA
        store_guarded(g, acc[h], (row64 + h) * 64, bt.y * kBN);
#elif EPILOGUE == 0
        warpgroup::store(g.C, acc[h], {row64 + h, bt.y});         // units: 64 x 64*N_BLOCK
#else
#pragma unroll
        for (int j = 0; j < kBN / kCBox; j++) {
          c_tile_t& buf = epi->c[wg][ebuf];
          if (warpgroup::laneid() == 0) tma::store_async_read_wait<1>();   // buf's last store read out
          warpgroup::sync(1 + wg);
          part_t part;
#pragma unroll
          for (int q = 0; q < kCBox / 16; q++) part.tiles[0][q] = acc[h].tiles[0][(kCBox / 16) * j + q];
          warpgroup::store(buf, part);
          asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
          warpgroup::sync(1 + wg);
          if (warpgroup::laneid() == 0) tma::store_async(g.C, buf, {row64 + h, bt.y * (kBN / kCBox) + j});
          ebuf ^= 1;
        }
#endif
      }
#if EPILOGUE == 1
      if (warpgroup::laneid() == 0) tma::store_async_read_wait<0>();
#endif
    }
#endif  // EPILOGUE == 3
#if EPILOGUE != 0
    if (warpgroup::laneid() == 0) tma::store_async_wait<0>();
#endif
  }
  if constexpr (kCS > 1) cluster_sync();   // no block leaves while its peer may still signal it
}

#include "sched_host.cuh"  // split-K workspace pool and the launch (hk_sched::gemm)

}  // namespace
}  // namespace hk_sched
