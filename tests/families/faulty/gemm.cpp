// Test-only kernels with planted faults (see space.yaml). Same ABI as every family.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <chrono>

#define S2(x) #x
#define S(x) S2(x)
#if FAULT == 6
#error "planted compile error"
#endif

static float f(uint16_t h) { uint32_t u = uint32_t(h) << 16; float x; std::memcpy(&x, &u, 4); return x; }
static uint16_t b(float x) { uint32_t u; std::memcpy(&u, &x, 4); u += 0x7fffu + ((u >> 16) & 1u); return uint16_t(u >> 16); }

extern "C" int hktune_gemm(const void* A_, const void* B_, void* C_, int M, int N, int K, void*) {
  if (M % BLOCK || N % BLOCK) return 2;
  auto A = static_cast<const uint16_t*>(A_);
  auto B = static_cast<const uint16_t*>(B_);
  auto C = static_cast<uint16_t*>(C_);
  static int calls = 0;
  ++calls;
#if FAULT == 1
  volatile int* p = nullptr; *p = 1;             // crash: segfault
#elif FAULT == 2
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // hang
#elif FAULT == 7
  std::abort();
#endif
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
#if FAULT == 4
      if (i == M - 1 && j == N - 1) continue;   // one output never written
#endif
      float s = 0;
      int kend = K;
#if FAULT == 3
      kend = K - 1;                             // wrong: drops the last k
#endif
      for (int k = 0; k < kend; ++k) s += f(A[size_t(i) * K + k]) * f(B[size_t(j) * K + k]);
#if FAULT == 5
      if (calls % 3 == 0 && i == M / 2 && j == 0) s = -s;  // intermittent: one element, every third launch
#endif
      C[size_t(i) * N + j] = b(s);
    }
#if FAULT == 8
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
#endif
  return 0;
}

extern "C" const char* hktune_config(void) { return "FAULT=" S(FAULT) ",BLOCK=" S(BLOCK); }
