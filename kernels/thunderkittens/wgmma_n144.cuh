// hktune family "thunderkittens": wgmma m64n144k32 for fp8 e4m3 with fp32 accumulation, so that ThunderKittens'
// warpgroup::mma_ABt / mm_ABt serve rt_fl<16, 144> from a 144-row Bt tile (sched.cuh, N_EXTRA = 16 with N_BLOCK 2).
// ThunderKittens' own 64x144 wrapper (kittens::detail::wgmma::base<T_D, T_AB, 144, ...>) takes bf16/half only;
// this more specialized partial specialization takes float accumulators of e4m3 inputs, both operands from
// shared memory (the only form sched.cuh issues). Why 144: an accumulator and its promoted copy of 64x144 per
// consumer are 2 x 72 registers, inside the 168 a 384-thread block allows (cuBLASLt's fp8 tile, NOTES.md).
#pragma once

namespace kittens {
namespace detail {
namespace wgmma {

template <int trans_a, int trans_b>
struct base<float, fp8e4m3, 144, trans_a, trans_b, 1> {
  // d (+)= A * B^T over one 32-deep k chunk: A from its shared-memory descriptor (64 x 32), B likewise (144 x 32);
  // scale_d 0 overwrites d (the first chunk of mm_ABt), 1 accumulates
  template <int scale_b = 1>
  __device__ static inline void st_st(rt<float, 16, 144, ducks::rt_layout::row>& d, const uint64_t a_st_desc,
                                      const uint64_t b_st_desc, int scale_d = 1) {
    static_assert(scale_b == 1 || scale_b == -1, "scale_b: 1 or -1");
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, %74, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n144k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, "
        "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
        "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, "
        "%54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71"
        "}, %72, %73, p, 1, %75;\n"
        "}\n"
        :
        "+f"(d.tiles[0][0].data[0].x), "+f"(d.tiles[0][0].data[0].y), "+f"(d.tiles[0][0].data[1].x), "+f"(d.tiles[0][0].data[1].y),
        "+f"(d.tiles[0][0].data[2].x), "+f"(d.tiles[0][0].data[2].y), "+f"(d.tiles[0][0].data[3].x), "+f"(d.tiles[0][0].data[3].y),
        "+f"(d.tiles[0][1].data[0].x), "+f"(d.tiles[0][1].data[0].y), "+f"(d.tiles[0][1].data[1].x), "+f"(d.tiles[0][1].data[1].y),
        "+f"(d.tiles[0][1].data[2].x), "+f"(d.tiles[0][1].data[2].y), "+f"(d.tiles[0][1].data[3].x), "+f"(d.tiles[0][1].data[3].y),
        "+f"(d.tiles[0][2].data[0].x), "+f"(d.tiles[0][2].data[0].y), "+f"(d.tiles[0][2].data[1].x), "+f"(d.tiles[0][2].data[1].y),
        "+f"(d.tiles[0][2].data[2].x), "+f"(d.tiles[0][2].data[2].y), "+f"(d.tiles[0][2].data[3].x), "+f"(d.tiles[0][2].data[3].y),
        "+f"(d.tiles[0][3].data[0].x), "+f"(d.tiles[0][3].data[0].y), "+f"(d.tiles[0][3].data[1].x), "+f"(d.tiles[0][3].data[1].y),
        "+f"(d.tiles[0][3].data[2].x), "+f"(d.tiles[0][3].data[2].y), "+f"(d.tiles[0][3].data[3].x), "+f"(d.tiles[0][3].data[3].y),
        "+f"(d.tiles[0][4].data[0].x), "+f"(d.tiles[0][4].data[0].y), "+f"(d.tiles[0][4].data[1].x), "+f"(d.tiles[0][4].data[1].y),
        "+f"(d.tiles[0][4].data[2].x), "+f"(d.tiles[0][4].data[2].y), "+f"(d.tiles[0][4].data[3].x), "+f"(d.tiles[0][4].data[3].y),
        "+f"(d.tiles[0][5].data[0].x), "+f"(d.tiles[0][5].data[0].y), "+f"(d.tiles[0][5].data[1].x), "+f"(d.tiles[0][5].data[1].y),
        "+f"(d.tiles[0][5].data[2].x), "+f"(d.tiles[0][5].data[2].y), "+f"(d.tiles[0][5].data[3].x), "+f"(d.tiles[0][5].data[3].y),
        "+f"(d.tiles[0][6].data[0].x), "+f"(d.tiles[0][6].data[0].y), "+f"(d.tiles[0][6].data[1].x), "+f"(d.tiles[0][6].data[1].y),
        "+f"(d.tiles[0][6].data[2].x), "+f"(d.tiles[0][6].data[2].y), "+f"(d.tiles[0][6].data[3].x), "+f"(d.tiles[0][6].data[3].y),
        "+f"(d.tiles[0][7].data[0].x), "+f"(d.tiles[0][7].data[0].y), "+f"(d.tiles[0][7].data[1].x), "+f"(d.tiles[0][7].data[1].y),
        "+f"(d.tiles[0][7].data[2].x), "+f"(d.tiles[0][7].data[2].y), "+f"(d.tiles[0][7].data[3].x), "+f"(d.tiles[0][7].data[3].y),
        "+f"(d.tiles[0][8].data[0].x), "+f"(d.tiles[0][8].data[0].y), "+f"(d.tiles[0][8].data[1].x), "+f"(d.tiles[0][8].data[1].y),
        "+f"(d.tiles[0][8].data[2].x), "+f"(d.tiles[0][8].data[2].y), "+f"(d.tiles[0][8].data[3].x), "+f"(d.tiles[0][8].data[3].y)
        : "l"(a_st_desc), "l"(b_st_desc), "r"(scale_d), "n"(scale_b));
  }
};

}  // namespace wgmma
}  // namespace detail
}  // namespace kittens
