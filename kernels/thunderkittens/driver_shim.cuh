// Included by gemm.cu (one translation unit per config).
// ---------------------------------------------------------------- driver-API shim
// TK's host code calls cuTensorMapEncodeTiled / cuGetErrorString (libcuda). Resolving them
// through the runtime's driver entry point means the library needs no -lcuda at link time
// (no libcuda stub is needed where it is compiled); if libcuda is already loaded globally the
// dynamic linker may bind these names to it instead, which is equivalent.
namespace {
void* driver_fn(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q;
#if CUDART_VERSION >= 12050
  if (cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
      q != cudaDriverEntryPointSuccess)
    return nullptr;
#else
  if (cudaGetDriverEntryPoint(name, &fn, cudaEnableDefault, &q) != cudaSuccess ||
      q != cudaDriverEntryPointSuccess)
    return nullptr;
#endif
  return fn;
}
}  // namespace

extern "C" CUresult CUDAAPI cuTensorMapEncodeTiled(
    CUtensorMap* tensorMap, CUtensorMapDataType tensorDataType, cuuint32_t tensorRank,
    void* globalAddress, const cuuint64_t* globalDim, const cuuint64_t* globalStrides,
    const cuuint32_t* boxDim, const cuuint32_t* elementStrides, CUtensorMapInterleave interleave,
    CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill) {
  using fn_t = CUresult(CUDAAPI*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                  const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                  const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                  CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
  static fn_t fn = reinterpret_cast<fn_t>(driver_fn("cuTensorMapEncodeTiled"));
  if (!fn) return CUDA_ERROR_NOT_FOUND;
  return fn(tensorMap, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides, boxDim,
            elementStrides, interleave, swizzle, l2Promotion, oobFill);
}

extern "C" CUresult CUDAAPI cuGetErrorString(CUresult error, const char** pStr) {
  using fn_t = CUresult(CUDAAPI*)(CUresult, const char**);
  static fn_t fn = reinterpret_cast<fn_t>(driver_fn("cuGetErrorString"));
  if (!fn) {
    if (pStr) *pStr = "cuGetErrorString unavailable";
    return CUDA_ERROR_NOT_FOUND;
  }
  return fn(error, pStr);
}
