// hktune family "thunderkittens": sched.cuh's tile orders (ORDER 0-2). A fragment of sched.cuh, included by it
// inside namespace hk_sched's anonymous namespace (it uses kCM, kCN); not a header of its own.
#pragma once

// Cluster tile t -> (cluster row, cluster col) of an R x Cc grid of cluster tiles.
__device__ inline int2 tile_order(int t, int R, int Cc) {
  if constexpr (ORDER == 0 || ORDER == 2) {
    constexpr int g = SUPER_M / kCM > 0 ? SUPER_M / kCM : 1;      // cluster rows per group
    const int full = (R / g) * g, rep = g * Cc;
    int2 c;
    if (t < full * Cc) {
      c = {g * (t / rep) + t % g, (t % rep) / g};
    } else {
      const int r = t - full * Cc, fr = R - full;
      c = {full + r % fr, r / fr};
    }
    // ORDER=2: serpentine - odd groups walk the columns backwards, so the Bt columns the last
    // tiles of one group read are the first the next group reads (still in L2)
    if (ORDER == 2 && ((c.x / g) & 1)) c.y = Cc - 1 - c.y;
    return c;
  } else {
    constexpr int g = SUPER_M / kCN > 0 ? SUPER_M / kCN : 1;      // cluster cols per group
    const int full = (Cc / g) * g, rep = g * R;
    if (t < full * R) return {(t % rep) / g, g * (t / rep) + t % g};
    const int r = t - full * R, fc = Cc - full;
    return {r / fc, full + r % fc};
  }
}

