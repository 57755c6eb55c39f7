// C = scale_a * scale_b * (A Bt^T): A [M,K], Bt [N,K] OCP e4m3fn bytes, C bf16 (tests only).
#include <cmath>
#include <cstdint>
#include <cstring>
#define S2(x) #x
#define S(x) S2(x)
static float e4m3(uint8_t v) {
  const int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
  if (e == 15 && m == 7) return NAN;
  const float f = e ? std::ldexp(1.0f + m / 8.0f, e - 7) : std::ldexp(m / 8.0f, -6);
  return s ? -f : f;
}
static uint16_t bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
extern "C" int hktune_gemm(const void* A_, const void* B_, void* C_, const void* sa, const void* sb,
                           int M, int N, int K, void*) {
  if (M <= 0 || N <= 0 || K <= 0 || M % BLOCK_M) return 2;
  const auto* A = static_cast<const uint8_t*>(A_);
  const auto* B = static_cast<const uint8_t*>(B_);
  auto* C = static_cast<uint16_t*>(C_);
  const float s = *static_cast<const float*>(sa) * (DROP_SCALE ? 1.0f : *static_cast<const float*>(sb));
#pragma omp parallel for
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0;
      for (int k = 0; k < K; ++k) acc += e4m3(A[(size_t)i * K + k]) * e4m3(B[(size_t)j * K + k]);
      C[(size_t)i * N + j] = bf16(acc * s);
    }
  return 0;
}
extern "C" const char* hktune_config(void) { return "BLOCK_M=" S(BLOCK_M) ",DROP_SCALE=" S(DROP_SCALE); }
