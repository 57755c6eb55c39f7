// hktune host family: a blocked bf16 GEMM for the CPU, C = A * Bt^T, fp32 accumulation.
// A [M,K], Bt [N,K], C [M,N], all row-major bf16. Knobs arrive as -D defines (configs/host.yaml).
#include <cstdint>
#include <cstring>
#include <vector>

#if !defined(BLOCK_M) || !defined(BLOCK_N) || !defined(BLOCK_K) || !defined(MICRO_M) || !defined(SCHEDULE)
#error "host gemm needs -DBLOCK_M -DBLOCK_N -DBLOCK_K -DMICRO_M -DSCHEDULE"
#endif
static_assert(BLOCK_M % MICRO_M == 0, "BLOCK_M must be a multiple of MICRO_M");

#define HKT_STR2(x) #x
#define HKT_STR(x) HKT_STR2(x)

namespace {

inline float bf16_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even, as torch does
  return static_cast<uint16_t>(u >> 16);
}

// One (BLOCK_M x BLOCK_N) tile of C. The k chunk of A and Bt is converted to fp32 once (Bt
// transposed to k-major), so the inner loop is an axpy over contiguous columns that the
// compiler vectorises without reassociating sums; MICRO_M rows share each loaded row of b.
inline void tile(const uint16_t* A, const uint16_t* B, uint16_t* C, int N, int K, int bi, int bj,
                 float* a, float* b, float* acc) {
  std::fill(acc, acc + BLOCK_M * BLOCK_N, 0.0f);
  for (int k0 = 0; k0 < K; k0 += BLOCK_K) {
    for (int i = 0; i < BLOCK_M; ++i) {
      const uint16_t* src = A + static_cast<size_t>(bi * BLOCK_M + i) * K + k0;
      for (int kk = 0; kk < BLOCK_K; ++kk) a[i * BLOCK_K + kk] = bf16_to_float(src[kk]);
    }
    for (int j = 0; j < BLOCK_N; ++j) {
      const uint16_t* src = B + static_cast<size_t>(bj * BLOCK_N + j) * K + k0;
      for (int kk = 0; kk < BLOCK_K; ++kk) b[kk * BLOCK_N + j] = bf16_to_float(src[kk]);
    }
    for (int i = 0; i < BLOCK_M; i += MICRO_M) {
      for (int kk = 0; kk < BLOCK_K; ++kk) {
        const float* br = b + kk * BLOCK_N;
        for (int u = 0; u < MICRO_M; ++u) {
          const float av = a[(i + u) * BLOCK_K + kk];
          float* cr = acc + (i + u) * BLOCK_N;
          for (int j = 0; j < BLOCK_N; ++j) cr[j] += av * br[j];
        }
      }
    }
  }
  for (int i = 0; i < BLOCK_M; ++i) {
    uint16_t* dst = C + static_cast<size_t>(bi * BLOCK_M + i) * N + bj * BLOCK_N;
    for (int j = 0; j < BLOCK_N; ++j) dst[j] = float_to_bf16(acc[i * BLOCK_N + j]);
  }
}

}  // namespace

extern "C" int hktune_gemm(const void* A_, const void* Bt_, void* C_, int M, int N, int K, void* /*stream*/) {
  if (M <= 0 || N <= 0 || K <= 0) return 1;
  if (M % BLOCK_M || N % BLOCK_N || K % BLOCK_K) return 2;  // illegal shape: never run
  const auto* A = static_cast<const uint16_t*>(A_);
  const auto* B = static_cast<const uint16_t*>(Bt_);
  auto* C = static_cast<uint16_t*>(C_);
  const int mb = M / BLOCK_M, nb = N / BLOCK_N;
#pragma omp parallel
  {
    std::vector<float> a(BLOCK_M * BLOCK_K), b(BLOCK_N * BLOCK_K), acc(BLOCK_M * BLOCK_N);
#if SCHEDULE == 0
#pragma omp for collapse(2) schedule(static)
#else
#pragma omp for collapse(2) schedule(dynamic)
#endif
    for (int bi = 0; bi < mb; ++bi)
      for (int bj = 0; bj < nb; ++bj) tile(A, B, C, N, K, bi, bj, a.data(), b.data(), acc.data());
  }
  return 0;
}

extern "C" const char* hktune_config(void) {
  return "BLOCK_M=" HKT_STR(BLOCK_M) ",BLOCK_N=" HKT_STR(BLOCK_N) ",BLOCK_K=" HKT_STR(BLOCK_K)
         ",MICRO_M=" HKT_STR(MICRO_M) ",SCHEDULE=" HKT_STR(SCHEDULE);
}
