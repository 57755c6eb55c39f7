// hktune family "thunderkittens": the stream-K schedule of sched.cuh (STREAM_K=1) - the plan, each cluster's
// work units and an owner's sources - with no kernel dependencies, so that a host program can check it
// (tests/test_streamk.py builds one). Design: sched_streamk.cuh. Included by it (kernel) and by
// sched_host.cuh (the plan), inside namespace hk_sched's anonymous namespace; no header of its own.
#pragma once

#ifndef HK_HD
#define HK_HD __host__ __device__
#endif

// The plan for T tiles of KS k steps on P clusters: dp whole tiles first (all of them when the rounds come
// out even), then the tail's sk_steps k steps in ranges of span per cluster. 64-bit inputs; the caller
// checks that the results fit an int.
struct sk_plan_t { long long dp, span, sk_steps; };
HK_HD inline sk_plan_t sk_plan(long long T, long long P, long long KS) {
  const long long full = T / P;
  const long long dp = T % P == 0 ? T : (full > 0 ? full - 1 : 0) * P;
  const long long steps = (T - dp) * KS;
  return {dp, (steps + P - 1) / P, steps};
}

// The block's work units in order: (tile index of the persistent loop, first k step, k steps). One register
// of state: v < dp is the next data-parallel tile, v >= dp is dp + this cluster's next tail k step.
struct units_t {
  int v;
  // cid: this cluster; dp: whole tiles before the tail; span: tail k steps per cluster
  HK_HD inline units_t(int cid, int dp, int span) : v(cid < dp ? cid : dp + cid * span) {}
  // P: clusters; KS: k steps per tile; sk_steps: k steps of the tail
  HK_HD inline bool next(int cid, int dp, int span, int sk_steps, int P, int KS, int& tile, int& k0, int& kn) {
    if (v < dp) {
      tile = v;
      k0 = 0;
      kn = KS;
      v += P;
      if (v >= dp) v = dp + cid * span;
      return true;
    }
    const int pos = v - dp, end = (cid + 1) * span < sk_steps ? (cid + 1) * span : sk_steps;
    if (pos < end) {
      const int t = pos / KS;
      k0 = pos - t * KS;
      kn = KS - k0 < end - pos ? KS - k0 : end - pos;
      tile = dp + t;
      v += kn;
      return true;
    }
    return false;
  }
};

// The owner of tail tile t (the piece of its k steps 0..kn-1): f(c) for each cluster c holding one of its other
// pieces, in k order. Each such piece starts that cluster's tail range (at c * span), so it is the cluster's
// first tail unit and waits for nothing.
template <class F>
HK_HD inline void sk_sources(int t, int kn, int KS, int span, F&& f) {
  for (int s = t * KS + kn; s < (t + 1) * KS;) {
    const int c = s / span;
    f(c);
    s = (c + 1) * span;
  }
}
