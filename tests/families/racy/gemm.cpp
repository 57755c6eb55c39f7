// Test-only kernels with real concurrency bugs (see family.yaml). Same C ABI as every family.
#include <omp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#define S2(x) #x
#define S(x) S2(x)

static float f(uint16_t h) { uint32_t u = uint32_t(h) << 16; float x; std::memcpy(&x, &u, 4); return x; }
static uint16_t b(float x) { uint32_t u; std::memcpy(&u, &x, 4); u += 0x7fffu + ((u >> 16) & 1u); return uint16_t(u >> 16); }

static float dot(const uint16_t* A, const uint16_t* B, int i, int j, int k0, int k1, int K) {
  float s = 0;
  for (int k = k0; k < k1; ++k) s += f(A[size_t(i) * K + k]) * f(B[size_t(j) * K + k]);
  return s;
}

#if FAULT == 9
// The late tile: the launch returns while a helper thread still owes the last BLOCK x BLOCK
// tile, which it writes LATE_MS later, like a kernel whose last stores are not covered by the
// synchronisation its caller waits on. Pending writes are cancelled (and the threads joined)
// when the library is unloaded, so a write never lands in memory the harness has freed.
static constexpr int LATE_MS = 50;
static std::mutex mu;
static std::condition_variable cv;
static bool unloading = false;
static std::vector<std::thread> helpers;

__attribute__((destructor)) static void join_helpers() {
  { std::lock_guard<std::mutex> g(mu); unloading = true; }
  cv.notify_all();
  for (auto& t : helpers) if (t.joinable()) t.join();
}
#endif

extern "C" int hktune_gemm(const void* A_, const void* B_, void* C_, int M, int N, int K, void*) {
  if (M % BLOCK || N % BLOCK) return 2;
  auto A = static_cast<const uint16_t*>(A_);
  auto B = static_cast<const uint16_t*>(B_);
  auto C = static_cast<uint16_t*>(C_);
#if FAULT == 10
  // Each thread owns a slice of K and adds its partial sums into one shared fp32 buffer with
  // a plain read-modify-write: snapshot, work, write back. No atomic, no critical section:
  // when two threads overlap, the later write-back erases the other's contribution.
  std::vector<float> acc(size_t(M) * N, 0.0f);
  volatile float* shared = acc.data();
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int k0 = K * t / nt, k1 = K * (t + 1) / nt;
    std::vector<float> part(size_t(M) * N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) part[size_t(i) * N + j] = dot(A, B, i, j, k0, k1, K);
    std::vector<float> snap(size_t(M) * N);
    for (size_t x = 0; x < snap.size(); ++x) snap[x] = shared[x];          // read
    volatile unsigned spin = 0;
    for (int r = 0; r < 200000; ++r) spin = spin + 1;                     // ... work ...
    for (size_t x = 0; x < snap.size(); ++x) shared[x] = snap[x] + part[x];  // write back
  }
  for (size_t x = 0; x < acc.size(); ++x) C[x] = b(acc[x]);
  return 0;
#else
#pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
#if FAULT == 9
      if (i >= M - BLOCK && j >= N - BLOCK) continue;  // left to the helper thread
#endif
      C[size_t(i) * N + j] = b(dot(A, B, i, j, 0, K, K));
    }
  }
#if FAULT == 9
  std::lock_guard<std::mutex> g(mu);
  helpers.emplace_back([=] {
    std::unique_lock<std::mutex> lk(mu);
    if (cv.wait_for(lk, std::chrono::milliseconds(LATE_MS), [] { return unloading; })) return;
    for (int i = M - BLOCK; i < M; ++i)
      for (int j = N - BLOCK; j < N; ++j) C[size_t(i) * N + j] = b(dot(A, B, i, j, 0, K, K));
  });
#elif FAULT == 11
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
#endif
  return 0;
#endif
}

extern "C" const char* hktune_config(void) { return "FAULT=" S(FAULT) ",BLOCK=" S(BLOCK); }
