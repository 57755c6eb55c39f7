// Included by sched.cuh inside namespace hk_sched's anonymous namespace: the host side of the
// schedule kernel (split-K workspace pool, launch).
// ---------------------------------------------------------------- host
#if SPLIT_K > 1 || STREAM_K
// The split-K (and stream-K) workspace: per (device, stream), M*N floats of slots + one flag per slab.
//   * Allocated outside stream capture only (cudaMalloc is not allowed there); its flags are zeroed
//     once, stream-ordered, and every launch leaves them at 0 again.
//   * A stream being captured (a graph, e.g. torch.cuda.graph on a fresh stream) uses its own
//     workspace if it has one, else the device's largest one that fits (the stream it was warmed on):
//     such a graph must not run concurrently with plain launches of this library on that stream.
//   * A workspace is never freed while the library is loaded (a captured graph may still point at
//     it): a larger shape gets a new one of at least twice the size and the old one is retired
//     (all freed at unload), so retired memory stays below the live workspace's size.
struct Workspace { int dev = -1; cudaStream_t stream = nullptr; char* p = nullptr; size_t floats = 0, flags = 0; };
struct WorkspacePool {
  static constexpr int kSlots = 16;
  Workspace w[kSlots];
  int next = 0;
  std::vector<std::pair<int, char*>> retired;
  std::mutex mu;
  void retire(Workspace& x) {
    if (x.p) retired.emplace_back(x.dev, x.p);
    x = Workspace{};
  }
  ~WorkspacePool() {   // at unload; errors (the runtime already torn down at exit) are moot here
    for (auto& x : w) retire(x);
    for (auto& [dev, p] : retired)
      if (cudaSetDevice(dev) == cudaSuccess) cudaFree(p);
  }
};
inline WorkspacePool g_ws;

inline size_t flags_offset(size_t floats) { return (floats * sizeof(float) + 255) / 256 * 256; }

inline cudaError_t workspace(int dev, cudaStream_t stream, size_t floats, size_t flags, float** ws, int** fl) {
  std::lock_guard<std::mutex> lock(g_ws.mu);
  auto fits = [&](const Workspace& x) { return x.p && x.dev == dev && x.floats >= floats && x.flags >= flags; };
  Workspace* own = nullptr;
  for (auto& x : g_ws.w)
    if (x.p && x.dev == dev && x.stream == stream) own = &x;
  Workspace* use = own && fits(*own) ? own : nullptr;
  if (!use) {
    cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    cudaError_t e = cudaStreamIsCapturing(stream, &cs);
    if (e != cudaSuccess) return e;
    if (cs != cudaStreamCaptureStatusNone) {                // borrow the device's largest that fits
      for (auto& x : g_ws.w)
        if (fits(x) && (!use || x.floats > use->floats)) use = &x;
      if (!use) return cudaErrorStreamCaptureUnsupported;  // launch it once uncaptured first
    } else {
      if (!own) {
        own = &g_ws.w[g_ws.next];
        g_ws.next = (g_ws.next + 1) % WorkspacePool::kSlots;
      }
      const size_t nf = own->floats * 2 > floats ? own->floats * 2 : floats;
      const size_t ng = own->flags * 2 > flags ? own->flags * 2 : flags;
      g_ws.retire(*own);
      char* p = nullptr;
      if ((e = cudaMalloc(&p, flags_offset(nf) + ng * sizeof(int))) != cudaSuccess) return e;
      if ((e = cudaMemsetAsync(p + flags_offset(nf), 0, ng * sizeof(int), stream)) != cudaSuccess) {
        cudaFree(p);
        return e;
      }
      *own = Workspace{dev, stream, p, nf, ng};
      use = own;
    }
  }
  *ws = reinterpret_cast<float*>(use->p);
  *fl = reinterpret_cast<int*>(use->p + flags_offset(use->floats));
  return cudaSuccess;
}
#endif

// sa, sb: the fp8 scale pointers (HKT_FP8; gemm.cu's C ABI has checked them), nullptr for bf16.
inline int gemm(const void* A, const void* Bt, void* C, const void* sa, const void* sb, int M, int N, int K,
                void* stream) {
  if (M <= 0 || N <= 0 || K <= 0) return 1;
  // N_EXTRA: any multiple of 16 (a partial last tile column); else whole tiles
  if (M % (kBM * kCM) != 0 || N % (N_EXTRA ? 16 : kBN * kCN) != 0 || K % (kKTile * kSplit) != 0) return 1;
  if (((uintptr_t)A | (uintptr_t)Bt | (uintptr_t)C) & 15) return 1;
  const long long tasks = (long long)(M / (kBM * kCM)) * ((N + kBN * kCN - 1) / (kBN * kCN)) * kSplit;   // work units
  if (tasks > 0x7fffffffLL) return 1;

  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return (int)e;
  if (dev < 0 || dev >= 64) return 1;
  static bool ready[64] = {false};
  static int slots[64] = {0};                  // clusters that are resident at once
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = kCS;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.blockDim = dim3(kThreadsS, 1, 1);
  cfg.dynamicSmemBytes = kSmemS;
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = kCS > 1 ? 1 : 0;
  if (!ready[dev]) {
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemS);
    if (e != cudaSuccess) return (int)e;
    int sms = 0;
    e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return (int)e;
    int n = sms;
    cfg.gridDim = dim3(kCS * ((sms > kCS ? sms : kCS) / kCS), 1, 1);
    if (kCS > 1 && (cudaOccupancyMaxActiveClusters(&n, kernel, &cfg) != cudaSuccess || n <= 0)) {
      cudaGetLastError();                      // clear; fall back to one cluster per kCS SMs
      n = sms / kCS;
    }
    slots[dev] = hk_tk::grid_cap(n > 0 ? n : 1);
    ready[dev] = true;
  }
  std::optional<globals_t> gl = hk_tk::get_globals(A, Bt, C, sa, sb, M, N, K);
  if (!gl) return 1;
  // never more clusters than are resident at once: split-K's fixup relies on it (no deadlock)
#if STREAM_K
  // stream-K: every resident cluster, the tail's k steps shared among them (sched_streamk.cuh)
  const long long clusters = slots[dev];
  const sk_plan_t plan = sk_plan(tasks, clusters, K / kKTile);
  if (plan.dp + clusters * plan.span > 0x7fffffffLL) return 1;   // units_t keeps dp + a tail k step in an int
#else
  const long long clusters = tasks < slots[dev] ? tasks : slots[dev];
#endif
  cfg.gridDim = dim3((unsigned)(clusters * kCS), 1, 1);
#if STREAM_K
  float* ws = nullptr;
  int* flags = nullptr;
  e = workspace(dev, cfg.stream, (size_t)clusters * kCS * kConsumers * kSlabFloats, (size_t)clusters * kCS * kConsumers,
                &ws, &flags);
  if (e != cudaSuccess) return (int)e;
  e = cudaLaunchKernelEx(&cfg, kernel, *gl, ws, flags, (int)plan.dp, (int)plan.span, (int)plan.sk_steps);
#elif SPLIT_K > 1
  float* ws = nullptr;
  int* flags = nullptr;
  e = workspace(dev, cfg.stream, (size_t)M * N, (size_t)(M / kWgM) * (N / kBN), &ws, &flags);
  if (e != cudaSuccess) return (int)e;
  e = cudaLaunchKernelEx(&cfg, kernel, *gl, ws, flags, (int)tasks, K / kKTile / kSplit);
#else
  e = cudaLaunchKernelEx(&cfg, kernel, *gl);
#endif
  if (e != cudaSuccess) return (int)e;
  return (int)cudaGetLastError();
}
