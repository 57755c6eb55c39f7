// hktune family "cuda": bf16 GEMM on tensor cores through mma.sync (sm_80 / sm_90).
//
//   C[M,N] = A[M,K] * Bt[N,K]^T     A, Bt, C row-major bf16, fp32 accumulation.
//
// Building blocks: cp.async (16-byte, L1-bypassing) global->shared copies in a
// (PREFETCH+1)-stage ring, an XOR-swizzled shared layout (16-byte chunks permuted within
// each 128-byte line, so that both the cp.async stores and the ldmatrix.x4 reads are free of
// bank conflicts), ldmatrix.x4 into register fragments that are double-buffered across the
// k16 sub-steps (and across the tile boundary), mma.sync.m16n8k16 bf16 -> fp32, an epilogue
// staged through (padded) shared memory so that C is written with coalesced 16-byte stores,
// and a GROUP_M block-row swizzle of the 1-D grid for L2 reuse.
//
// Knobs (all -D integers, see configs/cuda.yaml): BLOCK_M BLOCK_N K_STEP WARPS_M WARPS_N
// PREFETCH WAIT OCCUPANCY GROUP_M. Derived values (THREADS, SMEM_BYTES, WARP_M, WARP_N, ...)
// may also arrive as -D; the kernel recomputes them and static_asserts agreement.
//
// C ABI: docs/design.md.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>

// ---------------------------------------------------------------- knobs (defaults = seed)
#ifndef BLOCK_M
#define BLOCK_M 128
#endif
#ifndef BLOCK_N
#define BLOCK_N 256
#endif
#ifndef K_STEP
#define K_STEP 32
#endif
#ifndef WARPS_M
#define WARPS_M 2
#endif
#ifndef WARPS_N
#define WARPS_N 4
#endif
#ifndef PREFETCH
#define PREFETCH 3
#endif
#ifndef WAIT
#define WAIT 2
#endif
#ifndef OCCUPANCY
#define OCCUPANCY 1
#endif
#ifndef GROUP_M
#define GROUP_M 8
#endif

#define HK_STR_(x) #x
#define HK_STR(x) HK_STR_(x)

namespace {

constexpr int kBM = BLOCK_M;
constexpr int kBN = BLOCK_N;
constexpr int kBK = K_STEP;
constexpr int kWarpsM = WARPS_M;
constexpr int kWarpsN = WARPS_N;
constexpr int kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kPrefetch = PREFETCH;
constexpr int kStages = kPrefetch + 1;
constexpr int kWait = WAIT;
constexpr int kGroupM = GROUP_M;

constexpr int kWM = kBM / kWarpsM;      // warp tile
constexpr int kWN = kBN / kWarpsN;
constexpr int kMI = kWM / 16;           // m16 fragments per warp
constexpr int kNI = kWN / 8;            // n8 fragments per warp
constexpr int kKS = kBK / 16;           // k16 sub-steps per k tile
constexpr int kCPR = kBK / 8;           // 16-byte chunks per smem row

constexpr int kTileABytes = kBM * kBK * 2;
constexpr int kTileBBytes = kBN * kBK * 2;
constexpr int kStageBytes = kTileABytes + kTileBBytes;
constexpr int kPipeBytes = kStages * kStageBytes;
constexpr int kCStride = kBN * 2 + 16;  // epilogue staging row (bytes), +16 kills conflicts
constexpr int kEpiBytes = kBM * kCStride;
constexpr int kSmemBytes = kPipeBytes > kEpiBytes ? kPipeBytes : kEpiBytes;

constexpr int kChunksA = kBM * kCPR;    // 16-byte chunks per A tile
constexpr int kChunksB = kBN * kCPR;

static_assert(kBK == 32 || kBK == 64, "K_STEP must be 32 or 64");
static_assert(kBM % kWarpsM == 0 && kBN % kWarpsN == 0, "warp layout must divide the block");
static_assert(kWM % 16 == 0, "warp tile M must be a multiple of 16 (mma m16 / ldmatrix.x4)");
static_assert(kWN % 16 == 0, "warp tile N must be a multiple of 16 (ldmatrix.x4 = two n8)");
static_assert(kChunksA % kThreads == 0 && kChunksB % kThreads == 0,
              "every thread must copy whole 16-byte chunks");
static_assert(kThreads <= 1024, "too many threads");
static_assert(kPrefetch >= 1, "PREFETCH >= 1");
static_assert(kWait >= 0 && kWait <= kPrefetch - 1, "WAIT must be in [0, PREFETCH-1]");
static_assert(kGroupM >= 1, "GROUP_M >= 1");
#ifdef THREADS
static_assert(THREADS == kThreads, "-DTHREADS disagrees with the kernel");
#endif
#ifdef SMEM_BYTES
static_assert(SMEM_BYTES == kSmemBytes, "-DSMEM_BYTES disagrees with the kernel");
#endif
#ifdef WARP_M
static_assert(WARP_M == kWM, "-DWARP_M disagrees with the kernel");
#endif
#ifdef WARP_N
static_assert(WARP_N == kWN, "-DWARP_N disagrees with the kernel");
#endif

// ---------------------------------------------------------------- PTX wrappers
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16;\n" ::"r"(dst), "l"(src)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Byte offset of 16-byte chunk `chunk` of tile row `row` in a swizzled tile. The tile is
// seen as 128-byte lines of 8 chunks (a row is 64 B for K_STEP=32: two rows a line; 128 B
// for K_STEP=64); the chunk's slot within its line is XORed with the line index mod 8.
__device__ __forceinline__ uint32_t swz(int row, int chunk) {
  const int phys = row * kCPR + chunk;
  const int line = phys >> 3;
  return static_cast<uint32_t>(((line << 3) | ((phys & 7) ^ (line & 7))) << 4);
}

// ---------------------------------------------------------------- the kernel
__global__ void __launch_bounds__(kThreads, OCCUPANCY)
    hktune_gemm_kernel(const __nv_bfloat16* __restrict__ A, const __nv_bfloat16* __restrict__ Bt,
                       __nv_bfloat16* __restrict__ C, int M, int N, int K) {
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t smem_base = smem_u32(smem);

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int warp_m = warp / kWarpsN;
  const int warp_n = warp % kWarpsN;

  // ---- GROUP_M block swizzle (Triton's GROUP_SIZE_M) over a 1-D grid
  const int grid_m = M / kBM;
  const int grid_n = N / kBN;
  int bm, bn;
  {
    const int pid = blockIdx.x;
    if (kGroupM == 1) {
      bm = pid / grid_n;
      bn = pid % grid_n;
    } else {
      const int in_group = kGroupM * grid_n;
      const int group = pid / in_group;
      const int first_m = group * kGroupM;
      const int size_m = min(grid_m - first_m, kGroupM);
      bm = first_m + (pid % in_group) % size_m;
      bn = (pid % in_group) / size_m;
    }
  }

  // ---- global -> shared copy setup: thread copies chunks tid, tid+THREADS, ...
  // Row r of the tile, chunk c: the pointer for copy i is g + i * row_step (elements).
  const __nv_bfloat16* gA = A + (size_t)(bm * kBM + tid / kCPR) * K + (tid % kCPR) * 8;
  const __nv_bfloat16* gB = Bt + (size_t)(bn * kBN + tid / kCPR) * K + (tid % kCPR) * 8;
  const size_t row_step = (size_t)(kThreads / kCPR) * K;  // rows covered by one pass

  auto load_stage = [&](int stage, int kt) {
    const uint32_t sA = smem_base + stage * kStageBytes;
    const uint32_t sB = sA + kTileABytes;
    const __nv_bfloat16* pa = gA + (size_t)kt * kBK;
    const __nv_bfloat16* pb = gB + (size_t)kt * kBK;
#pragma unroll
    for (int i = 0; i < kChunksA / kThreads; ++i) {
      const int idx = tid + i * kThreads;
      cp_async16(sA + swz(idx / kCPR, idx % kCPR), pa + i * row_step);
    }
#pragma unroll
    for (int i = 0; i < kChunksB / kThreads; ++i) {
      const int idx = tid + i * kThreads;
      cp_async16(sB + swz(idx / kCPR, idx % kCPR), pb + i * row_step);
    }
  };

  // ---- ldmatrix addressing (per lane, per k16 sub-step). Moving 16 rows down moves the
  // swizzle phase by 16*kCPR/8 lines == 0 mod 8, so the fragment offsets are constants.
  uint32_t offA[kKS], offB[kKS];
  {
    const int a_row = warp_m * kWM + (lane & 15);
    const int a_chk = lane >> 4;
    const int b_row = warp_n * kWN + ((lane >> 4) << 3) + (lane & 7);
    const int b_chk = (lane >> 3) & 1;
#pragma unroll
    for (int ks = 0; ks < kKS; ++ks) {
      offA[ks] = swz(a_row, ks * 2 + a_chk);
      offB[ks] = kTileABytes + swz(b_row, ks * 2 + b_chk);
    }
  }

  float acc[kMI][kNI][4];
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < kNI; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

  uint32_t fa[2][kMI][4];
  uint32_t fb[2][kNI / 2][4];  // one ldmatrix.x4 = {b0,b1} of n8 tile 2p and 2p+1

  auto load_frags = [&](int buf, uint32_t stage_addr, int ks) {
#pragma unroll
    for (int i = 0; i < kMI; ++i) ldsm_x4(fa[buf][i], stage_addr + offA[ks] + i * 16 * kBK * 2);
#pragma unroll
    for (int p = 0; p < kNI / 2; ++p)
      ldsm_x4(fb[buf][p], stage_addr + offB[ks] + p * 16 * kBK * 2);
  };

  auto mma_all = [&](int buf) {
#pragma unroll
    for (int i = 0; i < kMI; ++i)
#pragma unroll
      for (int jj = 0; jj < kNI; ++jj) {
        const int j = (i & 1) ? (kNI - 1 - jj) : jj;  // serpentine: reuse B regs
        mma_bf16(acc[i][j], fa[buf][i], fb[buf][j >> 1][(j & 1) * 2],
                 fb[buf][j >> 1][(j & 1) * 2 + 1]);
      }
  };

  const int KT = K / kBK;

  // ---- prologue: PREFETCH tiles in flight (empty groups keep the counting uniform)
#pragma unroll
  for (int s = 0; s < kPrefetch; ++s) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();
  }
  cp_async_wait<kWait>();
  __syncthreads();

  int read_stage = 0;
  int write_stage = kPrefetch;  // == kStages - 1
  uint32_t read_addr = smem_base;
  load_frags(0, read_addr, 0);

  // ---- main loop. Group g holds tile g. At sub-step KS-1 of tile kt, kPrefetch + kt + 1
  // groups are committed and tile kt+1 is needed: wait_group(<= kPrefetch-1) ensures it.
  // The copy into stage (kt+PREFETCH)%S == (kt-1)%S is issued only after the barrier that
  // follows the last ldmatrix of tile kt-1.
  for (int kt = 0; kt < KT; ++kt) {
#pragma unroll
    for (int ks = 0; ks < kKS; ++ks) {
      if (ks == kKS - 1) {
        cp_async_wait<kWait>();
        __syncthreads();
        read_stage = (read_stage + 1 == kStages) ? 0 : read_stage + 1;
        read_addr = smem_base + read_stage * kStageBytes;
      }
      load_frags((ks + 1) & 1, read_addr, (ks + 1) % kKS);
      if (ks == 0) {
        if (kt + kPrefetch < KT) load_stage(write_stage, kt + kPrefetch);
        cp_async_commit();
        write_stage = (write_stage + 1 == kStages) ? 0 : write_stage + 1;
      }
      mma_all(ks & 1);
    }
  }

  // ---- epilogue: fp32 -> bf16 into padded smem, then coalesced 16-byte stores
  cp_async_wait<0>();
  __syncthreads();
  {
    const int g = lane >> 2;
    const int t = lane & 3;
#pragma unroll
    for (int i = 0; i < kMI; ++i)
#pragma unroll
      for (int j = 0; j < kNI; ++j) {
        const int row = warp_m * kWM + i * 16 + g;
        const int col = warp_n * kWN + j * 8 + 2 * t;
        __nv_bfloat162 lo = __floats2bfloat162_rn(acc[i][j][0], acc[i][j][1]);
        __nv_bfloat162 hi = __floats2bfloat162_rn(acc[i][j][2], acc[i][j][3]);
        *reinterpret_cast<__nv_bfloat162*>(smem + row * kCStride + col * 2) = lo;
        *reinterpret_cast<__nv_bfloat162*>(smem + (row + 8) * kCStride + col * 2) = hi;
      }
  }
  __syncthreads();
  {
    constexpr int kCPRC = kBN / 8;  // 16-byte chunks per C row
    constexpr int kChunksC = kBM * kCPRC;
    __nv_bfloat16* gC = C + (size_t)bm * kBM * N + (size_t)bn * kBN;
#pragma unroll
    for (int i = 0; i < (kChunksC + kThreads - 1) / kThreads; ++i) {
      const int idx = tid + i * kThreads;
      if (kChunksC % kThreads == 0 || idx < kChunksC) {
        const int row = idx / kCPRC;
        const int c = idx % kCPRC;
        const uint4 v = *reinterpret_cast<const uint4*>(smem + row * kCStride + c * 16);
        *reinterpret_cast<uint4*>(gC + (size_t)row * N + c * 8) = v;
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- C ABI
extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, int M, int N, int K,
                           void* stream) {
  if (M <= 0 || N <= 0 || K <= 0) return -1;
  if (M % kBM != 0 || N % kBN != 0 || K % kBK != 0) return -1;
  if ((reinterpret_cast<uintptr_t>(A) | reinterpret_cast<uintptr_t>(Bt) |
       reinterpret_cast<uintptr_t>(C)) & 15)
    return -2;  // 16-byte copies need 16-byte aligned bases
  const long long blocks = (long long)(M / kBM) * (N / kBN);
  if (blocks > 0x7fffffffLL) return -1;

  if (kSmemBytes > 48 * 1024) {
    // Raise the dynamic shared-memory limit once per device.
    static bool raised[64] = {false};
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return (int)e;
    if (dev < 0 || dev >= 64 || !raised[dev]) {
      e = cudaFuncSetAttribute(hktune_gemm_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               kSmemBytes);
      if (e != cudaSuccess) return (int)e;
      if (dev >= 0 && dev < 64) raised[dev] = true;
    }
  }
  hktune_gemm_kernel<<<(unsigned)blocks, kThreads, kSmemBytes,
                       static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(A), static_cast<const __nv_bfloat16*>(Bt),
      static_cast<__nv_bfloat16*>(C), M, N, K);
  return (int)cudaGetLastError();
}

extern "C" const char* hktune_config(void) {
  return "BLOCK_M=" HK_STR(BLOCK_M) ",BLOCK_N=" HK_STR(BLOCK_N) ",K_STEP=" HK_STR(K_STEP)
         ",WARPS_M=" HK_STR(WARPS_M) ",WARPS_N=" HK_STR(WARPS_N) ",PREFETCH=" HK_STR(PREFETCH)
         ",WAIT=" HK_STR(WAIT) ",OCCUPANCY=" HK_STR(OCCUPANCY) ",GROUP_M=" HK_STR(GROUP_M);
}
