// hktune: parameterised HipKittens GEMM for CDNA4 (gfx950), HipKittens branch `main`, bf16 or fp8.
//
// C[M,N] = A[M,K] * Bt[N,K]^T, bf16 in/out, fp32 accumulation (HK's mma_ABt).
// With -DHKT_FP8 (the fp8_e4m3 dtype, family.yaml): A and Bt are fp8 e4m3 (OCP e4m3fn), per-tensor
// float32 scales (device pointers, read once per block) and C = scale_a * scale_b * (A Bt^T) in bf16;
// the MFMA is 16x16x128 fp8 (HK's FP8_8wave / FP8_4wave approach: st_16x128 LDS tiles, a K step is
// 128 or 256 bytes per row). Everything else - pipeline, schedules, wait-count rules, checker
// markers - is the same code for both element types.
// Written against the HipKittens API (kittens.cuh); modelled on the structure of HK's
// hand-written 8-wave ping-pong GEMMs (two half-tiles of A and of B per K step, loaded
// global->LDS with buffer_load ... lds, four MMA phases per K step), with every
// choice a -D macro. M, N, K are runtime arguments.
//
// Knobs (all required, see configs/hipkittens-gfx950.yaml):
//   BLOCK_M, BLOCK_N   output block; each is split into two halves (HK's As[.][2], Bs[.][2])
//   K_STEP             K per pipeline step (bf16: 32 or 64, MFMA 16x16x32; fp8: 128 or 256, 16x16x128)
//   WARPS_M, WARPS_N   warp grid inside one half x half sub-block (2x2, 2x4, 4x2)
//   PREFETCH           K tiles in flight ahead of the one being computed: LDS holds
//                      PREFETCH+1 stages (1 = HK's double buffer, 2 = triple buffer)
//   SCHEDULE           0 = 8-wave ping-pong (HK: the two halves of the waves are one barrier
//                      apart, one half does MFMA while the other does memory);
//                      1 = lockstep interleave (no stagger, 4 or 8 waves): phase 1 reads A0, B0
//                      and B1 and starts C00 while B1 lands, phase 2 reads A1 under C01;
//                      2 = producer/consumer (HK's 8c4p micro kernels): 4 extra producer waves
//                      issue every global->LDS load, the 8 MMA waves only read LDS and compute,
//                      one s_barrier per K tile (sched_pc_cdna4.inc)
//   VMCNT_0, VMCNT_1   s_waitcnt vmcnt(N) of the main loop (-1 = no wait emitted). Global loads
//                      go out tile-major B0 A0 B1 A1, PREFETCH tiles ahead; a wait before a
//                      barrier must retire every load of a half that is read after it.
//                      SCHEDULE 0: VMCNT_0 ends phase 4 (guards the next tile's A0/B0; HK's
//                      `vmcnt(6)`, which also covers B1/A1), VMCNT_1 ends phase 1 (guards A1/B1).
//                      SCHEDULE 1: VMCNT_0 ends phase 4 (next tile's A0/B0/B1), VMCNT_1 ends
//                      phase 1 (this tile's A1). Prologue and drain waits are derived, exact.
//   LGKMCNT            partial s_waitcnt lgkmcnt(N) before the phase-1 barrier (HK: 8 / 4)
//   OCCUPANCY          __launch_bounds__(threads, OCCUPANCY) minimum waves per SIMD
//   SETPRIO            1 = s_setprio(1)/(0) around every MFMA group, 0 = none
//   WGM                L2 grouping: WGM block-rows per group (1 = plain row-major order)
//   CHUNK              XCD remap chunk for chiplet_transform_chunked (0 = no remap)
// Test-only macros (never in the space): HKT_FIXED_M/N/K make the shape compile-time
// (fidelity comparison with HK's fixed-size kernels); HKT_ALLOW_UNSAFE_VMCNT disables the
// static check that the vmcnt knobs leave no tile's loads in flight; HKT_HK_G_LOAD loads through
// HK's G::load (M0 written apart from the load: tests/test_amd_m0.py).
// HKTUNE_PLANT_PC (tests only): sched_pc_cdna4.inc drops the end-of-tile barrier of its stage-0
// main-loop tiles.
// HKTUNE_PLANT_WAR (tests only, tests/test_emulator_plants.py): drops the barrier that ends
// phase 1 of the ping-pong main-loop tile, so one wave group's phase-2 load of B0(t+NS) into
// stage s can land while the other group still reads B0 from stage s (LDS write-after-read).
#include "kittens.cuh"
#include <cstdint>
#include <utility>

#if !defined(KITTENS_CDNA4)
#error "gemm_cdna4.cpp is the gfx950 template: build with -DKITTENS_CDNA4 --offload-arch=gfx950"
#endif

#if !defined(BLOCK_M) || !defined(BLOCK_N) || !defined(K_STEP) || !defined(WARPS_M) || \
    !defined(WARPS_N) || !defined(PREFETCH) || !defined(SCHEDULE) || !defined(VMCNT_0) || \
    !defined(VMCNT_1) || !defined(LGKMCNT) || !defined(OCCUPANCY) || !defined(SETPRIO) || \
    !defined(WGM) || !defined(CHUNK)
#error "every knob must be given with -D (BLOCK_M BLOCK_N K_STEP WARPS_M WARPS_N PREFETCH SCHEDULE VMCNT_0 VMCNT_1 LGKMCNT OCCUPANCY SETPRIO WGM CHUNK)"
#endif

#define HKT_STR2(x) #x
#define HKT_STR(x) HKT_STR2(x)
#define HKT_CONFIG_STRING                                                                    \
    "BLOCK_M=" HKT_STR(BLOCK_M) ",BLOCK_N=" HKT_STR(BLOCK_N) ",K_STEP=" HKT_STR(K_STEP)       \
    ",WARPS_M=" HKT_STR(WARPS_M) ",WARPS_N=" HKT_STR(WARPS_N) ",PREFETCH=" HKT_STR(PREFETCH)  \
    ",SCHEDULE=" HKT_STR(SCHEDULE) ",VMCNT_0=" HKT_STR(VMCNT_0) ",VMCNT_1=" HKT_STR(VMCNT_1)  \
    ",LGKMCNT=" HKT_STR(LGKMCNT) ",OCCUPANCY=" HKT_STR(OCCUPANCY) ",SETPRIO=" HKT_STR(SETPRIO) \
    ",WGM=" HKT_STR(WGM) ",CHUNK=" HKT_STR(CHUNK)

// Markers for the vmcnt checker (hktune/amd/vmcnt.py): assembler comments naming the LDS tile
// half each global load writes and each LDS read reads (";hkt.load A1 s=0"), the runtime values
// the stage of a tile can depend on (";hkt.param rem=0..2") and path conditions
// (";hkt.assume rem>=1"). They emit no instructions. -DHKT_NO_MARKERS drops them.
#if defined(HKT_NO_MARKERS)
#define HKT_MARK(text) ((void)0)
#else
#define HKT_MARK(text) asm volatile(text)
#endif
#if defined(HKTUNE_PLANT_WAR)
#define HKT_PLANT_BARRIER() ((void)0)
#else
#define HKT_PLANT_BARRIER() __builtin_amdgcn_s_barrier()
#endif
#define HKT_NS_TEXT "(" HKT_STR(PREFETCH) "+1)"
#if SCHEDULE == 0
#define HKT_BARRIER_LAG "1"
#else   // lockstep and producer/consumer: every wave passes the same barriers
#define HKT_BARRIER_LAG "0"
#endif

using namespace kittens;

namespace hkt {

constexpr int NUM_WARPS   = WARPS_M * WARPS_N;       // MMA waves
constexpr int PRODUCERS   = SCHEDULE == 2 ? 4 : 0;   // dedicated load waves (producer/consumer), placed first
constexpr int LOAD_WARPS  = SCHEDULE == 2 ? PRODUCERS : NUM_WARPS;  // waves issuing the global->LDS loads
constexpr int NUM_THREADS = (NUM_WARPS + PRODUCERS) * kittens::WARP_THREADS;
constexpr int LOAD_THREADS = LOAD_WARPS * kittens::WARP_THREADS;
constexpr int NS          = PREFETCH + 1;          // LDS stages
#if defined(HKT_FP8)
using IN = fp8e4m3;                                // OCP e4m3fn (HK's fp8e4m3 = __hip_fp8_e4m3)
constexpr int EB          = 1;                     // bytes per element of A and Bt
constexpr int MFMA_K      = 128;                   // v_mfma_f32_16x16x128_f8f6f4
#define HKT_ST(R) st_fp8e4m3<R, K_STEP, st_16x128_s>
#define HKT_RT(R) rt_fp8e4m3<R, K_STEP, row_l, rt_16x128_s>
#else
using IN = bf16;
constexpr int EB          = 2;
constexpr int MFMA_K      = 32;                    // v_mfma_f32_16x16x32_bf16
#define HKT_ST(R) st_bf<R, K_STEP, st_16x32_s>
#define HKT_RT(R) rt_bf<R, K_STEP, row_l, rt_16x32_s>
#endif
constexpr int HM          = BLOCK_M / 2;           // half-tile rows (A)
constexpr int HN          = BLOCK_N / 2;           // half-tile rows (B)
constexpr int WM          = HM / WARPS_M;          // warp tile rows
constexpr int WN          = HN / WARPS_N;          // warp tile cols

static_assert(BLOCK_M % 32 == 0 && BLOCK_N % 32 == 0, "BLOCK_M/BLOCK_N must be multiples of 32");
static_assert(K_STEP % MFMA_K == 0, "K_STEP must be a multiple of the MFMA's K (bf16 32, fp8 128)");
static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile must be a multiple of 16x16");
static_assert(NUM_WARPS == 4 || NUM_WARPS == 8, "4 or 8 waves per block");
static_assert(PREFETCH == 1 || PREFETCH == 2, "PREFETCH is 1 or 2");
static_assert(SCHEDULE >= 0 && SCHEDULE <= 2, "SCHEDULE is 0 (ping-pong), 1 (interleave) or 2 (producer/consumer)");
static_assert(SCHEDULE != 0 || NUM_WARPS == 8, "the ping-pong schedule needs 8 waves");
static_assert(SCHEDULE != 2 || NUM_WARPS == 8, "the producer/consumer schedule has 8 MMA (consumer) waves");
static_assert(OCCUPANCY >= 1 && OCCUPANCY <= 8, "OCCUPANCY is a wave count per SIMD");
static_assert(WGM >= 1, "WGM >= 1 (1 = no L2 grouping)");
static_assert(CHUNK >= 0, "CHUNK >= 0 (0 = no XCD remap)");
static_assert(LGKMCNT >= 0 && LGKMCNT <= 15, "lgkmcnt is 4 bits on gfx9");
static_assert(SCHEDULE == 0 || LGKMCNT == 0, "LGKMCNT is a ping-pong knob (interleave has fixed lgkm waits)");

using ST_A = HKT_ST(HM);
using ST_B = HKT_ST(HN);
using RT_A = HKT_RT(WM);
using RT_B = HKT_RT(WN);
using RT_C = rt_fl<WM, WN, col_l, rt_16x16_s>;
using GL   = gl<IN, -1, -1, -1, -1>;               // A, Bt
using GLC  = gl<bf16, -1, -1, -1, -1>;             // C
using G    = kittens::group<LOAD_WARPS>;

// buffer_load ... lds issued per half tile (16 bytes per lane per load, HK's fast G::load).
// (per loading wave: every wave, or the producer waves of SCHEDULE 2)
constexpr int LA = HM * K_STEP * EB / (16 * LOAD_THREADS);
constexpr int LB = HN * K_STEP * EB / (16 * LOAD_THREADS);
static_assert(LA >= 1 && LA * 16 * LOAD_THREADS == HM * K_STEP * EB, "A half tile must be a whole number of 16B-per-lane loads");
static_assert(LB >= 1 && LB * 16 * LOAD_THREADS == HN * K_STEP * EB, "B half tile must be a whole number of 16B-per-lane loads");

constexpr int LDS_ALLOC = NS * 2 * (int)(sizeof(ST_A) + sizeof(ST_B));
static_assert(LDS_ALLOC == NS * (BLOCK_M + BLOCK_N) * K_STEP * EB, "LDS accounting");
static_assert(LDS_ALLOC <= 163840, "gfx950 has 160 KiB of LDS per CU");
#ifdef LDS_BYTES
static_assert(LDS_BYTES == LDS_ALLOC, "space file's LDS_BYTES disagrees with what the template allocates");
#endif
#ifdef THREADS
static_assert(THREADS == NUM_THREADS, "space file's THREADS disagrees with the template");
#endif
#if defined(HKT_LOAD_THREADS) && defined(HKT_LA) && defined(HKT_LB)
static_assert(HKT_LOAD_THREADS == LOAD_THREADS && HKT_LA == LA && HKT_LB == LB,
              "space file's loading threads / loads per half tile disagree with the template");
#endif

// Global issue order is tile-major B0, A0, B1, A1 (half h of tile u has index 4u+h).
// Number of vector-memory ops issued after an A half when d more halves were issued.
constexpr int ops_after_A(int d) { return d <= 0 ? 0 : ((d + 1) / 2) * LB + (d / 2) * LA; }
// ... after a B half.
constexpr int ops_after_B(int d) { return d <= 0 ? 0 : ((d + 1) / 2) * LA + (d / 2) * LB; }

// Safe maxima of the main-loop waits (see the space file, which derives the same numbers).
constexpr int V0MAX_PP = ops_after_A(4 * NS - 3);   // phase-4 wait guards A0/B0 of t+1
constexpr int V0ALL_PP = ops_after_A(4 * NS - 5);   // ... and also A1/B1 of t+1
constexpr int V1MAX_PP = ops_after_A(4 * NS - 4);   // phase-1 wait guards A1/B1 of t
constexpr int V0MAX_IL = ops_after_B(4 * NS - 4);   // interleave: phase-4 wait guards B0/A0/B1 of t+1
constexpr int V0ALL_IL = ops_after_A(4 * NS - 5);   // ... and also A1 of t+1
constexpr int V1MAX_IL = ops_after_A(4 * NS - 4);   // interleave: phase-1 wait guards A1 of t
constexpr int TILE_LOADS = 2 * (LA + LB);           // producer/consumer: loads of one K tile per producer wave
constexpr int V0MAX_PC = (NS - 2) * TILE_LOADS;     // ... its end-of-tile wait guards the next tile

#if !defined(HKT_ALLOW_UNSAFE_VMCNT)
static_assert(VMCNT_0 >= 0, "VMCNT_0 is required");
#if SCHEDULE == 2
static_assert(VMCNT_0 <= V0MAX_PC, "VMCNT_0 leaves loads of the next tile in flight at the end-of-tile barrier");
static_assert(VMCNT_1 == -1, "the producer/consumer schedule has one wait per tile (VMCNT_1 = -1)");
#elif SCHEDULE == 0
static_assert(VMCNT_0 <= V0MAX_PP, "VMCNT_0 leaves loads of the next tile's first halves in flight");
static_assert(VMCNT_1 <= V1MAX_PP, "VMCNT_1 leaves loads of the second halves in flight");
static_assert(VMCNT_0 <= V0ALL_PP || VMCNT_1 >= 0, "with VMCNT_0 > the full-tile bound, VMCNT_1 must guard the second halves");
#else
static_assert(VMCNT_0 <= V0MAX_IL, "VMCNT_0 leaves loads of the next tile's A0/B0/B1 in flight");
static_assert(VMCNT_1 <= V1MAX_IL, "VMCNT_1 leaves loads of A1 in flight");
static_assert(VMCNT_1 >= 0 || VMCNT_0 <= V0ALL_IL, "VMCNT_1 = -1 needs VMCNT_0 to guard A1 too");
#endif
#endif
static_assert(VMCNT_0 <= 63 && VMCNT_1 <= 63, "vmcnt is 6 bits on gfx9");
static_assert(SCHEDULE != 0 || LGKMCNT < (WM + WN) * K_STEP * EB / 1024, "LGKMCNT above the phase-1 LDS reads is a no-op");

struct globals {
    GL a;
    GL b;
    GLC c;
#if defined(HKT_FP8)
    const float* scale_a;   // per-tensor dequantisation scales (device memory, one float each)
    const float* scale_b;
#endif
    int num_xcds;   // XCDs of the device (HIP's NumberOfXccs, read once per device): HK's NUM_XCDS is a constant 8
};

template<int N> __device__ __forceinline__ void wait_vm() {
    if constexpr (N >= 0) {
        static_assert(N <= 63);
        asm volatile("s_waitcnt vmcnt(%0)" ::"n"(N));
    }
}
template<int N> __device__ __forceinline__ void wait_lgkm() {
    if constexpr (N >= 0) asm volatile("s_waitcnt lgkmcnt(%0)" ::"n"(N));
}
// prio_hi/prio_lo bracket every MFMA group; the sched_barriers pin the MFMAs between the
// s_waitcnt that makes their (inline-asm ds_read) operands valid and what follows - without
// them the scheduler may hoist an MFMA above the wait (the compiler does not know that an asm
// ds_read's outputs arrive late), which the vmcnt/lgkm checker flags.
__device__ __forceinline__ void prio_hi() {
    __builtin_amdgcn_sched_barrier(0);
    if constexpr (SETPRIO) __builtin_amdgcn_s_setprio(1);
}
__device__ __forceinline__ void prio_lo() {
    if constexpr (SETPRIO) __builtin_amdgcn_s_setprio(0);
    __builtin_amdgcn_sched_barrier(0);
}

// Global -> LDS load of one half tile (rows HROWS, K_STEP) at element (r0, c0) of src, NLOADS
// buffer_load_dwordx4 ... lds per wave: the addressing of HK's G::load (per-lane offsets from
// prefill_swizzled_offsets, the tile's byte offset from base as the scalar offset, the wave's LDS
// destination bumped by a whole block's 16 bytes per lane after each load), but M0 is written in
// the same asm block as the load it feeds and is declared clobbered. (HK writes M0 in one asm
// block and then calls the LDS-load intrinsic with a null LDS pointer, for which clang emits its
// own `s_mov_b32 m0, -1`; in ~3 % of configs it lands between the two: hktune/build/amd/m0.py.)
// The s_nop is the wait state gfx9 needs between an M0 write and an LDS DMA that reads it.
template<int NLOADS>
__device__ __forceinline__ void lds_load(const GL& src, int r0, int c0, const uint32_t (&offsets)[NLOADS],
                                         i32x4 srd, const void* base, uint32_t lds) {
    const uint32_t soff = __builtin_amdgcn_readfirstlane(static_cast<uint32_t>(
        reinterpret_cast<const char*>(&src[{0, 0, r0, c0}]) - reinterpret_cast<const char*>(base)));
#pragma unroll
    for (int i = 0; i < NLOADS; ++i) {
        asm volatile("s_mov_b32 m0, %0\n\ts_nop 0\n\tbuffer_load_dwordx4 %1, %2, %3 offen lds"
                     :: "s"(lds), "v"(offsets[i]), "s"(srd), "s"(soff) : "memory", "m0");
        lds += 16 * LOAD_THREADS;
    }
}

} // namespace hkt

using namespace hkt;

__global__ __launch_bounds__(hkt::NUM_THREADS, OCCUPANCY)
void hktune_hk_gemm(const hkt::globals g) {
    extern __shared__ alignment_dummy __shm[];
    shared_allocator al((int*)&__shm[0]);
    ST_A (&As)[NS][2] = al.allocate<ST_A, NS, 2>();
    ST_B (&Bs)[NS][2] = al.allocate<ST_B, NS, 2>();

#if defined(HKT_FIXED_M)
    constexpr int M = HKT_FIXED_M;
#else
    const int M = g.a.rows();
#endif
#if defined(HKT_FIXED_N)
    constexpr int N = HKT_FIXED_N;
#else
    const int N = g.b.rows();
#endif
#if defined(HKT_FIXED_K)
    constexpr int K = HKT_FIXED_K;
#else
    const int K = g.a.cols();
#endif

    RT_C C_accum[2][2];
    zero(C_accum[0][0]);
    zero(C_accum[0][1]);
    zero(C_accum[1][0]);
    zero(C_accum[1][1]);

    // ---- block -> output tile (XCD chunk remap, then WGM L2 grouping) ----
    int wgid = (blockIdx.y * gridDim.x) + blockIdx.x;
    const int NUM_WGS = gridDim.x * gridDim.y;
    if constexpr (CHUNK > 0) wgid = chiplet_transform_chunked(wgid, NUM_WGS, g.num_xcds, CHUNK);
    const int num_pid_m = M / BLOCK_M;
    const int num_pid_n = N / BLOCK_N;
    int pid_m, pid_n;
    if constexpr (WGM == 1) {
        pid_m = wgid / num_pid_n;
        pid_n = wgid % num_pid_n;
    } else {
        const int num_wgid_in_group = WGM * num_pid_n;
        const int group_id = wgid / num_wgid_in_group;
        const int first_pid_m = group_id * WGM;
        const int group_size_m = min(num_pid_m - first_pid_m, WGM);
        pid_m = first_pid_m + ((wgid % num_wgid_in_group) % group_size_m);
        pid_n = (wgid % num_wgid_in_group) / group_size_m;
    }
    const int row = pid_m, col = pid_n;

    const int warp_id  = kittens::warpid() - PRODUCERS;   // MMA wave index (producer waves: < 0)
    const int warp_row = warp_id / WARPS_N;
    const int warp_col = warp_id % WARPS_N;
    const int num_tiles = K / K_STEP;

    // ---- hoisted buffer resources and per-wave LDS destinations (as HK's 8192 kernel) ----
    const IN* a_base = (IN*)&g.a[{0, 0, 0, 0}];
    const IN* b_base = (IN*)&g.b[{0, 0, 0, 0}];
    const int a_row_stride = g.a.template stride<2>() * sizeof(IN);
    const int b_row_stride = g.b.template stride<2>() * sizeof(IN);
    // no row stride in the resource: make_srsrc would mask it to 14 bits and set the swizzle bits
    // (at K = 1024 the stride is 2 KiB: a swizzled buffer). The loads' offsets are computed in
    // software (prefill_swizzled_offsets), so the linear, unswizzled resource is all they need.
    const i32x4 a_srsrc = make_srsrc(a_base, (uint32_t)M * (uint32_t)a_row_stride);
    const i32x4 b_srsrc = make_srsrc(b_base, (uint32_t)N * (uint32_t)b_row_stride);

    const int wid = warpid() % LOAD_WARPS;                 // index among the loading waves
    constexpr int elem_per_warp = (16 / sizeof(IN)) * kittens::WARP_THREADS;
    // LDS destination of this wave's first 16-byte slot in As[0][0] / Bs[0][0]; the other
    // (stage, half) tiles follow at fixed strides, so any stage is one scalar add away.
    const uint32_t a_lds0 = __builtin_amdgcn_readfirstlane(static_cast<uint32_t>(
        reinterpret_cast<uintptr_t>(&As[0][0].data[0]) + wid * elem_per_warp * sizeof(IN)));
    const uint32_t b_lds0 = __builtin_amdgcn_readfirstlane(static_cast<uint32_t>(
        reinterpret_cast<uintptr_t>(&Bs[0][0].data[0]) + wid * elem_per_warp * sizeof(IN)));
    uint32_t swizzled_offsets_A[LA];
    uint32_t swizzled_offsets_B[LB];
    G::prefill_swizzled_offsets(As[0][0], g.a, swizzled_offsets_A);
    G::prefill_swizzled_offsets(Bs[0][0], g.b, swizzled_offsets_B);

    // global -> LDS load of half H of K tile u into LDS stage s (s is a constant in the
    // main loop and a wave-uniform value in the drain)
#if defined(HKT_HK_G_LOAD)
    // test only (tests/test_amd_m0.py): HK's G::load, whose M0 write clang can clobber
    auto gload_A = [&]<int H>(int u, int s) {
        G::load(As[s][H], g.a, {0, 0, row * 2 + H, u}, swizzled_offsets_A, a_srsrc, a_base,
                a_lds0 + (uint32_t)((s * 2 + H) * (int)sizeof(ST_A)));
    };
    auto gload_B = [&]<int H>(int u, int s) {
        G::load(Bs[s][H], g.b, {0, 0, col * 2 + H, u}, swizzled_offsets_B, b_srsrc, b_base,
                b_lds0 + (uint32_t)((s * 2 + H) * (int)sizeof(ST_B)));
    };
#else
    auto gload_A = [&]<int H>(int u, int s) {
        lds_load(g.a, (row * 2 + H) * HM, u * K_STEP, swizzled_offsets_A, a_srsrc, a_base,
                 a_lds0 + (uint32_t)((s * 2 + H) * (int)sizeof(ST_A)));
    };
    auto gload_B = [&]<int H>(int u, int s) {
        lds_load(g.b, (col * 2 + H) * HN, u * K_STEP, swizzled_offsets_B, b_srsrc, b_base,
                 b_lds0 + (uint32_t)((s * 2 + H) * (int)sizeof(ST_B)));
    };
#endif
    auto nxt = [](int s, int k) { return (s + k) % NS; };   // stage of tile t+k (s, k >= 0)

    const int pp = warp_id / (NUM_WARPS / 2);   // ping-pong group (HK: warp_row with 2x4)

    // Marked loads and reads (see HKT_MARK): a load of half X into stage "ST" and a read of it.
#define HKT_LOAD_A(H_, U_, S_, ST_)                                         \
    {                                                                       \
        HKT_MARK(";hkt.load A" #H_ " s=" ST_);                              \
        gload_A.template operator()<H_>((U_), (S_));                        \
    }
#define HKT_LOAD_B(H_, U_, S_, ST_)                                         \
    {                                                                       \
        HKT_MARK(";hkt.load B" #H_ " s=" ST_);                              \
        gload_B.template operator()<H_>((U_), (S_));                        \
    }
#define HKT_READ_A(DST_, H_, S_, ST_)                                       \
    {                                                                       \
        HKT_MARK(";hkt.read A" #H_ " s=" ST_);                              \
        load(DST_, subtile_inplace<WM, K_STEP>(As[S_][H_], {warp_row, 0})); \
    }
#define HKT_READ_B(DST_, H_, S_, ST_)                                       \
    {                                                                       \
        HKT_MARK(";hkt.read B" #H_ " s=" ST_);                              \
        load(DST_, subtile_inplace<WN, K_STEP>(Bs[S_][H_], {warp_col, 0})); \
    }
    // stage text of tile t+NS-1 when tile t is on stage ST_
#define HKT_PREV_ST(ST_) "((" ST_ ")+" HKT_NS_TEXT "-1)%" HKT_NS_TEXT

    // the drain's first LDS stage (rem) is a runtime value; the checker tries each
    HKT_MARK(";hkt.param rem=0.." HKT_STR(PREFETCH));
    // the schedule's barrier model for the checkers (hktune/build/amd/lds.py): in the ping-pong one
    // wave group runs one barrier behind the other (lag 1); the checker verifies it against the
    // stagger barriers it finds in the code
    HKT_MARK(";hkt.barrier_lag " HKT_BARRIER_LAG);

#if SCHEDULE == 2
#include "sched_pc_cdna4.inc"
#else
    // Prologue loads: tiles 0..NS-2 fully, then B0/A0/B1 of tile NS-1 (its A1 goes out in
    // tile 0). From here on the issue order is tile-major B0, A0, B1, A1.
    HKT_LOAD_B(0, 0, 0, "0") HKT_LOAD_A(0, 0, 0, "0") HKT_LOAD_B(1, 0, 0, "0") HKT_LOAD_A(1, 0, 0, "0")
    if constexpr (NS == 3) {
        HKT_LOAD_B(0, 1, 1, "1") HKT_LOAD_A(0, 1, 1, "1") HKT_LOAD_B(1, 1, 1, "1") HKT_LOAD_A(1, 1, 1, "1")
    }

    // Tiles: [0, main_tiles) issue loads (main loop in groups of NS so every stage index is a
    // constant there, then < NS remainder tiles); the last NS tiles drain the pipeline.
    const int main_tiles = num_tiles - NS;
    const int rem = main_tiles % NS;
    const int main_end = main_tiles - rem;

#if SCHEDULE == 0
    // ===================== 8-wave ping-pong (HK main-branch structure) =====================
    // (tile bodies are macros, not lambdas: with clang 22 a lambda-wrapped body changes register
    //  allocation a lot - HK's own kernel drops from 242 to 210 VGPRs when its loop body is put
    //  in a lambda - and the template should compile like HK's straight-line code)
    RT_A A_tile;
    RT_B B_tile_0, B_tile_1;

    // one K tile T_ on LDS stage S_ (ST_: the stage as marker text). ISSUE_A1: issue
    // A1(t+NS-1); ISSUE_NEXT: B0/A0/B1(t+NS). W1: vmcnt before the phase-1 barrier; W4: vmcnt
    // before the phase-4 barrier (-1: none).
#define HKT_TILE_PP(T_, S_, ST_, ISSUE_A1, ISSUE_NEXT, W1, W4)                                 \
    {                                                                                         \
        const int t_ = (T_), s_ = (S_);                                                       \
        /* phase 1: B0, A0 -> registers; C00 */                                               \
        HKT_READ_B(B_tile_0, 0, s_, ST_)                                                      \
        HKT_READ_A(A_tile, 0, s_, ST_)                                                        \
        if constexpr (ISSUE_A1) HKT_LOAD_A(1, t_ + NS - 1, nxt(s_, NS - 1), HKT_PREV_ST(ST_)) \
        wait_vm<W1>();                                                                        \
        wait_lgkm<LGKMCNT>();                                                                 \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][0], A_tile, B_tile_0, C_accum[0][0]);                              \
        prio_lo();                                                                            \
        HKT_PLANT_BARRIER();                                                                  \
        __builtin_amdgcn_sched_barrier(0);                                                    \
        /* phase 2: B1 -> registers; C01 */                                                   \
        HKT_READ_B(B_tile_1, 1, s_, ST_)                                                      \
        if constexpr (ISSUE_NEXT) HKT_LOAD_B(0, t_ + NS, s_, ST_)                             \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][1], A_tile, B_tile_1, C_accum[0][1]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        /* phase 3: A1 -> registers; C10 */                                                   \
        HKT_READ_A(A_tile, 1, s_, ST_)                                                        \
        if constexpr (ISSUE_NEXT) HKT_LOAD_A(0, t_ + NS, s_, ST_)                             \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[1][0], A_tile, B_tile_0, C_accum[1][0]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        __builtin_amdgcn_sched_barrier(0);                                                    \
        /* phase 4: C11; the next tile's first halves must be resident after this barrier */ \
        if constexpr (ISSUE_NEXT) HKT_LOAD_B(1, t_ + NS, s_, ST_)                             \
        wait_vm<W4>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        prio_hi();                                                                            \
        mma_ABt(C_accum[1][1], A_tile, B_tile_1, C_accum[1][1]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
    }
    // drain tile (HK's epilogue form: three phases, C10 and C11 together, and just-in-time
    // waits W1 -> B1(t), W2 -> A1(t), W3 -> B0/A0(t+1)); only the first issues A1(T-1)
#define HKT_TILE_PP_DRAIN(T_, S_, ST_, ISSUE_A1, W1, W2, W3)                                   \
    {                                                                                         \
        const int t_ = (T_), s_ = (S_);                                                       \
        HKT_READ_B(B_tile_0, 0, s_, ST_)                                                      \
        HKT_READ_A(A_tile, 0, s_, ST_)                                                        \
        if constexpr (ISSUE_A1) HKT_LOAD_A(1, t_ + NS - 1, nxt(s_, NS - 1), HKT_PREV_ST(ST_)) \
        wait_vm<W1>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][0], A_tile, B_tile_0, C_accum[0][0]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        HKT_READ_B(B_tile_1, 1, s_, ST_)                                                      \
        wait_vm<W2>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][1], A_tile, B_tile_1, C_accum[0][1]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        HKT_READ_A(A_tile, 1, s_, ST_)                                                        \
        wait_vm<W3>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[1][0], A_tile, B_tile_0, C_accum[1][0]);                              \
        mma_ABt(C_accum[1][1], A_tile, B_tile_1, C_accum[1][1]);                              \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
    }
    // drain tile I (stage (rem+I)%NS): waits from the issue order (the last issued load is
    // A1(T-1)); in the first drain tile B1/A1 are already guarded when VMCNT_0 covers whole
    // tiles (HK's single wait)
#define HKT_DRAIN_PP(I)                                                                        \
    HKT_TILE_PP_DRAIN(t + (I), nxt(rem, (I)), "((rem)+" #I ")%" HKT_NS_TEXT, (I) == 0,         \
                      ((I) == 0 && VMCNT_0 <= V0ALL_PP) ? -1 : ops_after_B(4 * (NS - (I)) - 3), \
                      ((I) == 0 && VMCNT_0 <= V0ALL_PP) ? -1 : ops_after_A(4 * (NS - 1 - (I))), \
                      ((I) < NS - 1) ? ops_after_A(4 * (NS - (I)) - 6) : -1)

    HKT_MARK(";hkt.stagger");
    if (pp == 1) __builtin_amdgcn_s_barrier();      // stagger the two wave groups
    wait_vm<ops_after_A(4 * (NS - 2) + 2)>();       // tile 0's first halves
    __builtin_amdgcn_s_barrier();
    HKT_LOAD_B(0, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    HKT_LOAD_A(0, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    HKT_LOAD_B(1, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    wait_vm<ops_after_A(4 * (NS - 2) + 3)>();       // all of tile 0
    __builtin_amdgcn_s_barrier();

    int t = 0;
#pragma unroll
    for (; t < main_end; t += NS) {
        HKT_TILE_PP(t, 0, "0", true, true, VMCNT_1, VMCNT_0)
        HKT_TILE_PP(t + 1, 1, "1", true, true, VMCNT_1, VMCNT_0)
        if constexpr (NS == 3) HKT_TILE_PP(t + 2, 2, "2", true, true, VMCNT_1, VMCNT_0)
    }
    // remainder: rem < NS tiles that still issue loads, on stages 0..rem-1
    if (rem >= 1) {
        HKT_MARK(";hkt.assume rem>=1 and remtiles==0");
        HKT_MARK(";hkt.count remtiles");
        HKT_TILE_PP(t, 0, "0", true, true, VMCNT_1, VMCNT_0)
    } else {
        HKT_MARK(";hkt.assume rem<1");
    }
    if constexpr (NS == 3) {
        if (rem >= 2) {
            HKT_MARK(";hkt.assume rem>=2 and remtiles==1");
            HKT_MARK(";hkt.count remtiles");
            HKT_TILE_PP(t + 1, 1, "1", true, true, VMCNT_1, VMCNT_0)
        } else {
            HKT_MARK(";hkt.assume rem<2");
        }
    }
    t += rem;                                       // == num_tiles - NS, on stage rem
    HKT_MARK(";hkt.assume remtiles==rem");
    HKT_DRAIN_PP(0)
    HKT_DRAIN_PP(1)
    if constexpr (NS == 3) HKT_DRAIN_PP(2)

    HKT_MARK(";hkt.unstagger");
    if (pp == 0) __builtin_amdgcn_s_barrier();      // undo the stagger
#undef HKT_DRAIN_PP
#undef HKT_TILE_PP_DRAIN
#undef HKT_TILE_PP

#else
    // ===================== lockstep interleave (4 or 8 waves, no stagger) =====================
    // All waves run the same phase. Phase 1 reads A0, B0 and B1 of the tile, waits only for
    // A0/B0 and starts C00 while B1 lands; phase 2 reads A1 while C01 runs; phases 3-4 are pure
    // MFMA. Each phase also issues one half-tile of global loads (same order as ping-pong).
    RT_A A_tile[2];
    RT_B B_tile[2];
    constexpr int READS_B = WN * K_STEP * EB / 1024;  // ds_read_b128 per B half
#define HKT_TILE_IL(T_, S_, ST_, ISSUE_A1, ISSUE_NEXT, W1, W4)                                 \
    {                                                                                         \
        const int t_ = (T_), s_ = (S_);                                                       \
        /* phase 1: read A0, B0, B1; issue A1(t+NS-1); C00 = A0 x B0 */                       \
        HKT_READ_A(A_tile[0], 0, s_, ST_)                                                     \
        HKT_READ_B(B_tile[0], 0, s_, ST_)                                                     \
        HKT_READ_B(B_tile[1], 1, s_, ST_)                                                     \
        if constexpr (ISSUE_A1) HKT_LOAD_A(1, t_ + NS - 1, nxt(s_, NS - 1), HKT_PREV_ST(ST_)) \
        wait_lgkm<READS_B>();                                                                 \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][0], A_tile[0], B_tile[0], C_accum[0][0]);                          \
        prio_lo();                                                                            \
        wait_vm<W1>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        __builtin_amdgcn_sched_barrier(0);                                                    \
        /* phase 2: read A1; issue B0(t+NS); C01 = A0 x B1 */                                 \
        HKT_READ_A(A_tile[1], 1, s_, ST_)                                                     \
        if constexpr (ISSUE_NEXT) HKT_LOAD_B(0, t_ + NS, s_, ST_)                             \
        wait_lgkm<WM * K_STEP * EB / 1024>();                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[0][1], A_tile[0], B_tile[1], C_accum[0][1]);                          \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        __builtin_amdgcn_sched_barrier(0);                                                    \
        /* phase 3: issue A0(t+NS); C10 = A1 x B0 */                                          \
        if constexpr (ISSUE_NEXT) HKT_LOAD_A(0, t_ + NS, s_, ST_)                             \
        wait_lgkm<0>();                                                                       \
        prio_hi();                                                                            \
        mma_ABt(C_accum[1][0], A_tile[1], B_tile[0], C_accum[1][0]);                          \
        prio_lo();                                                                            \
        __builtin_amdgcn_s_barrier();                                                         \
        __builtin_amdgcn_sched_barrier(0);                                                    \
        /* phase 4: issue B1(t+NS); C11 = A1 x B1; the next tile's A0/B0/B1 must be resident */ \
        if constexpr (ISSUE_NEXT) HKT_LOAD_B(1, t_ + NS, s_, ST_)                             \
        prio_hi();                                                                            \
        mma_ABt(C_accum[1][1], A_tile[1], B_tile[1], C_accum[1][1]);                          \
        prio_lo();                                                                            \
        wait_vm<W4>();                                                                        \
        __builtin_amdgcn_s_barrier();                                                         \
        __builtin_amdgcn_sched_barrier(0);                                                    \
    }
    // drain tile I: W1 guards A1(t), W4 guards B1(t+1) (A1(t+1) is guarded by the next W1)
#define HKT_DRAIN_IL(I)                                                                        \
    HKT_TILE_IL(t + (I), nxt(rem, (I)), "((rem)+" #I ")%" HKT_NS_TEXT, (I) == 0, false,        \
                ops_after_A(4 * (NS - 1 - (I))), ((I) < NS - 1) ? ops_after_B(4 * (NS - (I)) - 7) : -1)

    HKT_LOAD_B(0, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    HKT_LOAD_A(0, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    HKT_LOAD_B(1, NS - 1, NS - 1, HKT_NS_TEXT "-1")
    wait_vm<ops_after_A(4 * NS - 5)>();             // all of tile 0 (its A1 is read before any W1)
    __builtin_amdgcn_s_barrier();

    int t = 0;
#pragma unroll
    for (; t < main_end; t += NS) {
        HKT_TILE_IL(t, 0, "0", true, true, VMCNT_1, VMCNT_0)
        HKT_TILE_IL(t + 1, 1, "1", true, true, VMCNT_1, VMCNT_0)
        if constexpr (NS == 3) HKT_TILE_IL(t + 2, 2, "2", true, true, VMCNT_1, VMCNT_0)
    }
    if (rem >= 1) {
        HKT_MARK(";hkt.assume rem>=1 and remtiles==0");
        HKT_MARK(";hkt.count remtiles");
        HKT_TILE_IL(t, 0, "0", true, true, VMCNT_1, VMCNT_0)
    } else {
        HKT_MARK(";hkt.assume rem<1");
    }
    if constexpr (NS == 3) {
        if (rem >= 2) {
            HKT_MARK(";hkt.assume rem>=2 and remtiles==1");
            HKT_MARK(";hkt.count remtiles");
            HKT_TILE_IL(t + 1, 1, "1", true, true, VMCNT_1, VMCNT_0)
        } else {
            HKT_MARK(";hkt.assume rem<2");
        }
    }
    t += rem;
    HKT_MARK(";hkt.assume remtiles==rem");
    HKT_DRAIN_IL(0)
    HKT_DRAIN_IL(1)
    if constexpr (NS == 3) HKT_DRAIN_IL(2)
#undef HKT_DRAIN_IL
#undef HKT_TILE_IL
#endif
#endif  // SCHEDULE == 2
#undef HKT_PREV_ST
#undef HKT_READ_B
#undef HKT_READ_A
#undef HKT_LOAD_B
#undef HKT_LOAD_A

#if defined(HKT_FP8)
    // C = scale_a * scale_b * (A Bt^T): one scalar multiply of the fp32 accumulators, then bf16
    const float scale = g.scale_a[0] * g.scale_b[0];
    mul(C_accum[0][0], C_accum[0][0], scale);
    mul(C_accum[0][1], C_accum[0][1], scale);
    mul(C_accum[1][0], C_accum[1][0], scale);
    mul(C_accum[1][1], C_accum[1][1], scale);
#endif
    if (PRODUCERS == 0 || warp_id >= 0) {          // the MMA waves store C
        store(g.c, C_accum[0][0], {0, 0, (row * 2) * WARPS_M + warp_row, (col * 2) * WARPS_N + warp_col});
        store(g.c, C_accum[0][1], {0, 0, (row * 2) * WARPS_M + warp_row, (col * 2 + 1) * WARPS_N + warp_col});
        store(g.c, C_accum[1][0], {0, 0, (row * 2 + 1) * WARPS_M + warp_row, (col * 2) * WARPS_N + warp_col});
        store(g.c, C_accum[1][1], {0, 0, (row * 2 + 1) * WARPS_M + warp_row, (col * 2 + 1) * WARPS_N + warp_col});
    }
}

// The configuration string also lives in the code object, so a device-only build can be
// checked against what was asked for.
extern "C" __device__ __attribute__((used)) const char hktune_config_device[] = HKT_CONFIG_STRING;

#if !defined(__HIP_DEVICE_COMPILE__)
// ------------------------------- host side: the hktune C ABI -------------------------------
#if defined(HKT_FP8)
// hktune's C ABI for a scaled dtype (hktune.dtypes): the dtype's extra operands come after C.
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, const void* scale_a, const void* scale_b,
                           int M, int N, int K, void* stream) {
    if (scale_a == nullptr || scale_b == nullptr) return 1;
#else
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, int M, int N, int K, void* stream) {
#endif
    if (A == nullptr || Bt == nullptr || C == nullptr) return 1;
    if (M <= 0 || N <= 0 || K <= 0) return 1;
    if (M % BLOCK_M != 0 || N % BLOCK_N != 0 || K % K_STEP != 0) return 1;
    if (K / K_STEP < hkt::NS) return 1;                                   // pipeline depth
    if ((uint64_t)M * K * hkt::EB > 0xFFFFFFFFull || (uint64_t)N * K * hkt::EB > 0xFFFFFFFFull) return 1;  // 32-bit buffer range
    if ((uint64_t)M * N > 0x7FFFFFFFull) return 1;  // HK indexes C with int: 2^31 elements or more would wrap
#if defined(HKT_FIXED_M)
    if (M != HKT_FIXED_M) return 1;
#endif
#if defined(HKT_FIXED_N)
    if (N != HKT_FIXED_N) return 1;
#endif
#if defined(HKT_FIXED_K)
    if (K != HKT_FIXED_K) return 1;
#endif
    // Once per device, not on every launch (a launch is timed): raise the LDS limit, and read the
    // device's XCD count for the CHUNK remap (MI300X/MI325X/MI355X 8, MI300A 6, MI308X 4, a CPX
    // partition 1; 8 when the runtime cannot say).
    static bool lds_set[64] = {};
    static int xcds[64] = {};
    int dev = 0;
    if (hipGetDevice(&dev) != hipSuccess || dev < 0 || dev >= 64) return 2;
    if (!lds_set[dev]) {
        if (hipFuncSetAttribute((const void*)hktune_hk_gemm, hipFuncAttributeMaxDynamicSharedMemorySize,
                                hkt::LDS_ALLOC) != hipSuccess)
            return 2;
        int x = 0;
        xcds[dev] = (hipDeviceGetAttribute(&x, hipDeviceAttributeNumberOfXccs, dev) == hipSuccess && x > 0) ? x : 8;
        lds_set[dev] = true;
    }
    hkt::globals g{hkt::GL((hkt::IN*)A, 1, 1, M, K), hkt::GL((hkt::IN*)Bt, 1, 1, N, K), hkt::GLC((bf16*)C, 1, 1, M, N),
#if defined(HKT_FP8)
                   (const float*)scale_a, (const float*)scale_b,
#endif
                   xcds[dev]};
    dim3 grid((M / BLOCK_M) * (N / BLOCK_N));
    hipLaunchKernelGGL(hktune_hk_gemm, grid, dim3(hkt::NUM_THREADS), hkt::LDS_ALLOC, (hipStream_t)stream, g);
    return hipGetLastError() == hipSuccess ? 0 : 2;
}

extern "C" const char* hktune_config(void) { return HKT_CONFIG_STRING; }
#endif
