// hktune: parameterised HipKittens bf16 GEMM for CDNA3 (gfx942), HipKittens branch `cdna3`.
//
// C[M,N] = A[M,K] * Bt[N,K]^T, bf16 in/out, fp32 accumulation (HK's mma_ABt, 16x16x16 MFMA).
// Written against the HipKittens cdna3 API; modelled on the structure of HK's hand-written
// MI325X GEMM: whole-block shared tiles st_bf<BLOCK, K_STEP>, the next K tile staged through
// registers (buffer_load -> VGPRs -> ds_write), K_STEP cut into 16-wide dot slices whose LDS
// reads run one slice ahead of the MFMAs, memory and compute clusters separated by barriers,
// 8-wave ping-pong. Every choice is a -D macro; M, N, K are runtime arguments.
//
// Knobs (all required, see configs/hipkittens-gfx942.yaml):
//   BLOCK_M, BLOCK_N   output block
//   K_STEP             K per pipeline step (32 or 64 = 2 or 4 dot slices of 16)
//   WARPS_M, WARPS_N   warp grid; each wave owns two row slabs of BLOCK_M/(2*WARPS_M) rows
//                      (HK: rows warp_row and warp_row+2) and BLOCK_N/WARPS_N columns
//   PREFETCH           1 = HK: one LDS buffer, tile t+1 waits in registers and is written to
//                      LDS after the last slice of tile t has been read;
//                      2 = two LDS buffers, tile t+2 is loaded into registers during tile t
//                      and written to LDS in the middle of tile t+1 (two tiles ahead)
//   SCHEDULE           0 = 8-wave ping-pong (the two wave halves one barrier apart, as HK);
//                      1 = lockstep (no stagger), any wave count
//   VMCNT              explicit s_waitcnt vmcnt(N) before the LDS write cluster (-1 = none, as
//                      HK: the compiler's own register-dependency waits guard the ds_writes);
//                      N <= VMCNT_MAX (space file) makes it retire all A loads of that tile
//   LGKMCNT            LDS reads of the next slice allowed in flight when a slice's MFMAs start
//   OCCUPANCY          __launch_bounds__(threads, OCCUPANCY) minimum waves per SIMD
//   SETPRIO            1 = s_setprio(1)/(0) around every MFMA cluster
//   WGM                L2 grouping (1 = plain row-major block order)
//   CHUNK              XCD remap chunk for chiplet_transform_chunked (0 = no remap)
// Test-only macros (never in the space): HKT_FIXED_M/N/K make the shape compile-time;
// HKT_HK_SWIZZLED_LOADS loads through HK's load_global_to_register_buffer (swizzled resource).
// HKTUNE_PLANT_WAR (tests/test_emulator_plants.py) drops the barrier that ends each compute
// cluster, so a wave can write the next tile into an LDS buffer that the other waves still read
// (LDS write-after-read).
// The K loop (register staging, HKT_TILE, prologue, main loop) is the fragment pipeline_cdna3.inc,
// included in the kernel body (the build key hashes it with this file).
#include "kittens.cuh"
#include <cstdint>

#if !defined(KITTENS_CDNA3)
#error "gemm_cdna3.cpp is the gfx942 template: build with -DKITTENS_CDNA3 --offload-arch=gfx942"
#endif

#if !defined(BLOCK_M) || !defined(BLOCK_N) || !defined(K_STEP) || !defined(WARPS_M) || \
    !defined(WARPS_N) || !defined(PREFETCH) || !defined(SCHEDULE) || !defined(VMCNT) || \
    !defined(LGKMCNT) || !defined(OCCUPANCY) || !defined(SETPRIO) || !defined(WGM) || !defined(CHUNK)
#error "every knob must be given with -D (BLOCK_M BLOCK_N K_STEP WARPS_M WARPS_N PREFETCH SCHEDULE VMCNT LGKMCNT OCCUPANCY SETPRIO WGM CHUNK)"
#endif

#define HKT_STR2(x) #x
#define HKT_STR(x) HKT_STR2(x)
#define HKT_CONFIG_STRING                                                                    \
    "BLOCK_M=" HKT_STR(BLOCK_M) ",BLOCK_N=" HKT_STR(BLOCK_N) ",K_STEP=" HKT_STR(K_STEP)       \
    ",WARPS_M=" HKT_STR(WARPS_M) ",WARPS_N=" HKT_STR(WARPS_N) ",PREFETCH=" HKT_STR(PREFETCH)  \
    ",SCHEDULE=" HKT_STR(SCHEDULE) ",VMCNT=" HKT_STR(VMCNT) ",LGKMCNT=" HKT_STR(LGKMCNT)      \
    ",OCCUPANCY=" HKT_STR(OCCUPANCY) ",SETPRIO=" HKT_STR(SETPRIO) ",WGM=" HKT_STR(WGM)        \
    ",CHUNK=" HKT_STR(CHUNK)

using namespace kittens;

namespace hkt {

constexpr int NUM_WARPS   = WARPS_M * WARPS_N;
constexpr int NUM_THREADS = NUM_WARPS * kittens::WARP_THREADS;
constexpr int DOT_SLICE   = 16;                     // K columns per MFMA step (16x16x16 bf16)
constexpr int NSL         = K_STEP / DOT_SLICE;     // dot slices per K tile
constexpr int RM          = BLOCK_M / (2 * WARPS_M);// rows of one of a wave's two slabs
constexpr int WN          = BLOCK_N / WARPS_N;      // columns of a wave
constexpr int NBUF        = PREFETCH;               // LDS buffers

static_assert(K_STEP == 32 || K_STEP == 64, "K_STEP is 32 or 64");
static_assert(RM % 16 == 0 && WN % 16 == 0, "warp tiles must be multiples of 16");
static_assert(NUM_WARPS == 4 || NUM_WARPS == 8, "4 or 8 waves per block");
static_assert(PREFETCH == 1 || PREFETCH == 2, "PREFETCH is 1 or 2");
static_assert(SCHEDULE == 0 || SCHEDULE == 1, "SCHEDULE is 0 (ping-pong) or 1 (lockstep)");
static_assert(SCHEDULE != 0 || NUM_WARPS == 8, "the ping-pong schedule needs 8 waves");
static_assert(WGM >= 1 && CHUNK >= 0, "WGM >= 1, CHUNK >= 0");
static_assert(LGKMCNT >= 0 && LGKMCNT <= 15, "lgkmcnt is 4 bits on gfx9");

using ST_A = st_bf<BLOCK_M, K_STEP>;
using ST_B = st_bf<BLOCK_N, K_STEP>;
using RT_A = rt_bf<RM, DOT_SLICE>;
using RT_B = rt_bf<WN, DOT_SLICE>;
using RT_C = rt_fl<RM, WN, ducks::rt_layout::col>;
using GL   = gl<bf16, -1, -1, -1, -1>;

// register staging: 16-byte buffer loads per thread for one K tile of A / of B
constexpr int LAR = BLOCK_M * K_STEP / 8 / NUM_THREADS;
constexpr int LBR = BLOCK_N * K_STEP / 8 / NUM_THREADS;
static_assert(LAR >= 1 && LAR * 8 * NUM_THREADS == BLOCK_M * K_STEP, "A tile must be whole 16B loads per thread");
static_assert(LBR >= 1 && LBR * 8 * NUM_THREADS == BLOCK_N * K_STEP, "B tile must be whole 16B loads per thread");

// ds_read_b64 per dot slice (two A slabs and the B tile)
constexpr int READS_PER_SLICE = 2 * (RM / 16) + WN / 16;
static_assert(LGKMCNT <= READS_PER_SLICE, "LGKMCNT above the reads of a slice is a no-op");

// cluster where B's global loads are issued, and where registers are written to LDS
constexpr int JB = NSL >= 4 ? NSL / 2 : 0;
constexpr int JS = PREFETCH == 1 ? NSL - 1 : NSL / 2;
// VMCNT that still retires every A load of the tile being written to LDS
constexpr int VMCNT_MAX_SAFE = LBR + (PREFETCH == 2 ? LAR + (JB < JS ? LBR : 0) : 0);
static_assert(VMCNT >= -1 && VMCNT <= VMCNT_MAX_SAFE, "VMCNT out of range of the loads in flight");

constexpr int LDS_ALLOC = NBUF * (int)(sizeof(ST_A) + sizeof(ST_B));
static_assert(LDS_ALLOC == NBUF * (BLOCK_M + BLOCK_N) * K_STEP * 2, "LDS accounting");
static_assert(LDS_ALLOC <= 65536, "gfx942 has 64 KiB of LDS per CU");
#ifdef LDS_BYTES
static_assert(LDS_BYTES == LDS_ALLOC, "space file's LDS_BYTES disagrees with what the template allocates");
#endif
#ifdef THREADS
static_assert(THREADS == NUM_THREADS, "space file's THREADS disagrees with the template");
#endif

// Markers for the static checks (hktune/build/amd/lds.py): assembler comments naming the LDS
// buffer each group of ds_write / ds_read accesses (";hkt.write AB s=0", ";hkt.read AB s=1") and
// the schedule's barrier model (";hkt.barrier_lag 1": ping-pong, one wave group a barrier behind).
// They emit no instructions. -DHKT_NO_MARKERS drops them.
#if defined(HKT_NO_MARKERS)
#define HKT_MARK(text) ((void)0)
#else
#define HKT_MARK(text) asm volatile(text)
#endif
#if SCHEDULE == 0
#define HKT_BARRIER_LAG "1"
#else
#define HKT_BARRIER_LAG "0"
#endif

#if defined(HKTUNE_PLANT_WAR)
#define HKT_PLANT_BARRIER() ((void)0)
#else
#define HKT_PLANT_BARRIER() __builtin_amdgcn_s_barrier()
#endif

struct globals {
    GL a;
    GL b;
    GL c;
    int num_xcds;   // XCDs of the device (HIP's NumberOfXccs, read once per device): HK's NUM_XCDS is a constant 8
};

template<int N> __device__ __forceinline__ void wait_vm() {
    if constexpr (N >= 0) asm volatile("s_waitcnt vmcnt(%0)" ::"n"(N));
}
template<int N> __device__ __forceinline__ void wait_lgkm() {
    if constexpr (N >= 0) asm volatile("s_waitcnt lgkmcnt(%0)" ::"n"(N));
}
// the sched_barriers pin each MFMA cluster after the s_waitcnt that makes its inline-asm
// ds_read operands valid (the compiler does not know those outputs arrive late)
__device__ __forceinline__ void prio_hi() {
    __builtin_amdgcn_sched_barrier(0);
    if constexpr (SETPRIO) __builtin_amdgcn_s_setprio(1);
}
__device__ __forceinline__ void prio_lo() {
    if constexpr (SETPRIO) __builtin_amdgcn_s_setprio(0);
    __builtin_amdgcn_sched_barrier(0);
}

// Global -> registers for one ROWS x K_STEP tile (tile_row, u): thread t holds the 16-byte chunks
// t, t + NUM_THREADS, ... in row-major chunk order - the layout store_register_buffer_to_shared
// reads. The buffer resource has no stride and no swizzle bit (make_srsrc without a row stride),
// so these offset-only loads address memory linearly whatever K is. (HK's
// load_global_to_register_buffer passes the row stride, which make_srsrc masks to 14 bits and
// then sets the swizzle bits - for K = 14336 or 11008 that is a swizzled buffer whose addressing
// the CDNA3 documents here do not settle; issue 23.)
template<int ROWS, int NLOADS>
__device__ __forceinline__ void gload_tile(float4 (&dst)[NLOADS], const GL& src, int tile_row, int u) {
    constexpr int CHUNKS_PER_ROW = K_STEP * (int)sizeof(bf16) / 16;
    static_assert(NLOADS * NUM_THREADS * 16 == ROWS * K_STEP * (int)sizeof(bf16), "whole 16-byte chunks per thread");
    const int row_stride = src.template stride<2>();                  // elements
    const bf16* base = &src[{0, 0, tile_row * ROWS, u * K_STEP}];
    const i32x4 rsrc = make_srsrc(base, (uint32_t)(row_stride * ROWS * (int)sizeof(bf16)));  // no stride: no swizzle
    const int lane = threadIdx.x % NUM_THREADS;
#pragma unroll
    for (int i = 0; i < NLOADS; i++) {
        const int chunk = i * NUM_THREADS + lane;
        const int r = chunk / CHUNKS_PER_ROW, c = (chunk % CHUNKS_PER_ROW) * 8;
        __uint128_t raw = llvm_amdgcn_raw_buffer_load_b128(rsrc, (uint32_t)((r * row_stride + c) * (int)sizeof(bf16)), 0, 0);
        dst[i] = *reinterpret_cast<float4*>(&raw);
    }
}

} // namespace hkt

using namespace hkt;

__global__ __launch_bounds__(hkt::NUM_THREADS, OCCUPANCY)
void hktune_hk_gemm(const hkt::globals g) {
    extern __shared__ alignment_dummy __shm[];
    shared_allocator al((int*)&__shm[0]);
    ST_A (&As)[NBUF] = al.allocate<ST_A, NBUF>();
    ST_B (&Bs)[NBUF] = al.allocate<ST_B, NBUF>();

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

    RT_A a_reg[2][2];                                // [slice parity][slab]
    RT_B b_reg[2];                                   // [slice parity]
    RT_C C_accum[2];
    zero(C_accum[0]);
    zero(C_accum[1]);

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

    const int warp_id  = kittens::warpid();
    const int warp_row = warp_id / WARPS_N;
    const int warp_col = warp_id % WARPS_N;
    const int num_tiles = K / K_STEP;
    const int pp = warp_id / (NUM_WARPS / 2);       // ping-pong group (HK: warp_row with 2x4)

#include "pipeline_cdna3.inc"

    store(g.c, C_accum[0], {0, 0, row * (BLOCK_M / RM) + warp_row, col * WARPS_N + warp_col});
    store(g.c, C_accum[1], {0, 0, row * (BLOCK_M / RM) + WARPS_M + warp_row, col * WARPS_N + warp_col});
}

extern "C" __device__ __attribute__((used)) const char hktune_config_device[] = HKT_CONFIG_STRING;

#if !defined(__HIP_DEVICE_COMPILE__)
// ------------------------------- host side: the hktune C ABI -------------------------------
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, int M, int N, int K, void* stream) {
    if (A == nullptr || Bt == nullptr || C == nullptr) return 1;
    if (M <= 0 || N <= 0 || K <= 0) return 1;
    if (M % BLOCK_M != 0 || N % BLOCK_N != 0 || K % (K_STEP * PREFETCH) != 0) return 1;
    if (K / K_STEP < PREFETCH + 1) return 1;
    if ((uint64_t)M * K * 2 > 0xFFFFFFFFull || (uint64_t)N * K * 2 > 0xFFFFFFFFull) return 1;
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
    hkt::globals g{hkt::GL((bf16*)A, 1, 1, M, K), hkt::GL((bf16*)Bt, 1, 1, N, K), hkt::GL((bf16*)C, 1, 1, M, N), xcds[dev]};
    dim3 grid((M / BLOCK_M) * (N / BLOCK_N));
    hipLaunchKernelGGL(hktune_hk_gemm, grid, dim3(hkt::NUM_THREADS), hkt::LDS_ALLOC, (hipStream_t)stream, g);
    return hipGetLastError() == hipSuccess ? 0 : 2;
}

extern "C" const char* hktune_config(void) { return HKT_CONFIG_STRING; }
#endif
