// hktune family "thunderkittens": sched.cuh's epilogue for N_EXTRA 16 (fp8 128x144 tiles). A fragment of
// sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it uses acc_t, kBN, globals_t);
// not a header of its own.
#pragma once

// Registers -> global for a tile whose last columns may lie past N (N_EXTRA): bf16 pairs in ThunderKittens'
// row-major fragment order (rows lane/4 and +8, columns 2*(lane%4) and +8 of each 16x16 block); N is a multiple
// of 16, so a pair is wholly in or out.
__device__ inline void store_guarded(const globals_t& g, const acc_t& acc, int row0, int col0) {
  const int N = g.C.cols(), lane = laneid();
  bf16* C = g.C.raw_ptr;
  const int r = row0 + 16 * warpgroup::warpid() + lane / 4;
#pragma unroll
  for (int j = 0; j < kBN / 16; j++) {
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int c = col0 + 16 * j + 2 * (lane % 4) + 8 * (q >> 1);
      if (c < N)
        *reinterpret_cast<bf16_2*>(C + (size_t)(r + 8 * (q & 1)) * N + c) = __float22bfloat162_rn(acc.tiles[0][j].data[q]);
    }
  }
}
