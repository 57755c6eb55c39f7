// hktune family "thunderkittens": sched.cuh's EPILOGUE 3 (fp8, PROMOTE > 0, MMA_LAG 1, whole-K units). A fragment of
// sched.cuh, included by it inside namespace hk_sched's anonymous namespace (it uses its acc_t, c_tile_t, part_t,
// epi_t and knobs); not a header of its own.
//
// A tile's epilogue (C = scale_a * scale_b * acc, through the consumer's two C buffers and TMA stores, as EPILOGUE 2)
// runs inside the next tile's main loop, after that tile's first k step is issued into a promotion partial
// (main_loop_promoted), so the tensor cores work through it instead of idling while both consumers store. ptxas drains
// every wgmma in flight at a branch it cannot see past (C7517: "warpgroup.wait is injected"), so the epilogue has none:
// every thread runs the read wait (a no-op where no store was issued) and the store is one predicated instruction.
#pragma once

// The TMA store of one C buffer by the consumer's first thread, predicated, not branched.
__device__ inline void store_c(const globals_t& g, c_tile_t& buf, int row, int col, bool issuer) {
  static_assert(c_tile_t::swizzle, "the C buffers are swizzled tiles (5-d tensor map)");
  const uint64_t tmap = reinterpret_cast<uint64_t>(g.C.template get_tma<c_tile_t, 2>());
  const uint32_t src = static_cast<uint32_t>(__cvta_generic_to_shared(&buf));
  const int4 c = kittens::tma::detail::tma_coords<c_tile_t, 2>(kittens::coord<c_tile_t>{row, col}.template unit_coord<2, 3>());
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  asm volatile("{\n .reg .pred p;\n setp.ne.u32 p, %7, 0;\n"
               " @p cp.async.bulk.tensor.5d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4, %5, %6}], [%1];\n"
               " @p cp.async.bulk.commit_group;\n}\n"
               :: "l"(tmap), "r"(src), "n"(0), "r"(c.x), "r"(c.y), "r"(c.z), "r"(c.w), "r"((uint32_t)issuer) : "memory");
}

// Tile bt's C from acc (this consumer's rows), then acc zeroed for the tile in flight; `on` false (before the first
// tile): the buffers are written, nothing is stored.
__device__ inline void flush_c(const globals_t& g, acc_t (&acc)[kHalves], epi_t* epi, int2 bt, int wg, int& ebuf, bool on) {
  const float scale = g.scale_a[0] * g.scale_b[0];    // read per tile, from L2
  const int row64 = bt.x * kASub + wg * kHalves;
  const bool issuer = on && warpgroup::laneid() == 0;
#pragma unroll
  for (int h = 0; h < kHalves; h++) {
    kittens::warp::mul(acc[h], acc[h], scale);
#pragma unroll
    for (int j = 0; j < kBN / kCBox; j++) {
      c_tile_t& buf = epi->c[wg][ebuf];
      tma::store_async_read_wait<1>();                  // buf's last store read out
      warpgroup::sync(1 + wg);
      part_t part;
#pragma unroll
      for (int q = 0; q < kCBox / 16; q++) part.tiles[0][q] = acc[h].tiles[0][(kCBox / 16) * j + q];
      warpgroup::store(buf, part);
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      warpgroup::sync(1 + wg);
      store_c(g, buf, row64 + h, bt.y * (kBN / kCBox) + j, issuer);
      ebuf ^= 1;
    }
    kittens::warp::zero(acc[h]);
  }
}
