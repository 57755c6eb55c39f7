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
// Fragments of this template (included below; the build key hashes them with it):
//   knobs_cdna4.inc     the knobs' derived constants, tile types and static checks
//   loads_cdna4.inc     the kernel's global->LDS loads and LDS reads (HKT_LOAD_*, HKT_READ_*)
//   sched_pp_cdna4.inc  SCHEDULE 0, ping-pong;  sched_il_cdna4.inc  SCHEDULE 1, lockstep interleave;
//   sched_pc_cdna4.inc  SCHEDULE 2, producer/consumer
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

#include "knobs_cdna4.inc"

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

    // ---- global->LDS loads and LDS reads (hoisted resources, HKT_LOAD_* / HKT_READ_*) ----
#include "loads_cdna4.inc"

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
#include "sched_pp_cdna4.inc"
#else
#include "sched_il_cdna4.inc"
#endif
#endif  // SCHEDULE == 2
    // end of the load/read macros of loads_cdna4.inc
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
