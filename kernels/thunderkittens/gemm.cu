// hktune family "thunderkittens": bf16 GEMM on H100/H200 (sm_90a) written against
// ThunderKittens' API (kittens.cuh + the prototype "lcf" load-compute-finish template).
//
//   C[M,N] = A[M,K] * Bt[N,K]^T     A, Bt, C row-major bf16, fp32 accumulation.
//
// With -DHKT_FP8 (the fp8_e4m3 dtype, family.yaml) the same template is a scaled fp8 GEMM, from the
// approach of TK's kernels/gemm/fp8_h100 and fp8_h100_scaled:
//
//   C[M,N] = scale_a * scale_b * (A[M,K] * Bt[N,K]^T)
//   A, Bt row-major fp8 e4m3 (OCP e4m3fn), scale_a / scale_b per-tensor float32 (device
//   pointers), fp32 accumulation, C row-major bf16.
//
// The input tiles are then st_fp8e4m3<64, 128> (the K tile is 128 bytes of fp8, so a stage is the
// same 8 KB per tile as bf16's 64x64), each k step is four wgmma m64n(64*N_BLOCK)k32 e4m3 instead
// of four k16 bf16 ones, the scales multiply the fp32 accumulator before the bf16 store, and the
// C ABI takes the two scale pointers after C. Everything else - pipeline, tile order, epilogues,
// schedule kernel (sched.cuh) - is the same code for both element types.
//
// One block = 1 producer warpgroup + M_BLOCK consumer warpgroups. The producer (one thread)
// TMA-loads, per 64-wide k step, M_BLOCK 64x64 tiles of A (at (m, k)) and N_BLOCK 64x64
// tiles of Bt (at (n, k)) into a STAGES-deep ring guarded by mbarriers; every consumer
// warpgroup owns 64 rows of the 64*M_BLOCK x 64*N_BLOCK output tile and issues
// warpgroup::mma_ABt (wgmma, both operands from shared memory: the N_BLOCK Bt tiles are
// contiguous and form one (64*N_BLOCK) x 64 tile) into an fp32 register accumulator.
// setmaxnreg moves registers from the producer (PRODUCER_REGS) to the consumers
// (CONSUMER_REGS). Tiles are visited in SUPER_M-row groups (L2 reuse), by a persistent grid
// (PERSISTENT=1: one block per SM, looping over tiles) or one block per tile. The epilogue
// either stores the accumulator straight from registers to global memory (EPILOGUE=0) or
// stages it in shared memory and writes it with TMA stores (EPILOGUE=1, TK's own choice).
//
// This is a new file; ThunderKittens itself (MIT, https://github.com/HazyResearch/ThunderKittens)
// is not part of hktune: the user's checkout is put on the include path (<root>/include and
// <root>/prototype). The pipeline is TK's prototype::lcf::kernel; this file supplies the
// layout, the tile order, the producer/consumer bodies (A*Bt^T instead of TK's A*B) and the
// host side (descriptor cache, legality checks, hktune's C ABI: docs/design.md).
//
// Knobs (-D integers, configs/thunderkittens-sm_90.yaml): M_BLOCK N_BLOCK STAGES SUPER_M
// PERSISTENT PRODUCER_REGS CONSUMER_REGS EPILOGUE (fp8: configs/thunderkittens-sm_90-fp8_e4m3.yaml,
// the same knobs). Derived values (THREADS, STAGE_BYTES,
// SMEM_BYTES, ACC_REGS) may also arrive as -D; they are recomputed and static_asserted.
// Schedule knobs SCHED WG_M CLUSTER_M CLUSTER_N ORDER MMA_LAG SPLIT_K STREAM_K: SCHED >= 1 replaces the lcf kernel
// with hktune's own persistent kernel (sched.cuh); at SCHED=0 the others must keep their defaults.
// PROMOTE (fp8, SCHED 0 or 1): see knobs.cuh, sched.cuh and docs/dtypes.md.

// ---------------------------------------------------------------- knobs (defaults = TK <2,4,8>)
#include "knobs.cuh"   // every knob's default, and the combinations the template refuses

#ifndef KITTENS_HOPPER
#define KITTENS_HOPPER
#endif
#include "kittens.cuh"
#include "prototype.cuh"
#if N_EXTRA == 16
#include "wgmma_n144.cuh"   // wgmma m64n144k32 e4m3 for ThunderKittens' mma_ABt (its own 64x160 serves N_EXTRA 32)
#endif

#include <cuda.h>
#include <cuda_runtime.h>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdint.h>

#define HK_STR_(x) #x
#define HK_STR(x) HK_STR_(x)

namespace hk_tk {

using namespace kittens;
using namespace kittens::prototype;
using namespace kittens::prototype::lcf;

constexpr int kMBlock = M_BLOCK;
constexpr int kNBlock = N_BLOCK;
constexpr int kStages = STAGES;
constexpr int kSuperM = SUPER_M;
#if defined(HKT_FP8)
using in_dtype = fp8e4m3;                                  // A, Bt: OCP e4m3fn
constexpr int kKTile = 128;                                // K per step: 128 fp8 = 128-B rows
#else
using in_dtype = bf16;
constexpr int kKTile = 64;                                 // K per step: 64 bf16 = 128-B rows
#endif
constexpr int kTile = 64;                                  // output tile 64x64 bf16; input tiles 64 rows
constexpr int kThreads = 128 * (kMBlock + 1);              // consumers + one producer warpgroup
constexpr int kStageBytes = (kMBlock + kNBlock) * kTile * kKTile * (int)sizeof(in_dtype);   // 8 KB a tile
// Dynamic shared memory asked for at launch: TK's lcf places the finish block (EPILOGUE=1) at
// the top of a (227 KB - 1 KB) window, so every config launches with the whole window; the
// input ring (+ 1 KB scratch pad + up to 1 KB of base alignment) must fit in it.
constexpr int kLaunchSmem = kittens::MAX_SHARED_MEMORY - 1024;       // 231424
constexpr int kSmemBytes = kStages * kStageBytes + 2048;
constexpr int kAccRegs = 32 * kNBlock;                      // fp32 accumulator regs / thread
#if N_EXTRA
// The wide tiles' Bt boxes (sched.cuh): 144 rows in three boxes of 48, 160 in two of 80; each box is a multiple of 8 rows
// of 128 bytes (the 128-byte swizzle's 1 KB period) and of 16 (a TK tile), so the boxes lay down exactly the tile wgmma reads
constexpr int kBNX = 64 * N_BLOCK + N_EXTRA;
constexpr int kBBoxN = N_EXTRA == 16 ? 48 : kBNX / 2;
// Their C boxes (EPILOGUE 1/2): as wide as a Bt box (64x48, 64x80) where two per consumer fit beside the ring, else 64x16
// (128x144 / 128x160 with 6 stages)
constexpr int kCBoxWide = kBBoxN;
constexpr int kCBoxN = STAGES * ((M_BLOCK * WG_M / 64 + N_BLOCK) * 8192 + N_EXTRA * 128) + M_BLOCK * 2 * 64 * kCBoxWide * 2 + 1024
                       <= kLaunchSmem ? kCBoxWide : 16;
static_assert(kBNX % kBBoxN == 0 && kBBoxN % 16 == 0 && kBNX % kCBoxN == 0, "wide tile boxes");
#ifdef CBOX
static_assert(CBOX == kCBoxN, "-DCBOX disagrees with the kernel");
#endif
#endif
static_assert(kAccRegs < CONSUMER_REGS, "the fp32 accumulator alone needs 32*N_BLOCK registers per consumer thread");
static_assert(PROMOTE == 0 || 2 * kAccRegs < CONSUMER_REGS, "PROMOTE > 0 needs two accumulators' registers");

static_assert(kMBlock >= 1 && kMBlock <= 3, "M_BLOCK: 1..3 consumer warpgroups");
static_assert(kNBlock >= 1 && kNBlock <= 4, "N_BLOCK: 1..4 (wgmma N = 64*N_BLOCK <= 256)");
static_assert(kStages >= 1 && kStages <= 16, "STAGES: 1..16");
static_assert(kSuperM >= 1, "SUPER_M >= 1");
static_assert(PERSISTENT == 0 || PERSISTENT == 1, "PERSISTENT: 0 or 1");
#if SCHED == 0
static_assert(EPILOGUE == 0 || EPILOGUE == 1, "EPILOGUE: 0 or 1");
static_assert(kSmemBytes <= kLaunchSmem, "STAGES * (M_BLOCK + N_BLOCK) * 8 KB does not fit in 226 KB");
static_assert(EPILOGUE == 0 || kMBlock * kNBlock * kTile * kTile * 2 + 2048 <= kLaunchSmem,
              "finish block too large");
static_assert(PRODUCER_REGS % 8 == 0 && CONSUMER_REGS % 8 == 0, "setmaxnreg counts are multiples of 8");
static_assert(PRODUCER_REGS >= 24 && PRODUCER_REGS <= 256, "PRODUCER_REGS: 24..256");
static_assert(CONSUMER_REGS >= 24 && CONSUMER_REGS <= 256, "CONSUMER_REGS: 24..256");
static_assert(128 * (PRODUCER_REGS + kMBlock * CONSUMER_REGS) <= 65536,
              "register split exceeds the 64K registers of an SM");
static_assert(PRODUCER_REGS <= CONSUMER_REGS, "producer gives registers to the consumers");
#ifdef THREADS
static_assert(THREADS == kThreads, "-DTHREADS disagrees with the kernel");
#endif
#ifdef STAGE_BYTES
static_assert(STAGE_BYTES == kStageBytes, "-DSTAGE_BYTES disagrees with the kernel");
#endif
#ifdef SMEM_BYTES
static_assert(SMEM_BYTES == kSmemBytes, "-DSMEM_BYTES disagrees with the kernel");
#endif
#ifdef ACC_REGS
static_assert(ACC_REGS == kAccRegs, "-DACC_REGS disagrees with the kernel");
#endif
#endif  // SCHED == 0

struct layout {
  using in_tile = st<in_dtype, kTile, kKTile>;              // 64 rows x 128 bytes (bf16: base_tile)
  using base_tile = st_bf<kTile, kTile>;                     // C tiles
#if N_EXTRA
  using in_layout = gl<in_dtype, 1, 1, -1, -1, in_tile, st<in_dtype, kBBoxN, kKTile>>;   // + 48/80-row Bt boxes
  using global_layout = gl<bf16, 1, 1, -1, -1, base_tile, st_bf<kTile, kCBoxN>>;          // + 64x48/80 (64x16) C boxes
#else
  using in_layout = gl<in_dtype, 1, 1, -1, -1, in_tile>;
  using global_layout = gl<bf16, 1, 1, -1, -1, base_tile>;
#endif
  struct globals {
    in_layout A, B;                                          // B = Bt [N, K]
    global_layout C;
#if defined(HKT_FP8)
    const float* scale_a;                                    // per-tensor scales (device memory)
    const float* scale_b;
#endif
  };
  struct input_block { in_tile a[kMBlock], b[kNBlock]; };
#if EPILOGUE == 1
  struct finish_block { base_tile c[kMBlock][kNBlock]; };
#endif
  struct common_state { int2 coord; };                       // (64-row tile, 64-col tile)
#if PROMOTE > 1
  // the open promotion group's partial and the tile's k steps so far, across compute() calls
  struct consumer_state { rt_fl<16, kNBlock * kTile> accum, partial; int steps; };
#else
  struct consumer_state { rt_fl<16, kNBlock * kTile> accum; };
#endif
};

#if SCHED == 0
struct gemm_template {
  using layout = hk_tk::layout;
  using bt_tile = st<in_dtype, kNBlock * kTile, kKTile>;    // the N_BLOCK Bt tiles, stacked
  using wide_tile = st_bf<kTile, kNBlock * kTile>;          // one consumer's slice of C
  static constexpr int NUM_CONSUMER_WARPS = kMBlock * 4;
  static constexpr int INPUT_PIPE_STAGES = kStages;
  static constexpr int PRODUCER_BARRIER_ARRIVALS = 1;       // one thread: arrive.expect_tx

  // Tile order: SUPER_M block-rows at a time, column by column inside the group; the last,
  // ragged group (Rblocks % SUPER_M rows) the same way. task_id >= tiles ends the loop.
  __device__ static inline void common_setup(common_setup_args<layout> args) {
    const int Rblocks = args.globals.C.rows() / (kMBlock * kTile);
    const int Cblocks = args.globals.C.cols() / (kNBlock * kTile);
    const int super_rows = (Rblocks / kSuperM) * kSuperM;
    const int final_rows = Rblocks - super_rows;
    const int super_repeat = kSuperM * Cblocks;
    const int task_id = args.task_iter * gridDim.x + blockIdx.x;
    int2 c;
    if (task_id < super_rows * Cblocks) {
      c = {kSuperM * (task_id / super_repeat) + task_id % kSuperM, (task_id % super_repeat) / kSuperM};
    } else if (task_id < Rblocks * Cblocks) {
      const int r = task_id - super_rows * Cblocks;
      c = {super_rows + r % final_rows, r / final_rows};
    } else {
      args.num_iters = -1;
      return;
    }
    args.num_iters = args.globals.A.cols() / kKTile;
    const int id = warpgroup::groupid() == kMBlock ? 0 : warpgroup::groupid();  // producer: 0
    args.common.coord = {c.x * kMBlock + id, c.y * kNBlock};
  }

  struct producer {
    __device__ static void setup(producer_setup_args<layout> args) {
      warpgroup::decrease_registers<PRODUCER_REGS>();
    }
    __device__ static void load(producer_load_args<layout> args) {
      if (warpgroup::laneid() == 0) {
        tma::expect(args.inputs_arrived, args.input);
#pragma unroll
        for (int i = 0; i < kMBlock; i++)
          tma::load_async(args.input.a[i], args.globals.A, {args.common.coord.x + i, args.iter},
                          args.inputs_arrived);
#pragma unroll
        for (int i = 0; i < kNBlock; i++)
          tma::load_async(args.input.b[i], args.globals.B, {args.common.coord.y + i, args.iter},
                          args.inputs_arrived);
      }
    }
  };

  struct consumer {
    __device__ static void setup(consumer_setup_args<layout> args) {
      warpgroup::increase_registers<CONSUMER_REGS>();
      kittens::warp::zero(args.state.accum);
#if PROMOTE > 1
      args.state.steps = 0;
#endif
    }
    __device__ static void compute(consumer_compute_args<layout> args) {
#if PROMOTE == 1
      // this k step's four wgmmas into a fresh partial (D = A*B), then added in full fp32
      rt_fl<16, kNBlock * kTile> partial;
      warpgroup::mm_ABt(partial, args.input.a[warpgroup::groupid()],
                        reinterpret_cast<bt_tile&>(args.input.b));
      warpgroup::mma_async_wait();
      kittens::warp::add(args.state.accum, args.state.accum, partial);
#elif PROMOTE > 1
      // PROMOTE k steps into one partial: the group's first step resets it (D = A*B), the rest
      // accumulate (D += A*B); each full group is added in fp32 (a partial last one by finish())
      auto& partial = args.state.partial;
      if (args.state.steps % PROMOTE == 0)
        warpgroup::mm_ABt(partial, args.input.a[warpgroup::groupid()], reinterpret_cast<bt_tile&>(args.input.b));
      else
        warpgroup::mma_ABt(partial, args.input.a[warpgroup::groupid()], reinterpret_cast<bt_tile&>(args.input.b));
      warpgroup::mma_async_wait();
      if (++args.state.steps % PROMOTE == 0) kittens::warp::add(args.state.accum, args.state.accum, partial);
#else
      warpgroup::mma_ABt(args.state.accum, args.input.a[warpgroup::groupid()],
                         reinterpret_cast<bt_tile&>(args.input.b));
      warpgroup::mma_async_wait();
#endif
      if (warp::laneid() == 0) arrive(args.inputs_finished);
    }
    __device__ static void finish(consumer_finish_args<layout> args) {
#if PROMOTE > 1                               // the tile's last group, if partial
      if (args.state.steps % PROMOTE != 0) kittens::warp::add(args.state.accum, args.state.accum, args.state.partial);
#endif
#if defined(HKT_FP8)
      // C = scale_a * scale_b * accumulator (the scales are read once per tile, from L2)
      const float scale = args.globals.scale_a[0] * args.globals.scale_b[0];
      kittens::warp::mul(args.state.accum, args.state.accum, scale);
#endif
#if EPILOGUE == 1
      auto& c = args.finish.c[warpgroup::groupid()];
      warpgroup::store(reinterpret_cast<wide_tile&>(c), args.state.accum);
      warpgroup::sync(warpgroup::groupid() + 4);
      if (warpgroup::laneid() == 0) {
#pragma unroll
        for (int i = 0; i < kNBlock; i++)
          tma::store_async(args.globals.C, c[i], {args.common.coord.x, args.common.coord.y + i});
        tma::store_async_read_wait();  // finish block may be reused (aliases input stages)
      }
#else
      // rt -> global directly; coordinates in units of the 64 x 64*N_BLOCK consumer slice
      warpgroup::store(args.globals.C, args.state.accum,
                       {args.common.coord.x, args.common.coord.y / kNBlock});
#endif
      kittens::warp::zero(args.state.accum);
      if (warp::laneid() == 0) arrive(args.finish_finished);
    }
  };
};

#endif  // SCHED == 0

using globals_t = layout::globals;
using gl_t = layout::global_layout;
using in_t = layout::in_layout;

#if SCHED == 0
constexpr int kBlockThreads = prototype::detail::NUM_THREADS_v<gemm_template>;
static_assert(kBlockThreads == kThreads, "thread count");
#endif  // SCHED == 0

#include "grid_cap.cuh"         // grid_cap: HKTUNE_GRID_CAP, the persistent grid for compute-sanitizer
#include "descriptor_cache.cuh"  // get_globals: TMA descriptors cached per (A, Bt, C, scales, M, N, K)
}  // namespace hk_tk

#if SCHED != 0
#include "sched.cuh"
#endif

#include "driver_shim.cuh"  // cuTensorMapEncodeTiled / cuGetErrorString without -lcuda

// ---------------------------------------------------------------- C ABI

#if defined(HKT_FP8)
// hktune's C ABI for a scaled dtype (hktune.dtypes): the dtype's extra operands come after C.
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, const void* scale_a, const void* scale_b,
                           int M, int N, int K, void* stream) {
  if (scale_a == nullptr || scale_b == nullptr) return 1;
#else
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, int M, int N, int K, void* stream) {
  const void *scale_a = nullptr, *scale_b = nullptr;
#endif
#if SCHED != 0
  return hk_sched::gemm(A, Bt, C, scale_a, scale_b, M, N, K, stream);
#else
  using namespace hk_tk;
  if (M <= 0 || N <= 0 || K <= 0) return 1;
  if (M % (kMBlock * kTile) != 0 || N % (kNBlock * kTile) != 0 || K % kKTile != 0) return 1;
  // TMA: 16-byte aligned base addresses (row strides K * sizeof(in), N*2 are multiples of 128 here)
  if (((uintptr_t)A | (uintptr_t)Bt | (uintptr_t)C) & 15) return 1;
  const long long tiles = (long long)(M / (kMBlock * kTile)) * (N / (kNBlock * kTile));
  if (tiles > 0x7fffffffLL) return 1;

  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return (int)e;
  if (dev < 0 || dev >= 64) return 1;
  static bool raised[64] = {false};
  static int sms[64] = {0};
  if (!raised[dev]) {
    e = cudaFuncSetAttribute(prototype::lcf::kernel<gemm_template>, cudaFuncAttributeMaxDynamicSharedMemorySize, kLaunchSmem);
    if (e != cudaSuccess) return (int)e;
    int n = 0;
    e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return (int)e;
    sms[dev] = hk_tk::grid_cap(n > 0 ? n : 1);
    raised[dev] = true;
  }

  std::optional<globals_t> g = get_globals(A, Bt, C, scale_a, scale_b, M, N, K);
  if (!g) return 1;
  const long long grid = PERSISTENT ? (tiles < sms[dev] ? tiles : sms[dev]) : tiles;
  prototype::lcf::kernel<gemm_template><<<(unsigned)grid, kBlockThreads, kLaunchSmem, static_cast<cudaStream_t>(stream)>>>(*g);
  return (int)cudaGetLastError();
#endif
}

extern "C" const char* hktune_config(void) {
  return "M_BLOCK=" HK_STR(M_BLOCK) ",N_BLOCK=" HK_STR(N_BLOCK) ",STAGES=" HK_STR(STAGES)
         ",SUPER_M=" HK_STR(SUPER_M) ",PERSISTENT=" HK_STR(PERSISTENT)
         ",PRODUCER_REGS=" HK_STR(PRODUCER_REGS) ",CONSUMER_REGS=" HK_STR(CONSUMER_REGS)
         ",EPILOGUE=" HK_STR(EPILOGUE) ",SCHED=" HK_STR(SCHED) ",WG_M=" HK_STR(WG_M)
         ",CLUSTER_M=" HK_STR(CLUSTER_M) ",CLUSTER_N=" HK_STR(CLUSTER_N) ",ORDER=" HK_STR(ORDER)
         ",MMA_LAG=" HK_STR(MMA_LAG) ",SPLIT_K=" HK_STR(SPLIT_K) ",PROMOTE=" HK_STR(PROMOTE)
         ",STREAM_K=" HK_STR(STREAM_K) ",N_EXTRA=" HK_STR(N_EXTRA);
}
