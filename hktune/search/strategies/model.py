"""Model-guided search: a tree-ensemble cost model, on top of the space's analytical prior when it
has one, ranks the untried valid configs.

The algorithm (all choices deterministic for a given seed):

1. **Features.** Every valid config becomes one row: each knob's value, log2 of the knobs whose
   values are all powers of two, and every derived value of the space (THREADS, SMEM_BYTES,
   REG_EST, WARP_M...) from ``space.env``; constant columns are dropped and the rest scaled to
   zero mean, unit variance (the scaling matters only for distances).
2. **Initial design.** Until ``n_init`` configs have a result, picks are space-filling: greedy
   farthest-point sampling over the knob columns, from a seeded random start (never the order of
   the valid list, which is the knobs' listing order). When the space has an analytical prior
   (``prior:`` in its file, hktune.space.prior) and the shape is known, the picks are spread over
   the prior's best band only (within 10% of its best estimate), 3 instead of 6, and log(SCORE)
   becomes one more feature.
3. **Model.** An extra-trees ensemble (``n_trees`` randomised trees, no bootstrap) is fitted on
   log(objective), or with a prior on its residual against b * log(SCORE): b is the measured
   slope, shrunk towards 1 and kept in [0, 2], so a prior the results contradict fades out and
   an unmeasured config is predicted by the prior plus what the trees learnt. A failed config (None) is told to the model as clearly bad: below the worst
   result seen, so the search steers away from its neighbourhood. The per-tree predictions give
   a mean and a spread for every untried config.
4. **Acquisition.** Expected improvement over the incumbent, from the ensemble's mean and spread
   (spread floored so the ensemble's over-confidence never stops exploration).
5. **Local move.** Every ``local_every``-th pick is the best-by-acquisition neighbour of one of
   the best configs seen (neighbours differ in exactly one knob): a pattern move around the
   incumbent, which is where the model is most often right and most often short of resolution.
6. **Batches.** ``ask(n)`` picks one at a time from one model fit; after each pick the
   acquisition of the configs near it is scaled down (local penalisation), so a batch spreads
   out instead of crowding one spot.

Preferred configs (the space's seeds, warm-start configs from nearby shapes) are tried first by
the base class; their results are ordinary observations, so they train the model, and warm
configs count towards the initial design (a warm-started search goes straight to the model).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from hktune.search.strategies.base import Strategy
from hktune.space.prior import estimate
from hktune.space.space import Config, Space

N_INIT = 6          # space-filling picks before the model takes over
N_INIT_PRIOR = 3    # ... with a prior: picks from the prior's best band, spread out
PRIOR_WEIGHT = 2.0  # the prior's own slope (1) counts as this many results (_baseline)
PRIOR_BAND = 0.10   # the prior's "best" = within 10% of the best estimate (at least 4 x n_init configs)
N_TREES = 48        # extra-trees in the ensemble
LOCAL_EVERY = 3     # every 3rd model pick is a one-knob move around the best configs
MIN_SPREAD = 0.02   # floor of the ensemble spread, in log(objective) units (~2%)
MAX_DEPTH = 6       # levels of each oblivious tree
CANDIDATES = 6      # random (feature, threshold) splits tried per level; the best is kept


def _is_pow2(v: int) -> bool:
    return v > 0 and (v & (v - 1)) == 0


def features(space: Space, valid: Sequence[Config]) -> tuple[np.ndarray, np.ndarray]:
    """(all features, knob-only features) of the valid configs, scaled; constant columns dropped."""
    names = space.names
    cols: list[np.ndarray] = []
    knob_cols: list[np.ndarray] = []
    for name in names:
        v = np.array([c[name] for c in valid], dtype=float)
        knob_cols.append(v)
        cols.append(v)
        if all(_is_pow2(int(x)) for x in set(v.tolist())):
            cols.append(np.log2(v))
    derived = list(space.derived)
    if derived and valid:
        env_rows = []
        for c in valid:
            try:
                env = space.env(c)
                env_rows.append([float(env.get(d, 0)) for d in derived])
            except Exception:  # noqa: BLE001 - a derived value that cannot be computed is a 0 feature
                env_rows.append([0.0] * len(derived))
        cols.extend(np.array(env_rows, dtype=float).T)

    def scale(cs: list[np.ndarray]) -> np.ndarray:
        if not cs:
            return np.zeros((len(valid), 1))
        x = np.stack(cs, axis=1)
        sd = x.std(axis=0)
        keep = sd > 0
        if not keep.any():
            return np.zeros((len(valid), 1))
        x = x[:, keep]
        return (x - x.mean(axis=0)) / sd[keep]

    return scale(cols), scale(knob_cols)


class ModelStrategy(Strategy):
    name = "model"

    def __init__(self, space: Space, valid: Sequence[Config], seed: int = 0,
                 shape: tuple[int, int, int] | None = None, *, n_init: int | None = None,
                 n_trees: int = N_TREES, local_every: int = LOCAL_EVERY, acq: str = "ei", kappa: float = 1.0,
                 min_spread: float = MIN_SPREAD, use_prior: bool = True) -> None:
        super().__init__(space, valid, seed, shape)
        self.n_trees, self.local_every = n_trees, local_every
        self.acq, self.kappa, self.min_spread = acq, kappa, min_spread
        self.X, self.K = features(space, self.valid)
        score = estimate(space, self.valid, shape) if (use_prior and shape is not None) else None
        # log(SCORE) of every valid config: the model's baseline (it learns the residual); None: no prior
        self.prior: np.ndarray | None = None
        if score is not None and (score > 0).any():
            self.prior = np.log(np.maximum(score, score[score > 0].min() / 2))
            if self.prior.std() > 0:
                self.X = np.hstack([self.X, ((self.prior - self.prior.mean()) / self.prior.std())[:, None]])
        self.n_init = n_init if n_init is not None else (N_INIT_PRIOR if self.prior is not None else N_INIT)
        self.np_rng = np.random.default_rng(seed)
        self.obs_i: list[int] = []              # observed indices, in order
        self.obs_y: list[float | None] = []     # log(objective), None = failed
        self.picks = 0                          # model picks so far (for the local schedule)
        # Neighbours: configs that differ in exactly one knob.
        knobs = np.array([[c[n] for n in space.names] for c in self.valid], dtype=np.int64)
        self.knobs = knobs
        self._neigh: dict[int, np.ndarray] = {}

    # -- observations -------------------------------------------------------------------------------
    def _learn(self, index: int, value: float | None) -> None:
        y = math.log(value) if value is not None and value > 0 else None
        self.obs_i.append(index)
        self.obs_y.append(y)

    def neighbours(self, i: int) -> np.ndarray:
        if i not in self._neigh:
            diff = (self.knobs != self.knobs[i]).sum(axis=1)
            self._neigh[i] = np.flatnonzero(diff == 1)
        return self._neigh[i]

    # -- choosing ----------------------------------------------------------------------------------
    def _training_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        ok = [y for y in self.obs_y if y is not None]
        if not ok:
            return None
        lo, hi = min(ok), max(ok)
        bad = lo - max(0.25 * (hi - lo), 0.05)  # a failure: clearly below the worst result
        idx = np.array(self.obs_i, dtype=np.int64)
        y = np.array([bad if v is None else v for v in self.obs_y], dtype=float)
        return idx, y

    def _baseline(self) -> np.ndarray:
        """b * prior, b the slope of log(objective) on log(SCORE) over the successful results,
        shrunk towards 1 (the prior's own slope weighs as much as PRIOR_WEIGHT results) and kept
        in [0, 2]: a prior the measurements contradict fades out instead of steering."""
        if self.prior is None:
            return np.zeros(len(self.valid))
        ok = [(i, y) for i, y in zip(self.obs_i, self.obs_y) if y is not None]
        p = self.prior[[i for i, _ in ok]]
        y = np.array([v for _, v in ok])
        pc, yc = p - p.mean(), y - y.mean()
        lam = PRIOR_WEIGHT * float(pc @ pc) / len(p)
        b = (float(pc @ yc) + lam) / (float(pc @ pc) + lam) if lam > 1e-12 else 1.0
        return float(np.clip(b, 0.0, 2.0)) * self.prior

    def _space_filling(self, n: int, open_mask: np.ndarray) -> list[int]:
        """Farthest-point picks; with a prior, only among the configs it rates best."""
        out: list[int] = []
        chosen = list(self.obs_i)
        for _ in range(n):
            cand = np.flatnonzero(open_mask)
            if self.prior is not None and cand.size:
                p = self.prior[cand]
                band = p >= p.max() + math.log(1 - PRIOR_BAND)
                need = min(cand.size, 4 * self.n_init)
                if band.sum() < need:
                    band = p >= np.sort(p)[-need]
                cand = cand[band]
            if cand.size == 0:
                break
            if not chosen:
                i = int(cand[self.np_rng.integers(cand.size)])
            else:
                d = np.min(((self.K[cand][:, None, :] - self.K[chosen][None, :, :]) ** 2).sum(-1), axis=1)
                best = np.flatnonzero(d >= d.max() - 1e-9)
                i = int(cand[best[self.np_rng.integers(best.size)]])
            out.append(i)
            chosen.append(i)
            open_mask[i] = False
        return out

    def _ensemble(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-tree predictions for every valid config: shape (n_trees, n_valid)."""
        depth = int(min(MAX_DEPTH, max(2, math.ceil(math.log2(max(len(y), 2))))))
        return forest_predict(self.X[idx], y, self.X, self.n_trees, depth, self.np_rng)

    def _choose(self, n: int) -> list[int]:
        open_mask = np.zeros(len(self.valid), dtype=bool)
        open_mask[self.untried()] = True
        out: list[int] = []
        n_ok = sum(1 for y in self.obs_y if y is not None)
        done = len(self.obs_i) + len(self.pending)
        if n_ok == 0 or done < self.n_init:
            out = self._space_filling(min(n, max(self.n_init - done, 1 if n_ok == 0 else 0)), open_mask)
            if len(out) >= n or not open_mask.any():
                return out
        train = self._training_set()
        if train is None:
            return out + self._space_filling(n - len(out), open_mask)
        idx, y = train
        base = self._baseline()
        preds = self._ensemble(idx, y - base[idx]) + base   # (trees, configs): prior + learnt residual
        best_y = float(y.max())
        order_best = [self.obs_i[j] for j in np.argsort([-(v if v is not None else -np.inf) for v in self.obs_y])]
        mu = preds.mean(axis=0)
        sd = np.maximum(preds.std(axis=0), self.min_spread)
        if self.acq == "ucb":
            ei = np.exp(mu + self.kappa * sd - best_y)
        else:
            z = (mu - best_y) / sd
            ei = sd * (z * _ncdf(z) + _npdf(z))
        penalty = np.ones(len(self.valid))
        while len(out) < n and open_mask.any():
            acq = np.where(open_mask, ei * penalty, -np.inf)
            pick = -1
            self.picks += 1
            if self.local_every and self.picks % self.local_every == 0:
                for b in order_best[:3]:
                    nb = self.neighbours(b)
                    nb = nb[open_mask[nb]]
                    if nb.size:
                        pick = int(nb[np.argmax(acq[nb] + 1e-12 * mu[nb])])
                        break
            if pick < 0:
                top = np.flatnonzero(acq >= acq.max() - 1e-15)
                pick = int(top[np.argmax(mu[top])]) if top.size > 1 else int(top[0])
            out.append(pick)
            open_mask[pick] = False
            if len(out) < n:  # a batch spreads out: configs near an earlier pick of it lose acquisition
                penalty *= _near(pick, self.X)
        return out


def forest_predict(x: np.ndarray, y: np.ndarray, x_all: np.ndarray, n_trees: int, depth: int,
                   rng: np.random.Generator, candidates: int = CANDIDATES) -> np.ndarray:
    """An ensemble of randomised oblivious trees (one split per level, as in CatBoost), in numpy.

    Each level of each tree tries ``candidates`` random (feature, threshold) pairs, thresholds
    drawn uniformly between the training minimum and maximum of the feature (extra-trees style),
    and keeps the one that lowers the squared error most. A leaf predicts its training mean shrunk
    towards its parent's prediction (weight of one sample), so an empty leaf predicts its
    parent's value. Returns the predictions of every tree for every row of ``x_all``:
    (n_trees, len(x_all)). A few milliseconds for hundreds of samples and thousands of configs."""
    n = x.shape[0]
    N = x_all.shape[0]
    lo, hi = x.min(axis=0), x.max(axis=0)
    usable = np.flatnonzero(hi > lo)
    mean = float(y.mean())
    T, C = n_trees, candidates
    if usable.size == 0 or n < 2:
        return np.full((T, N), mean)
    total2 = float((y * y).sum())
    code = np.zeros((T, n), dtype=np.int64)          # leaf of each training row, per tree
    code_all = np.zeros((T, N), dtype=np.int64)      # leaf of each config, per tree
    pred = np.full((T, n), mean)
    pred_all = np.full((T, N), mean)
    trees = np.arange(T)
    for level in range(depth):
        leaves = 2 << level
        f = usable[rng.integers(usable.size, size=(T, C))]
        th = lo[f] + rng.random((T, C)) * (hi[f] - lo[f])
        bits = (x[:, f] > th).transpose(1, 2, 0)                        # (T, C, n)
        codes = code[:, None, :] * 2 + bits + (np.arange(T * C) * leaves).reshape(T, C, 1)
        flat = codes.ravel()
        cnt = np.bincount(flat, minlength=T * C * leaves).reshape(T, C, leaves)
        sm = np.bincount(flat, weights=np.broadcast_to(y, (T, C, n)).ravel(),
                         minlength=T * C * leaves).reshape(T, C, leaves)
        sse = total2 - (sm * sm / np.maximum(cnt, 1)).sum(axis=2)        # (T, C)
        c = np.argmin(sse, axis=1)                                        # best split per tree
        fc, thc = f[trees, c], th[trees, c]
        new_code = code * 2 + bits[trees, c]                              # (T, n)
        new_all = code_all * 2 + (x_all[:, fc].T > thc[:, None])          # (T, N)
        off = (trees * leaves)[:, None]
        # A leaf's prior is its parent's prediction: (sum + parent) / (count + 1); an empty
        # leaf predicts its parent's value.
        parent = np.zeros(T * leaves)
        parent[(new_all + off).ravel()] = pred_all.ravel()
        parent[(new_code + off).ravel()] = pred.ravel()
        cnt_c, sm_c = cnt[trees, c].ravel(), sm[trees, c].ravel()
        value = (sm_c + parent) / (cnt_c + 1.0)
        code, code_all = new_code, new_all
        pred, pred_all = value[code + off], value[code_all + off]
    return pred_all


_ERF = np.frompyfunc(math.erf, 1, 1)


def _ncdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _ERF(z / math.sqrt(2.0)).astype(float))


def _npdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _near(pick: int, X: np.ndarray) -> np.ndarray:
    """Local penalisation for batch asks: 0.2 at the pick itself, rising to 1 far from it, so
    the next pick of the batch is taken from elsewhere unless the pick's surroundings are far
    better than anything else."""
    d2 = ((X - X[pick]) ** 2).sum(axis=1)
    w = np.exp(-4.0 * d2 / max(1e-9, float(np.median(d2))))
    return 1.0 - 0.8 * w
