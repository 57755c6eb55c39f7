// Host check of sched.cuh's stream-K schedule (kernels/thunderkittens/sched_units.cuh, the code the kernel
// runs): for many (tiles, clusters, k steps per tile), the units every cluster walks cover each (tile, k step)
// exactly once; data-parallel tiles come first and whole; a piece that does not start its tile is its
// cluster's first tail unit (so every block stores at most one partial and never waits before it); the
// owner of a split tile reads exactly the clusters of its other pieces, in k order; and the clusters' work
// differs by at most one span. Prints "ok <plans>" or the first violation (exit 1).
#include <cstdio>
#include <vector>
#include "sched_units.cuh"

static int fail(const char* what, long long T, long long P, long long KS) {
  std::printf("FAIL %s (T=%lld P=%lld KS=%lld)\n", what, T, P, KS);
  return 1;
}

static int check(int T, int P, int KS) {
  const sk_plan_t pl = sk_plan(T, P, KS);
  if (T % P == 0 && pl.dp != T) return fail("even rounds must stay data-parallel", T, P, KS);
  if (pl.dp % P != 0 || pl.dp > T) return fail("dp is not whole rounds", T, P, KS);
  const int dp = (int)pl.dp, span = (int)pl.span, steps = (int)pl.sk_steps;
  std::vector<int> seen((size_t)T * KS, 0), owner_of(T, -1), first_tail(P, -1);
  std::vector<std::vector<std::pair<int, int>>> pieces(T);   // (k0, cluster) per tile
  long long lo = -1, hi = -1;
  for (int c = 0; c < P; c++) {
    units_t w(c, dp, span);
    int tile, k0, kn, n_tail = 0, work = 0;
    bool in_tail = false;
    while (w.next(c, dp, span, steps, P, KS, tile, k0, kn)) {
      if (tile < 0 || tile >= T || kn <= 0 || k0 < 0 || k0 + kn > KS) return fail("unit out of range", T, P, KS);
      for (int k = k0; k < k0 + kn; k++) seen[(size_t)tile * KS + k]++;
      work += kn;
      if (tile < dp) {
        if (in_tail || k0 != 0 || kn != KS || tile % P != c) return fail("data-parallel unit", T, P, KS);
        continue;
      }
      in_tail = true;
      if (k0 > 0 && n_tail > 0) return fail("a piece inside a tile is not its cluster's first tail unit", T, P, KS);
      if (kn < KS) pieces[tile].push_back({k0, c});
      n_tail++;
    }
    lo = lo < 0 || work < lo ? work : lo;
    hi = work > hi ? work : hi;
  }
  for (size_t i = 0; i < seen.size(); i++)
    if (seen[i] != 1) return fail("a (tile, k step) is not covered exactly once", T, P, KS);
  if (dp < T && hi - lo > span) return fail("clusters' work differs by more than one span", T, P, KS);
  for (int t = dp; t < T; t++) {
    if (pieces[t].empty()) continue;
    std::vector<std::pair<int, int>>& ps = pieces[t];
    for (size_t i = 1; i < ps.size(); i++)
      for (size_t j = i; j > 0 && ps[j].first < ps[j - 1].first; j--) std::swap(ps[j], ps[j - 1]);
    if (ps[0].first != 0) return fail("a split tile has no owner piece", T, P, KS);
    int kn0 = (ps.size() > 1 ? ps[1].first : KS);
    std::vector<int> got;
    sk_sources(t - dp, kn0, KS, span, [&](int c) { got.push_back(c); });
    if (got.size() != ps.size() - 1) return fail("owner's sources: wrong count", T, P, KS);
    for (size_t i = 1; i < ps.size(); i++) {
      if (got[i - 1] != ps[i].second) return fail("owner's sources: wrong cluster or order", T, P, KS);
      if (ps[i].second <= ps[0].second) return fail("a source cluster precedes its owner", T, P, KS);
    }
  }
  return 0;
}

int main() {
  const int Ps[] = {1, 2, 3, 5, 7, 66, 132};
  const int KSs[] = {1, 2, 3, 7, 16, 64, 128, 224};
  const int Ts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 20, 31, 64, 65, 67, 128, 131, 133, 200, 256, 263, 512};
  int plans = 0;
  for (int P : Ps)
    for (int KS : KSs)
      for (int T : Ts) {
        if (check(T, P, KS)) return 1;
        plans++;
      }
  std::printf("ok %d\n", plans);
  return 0;
}
