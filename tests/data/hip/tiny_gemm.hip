// A tiny bf16 GEMM with the hktune C ABI (docs/design.md), for the HIP compiler tests.
// C[M,N] = A[M,K] * Bt[N,K]^T, bf16 storage (raw 16 bits), fp32 accumulation. Each wave64
// computes a 16x16 tile of C with v_mfma_f32_16x16x16bf16_1k (gfx90a / gfx942 / gfx950);
// a block of (BLOCK_M/16) x (BLOCK_N/16) waves stages BLOCK_K-wide slices of A and Bt in LDS.
#include <hip/hip_runtime.h>
#include <stdint.h>

#ifndef BLOCK_M
#define BLOCK_M 32
#endif
#ifndef BLOCK_N
#define BLOCK_N 32
#endif
#ifndef BLOCK_K
#define BLOCK_K 32
#endif
#define WAVES_M (BLOCK_M / 16)
#define WAVES_N (BLOCK_N / 16)
#define THREADS (WAVES_M * WAVES_N * 64)
static_assert(BLOCK_M % 16 == 0 && BLOCK_N % 16 == 0 && BLOCK_K % 16 == 0, "tiles are multiples of 16");

typedef short bf16x4 __attribute__((ext_vector_type(4)));
typedef float floatx4 __attribute__((ext_vector_type(4)));

__device__ inline uint16_t to_bf16(float x) {
  uint32_t u = __float_as_uint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);                      // round to nearest even
  return (uint16_t)(u >> 16);
}

__global__ __launch_bounds__(THREADS) void tiny_gemm(const uint16_t* __restrict__ A,
                                                     const uint16_t* __restrict__ Bt,
                                                     uint16_t* __restrict__ C, int M, int N, int K) {
  __shared__ uint16_t As[BLOCK_M][BLOCK_K];
  __shared__ uint16_t Bs[BLOCK_N][BLOCK_K];
  const int tid = threadIdx.x, wave = tid / 64, lane = tid % 64;
  const int wm = wave / WAVES_N, wn = wave % WAVES_N;
  const int m0 = blockIdx.y * BLOCK_M, n0 = blockIdx.x * BLOCK_N;
  floatx4 acc = {0.f, 0.f, 0.f, 0.f};
  for (int k0 = 0; k0 < K; k0 += BLOCK_K) {
    for (int i = tid; i < BLOCK_M * BLOCK_K; i += THREADS)
      As[i / BLOCK_K][i % BLOCK_K] = A[(size_t)(m0 + i / BLOCK_K) * K + k0 + i % BLOCK_K];
    for (int i = tid; i < BLOCK_N * BLOCK_K; i += THREADS)
      Bs[i / BLOCK_K][i % BLOCK_K] = Bt[(size_t)(n0 + i / BLOCK_K) * K + k0 + i % BLOCK_K];
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BLOCK_K; kk += 16) {
      bf16x4 a, b;  // lane holds row (lane % 16), k = kk + 4 * (lane / 16) + j
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        a[j] = (short)As[wm * 16 + lane % 16][kk + 4 * (lane / 16) + j];
        b[j] = (short)Bs[wn * 16 + lane % 16][kk + 4 * (lane / 16) + j];
      }
      acc = __builtin_amdgcn_mfma_f32_16x16x16bf16_1k(a, b, acc, 0, 0, 0);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)  // lane holds C[4 * (lane / 16) + i][lane % 16] of the wave's tile
    C[(size_t)(m0 + wm * 16 + 4 * (lane / 16) + i) * N + n0 + wn * 16 + lane % 16] = to_bf16(acc[i]);
}

#define HKTUNE_STR_(x) #x
#define HKTUNE_STR(x) HKTUNE_STR_(x)

extern "C" const char* hktune_config(void) {
  return "BLOCK_M=" HKTUNE_STR(BLOCK_M) ",BLOCK_N=" HKTUNE_STR(BLOCK_N) ",BLOCK_K=" HKTUNE_STR(BLOCK_K);
}

extern "C" int hktune_gemm(const void* A, const void* Bt, void* C, int M, int N, int K, void* stream) {
  if (M <= 0 || N <= 0 || K <= 0 || M % BLOCK_M || N % BLOCK_N || K % BLOCK_K) return 1;
  hipLaunchKernelGGL(tiny_gemm, dim3(N / BLOCK_N, M / BLOCK_M), dim3(THREADS), 0, (hipStream_t)stream,
                     (const uint16_t*)A, (const uint16_t*)Bt, (uint16_t*)C, M, N, K);
  return (int)hipGetLastError();
}
