"""The named configs bench/tk_kernel_check.py checks (the thunderkittens family's knobs, in the
order of its hktune_config() string), the default list and shapes, and a config's tile."""
from __future__ import annotations

PARAMS = ["M_BLOCK", "N_BLOCK", "STAGES", "SUPER_M", "PERSISTENT", "PRODUCER_REGS",
          "CONSUMER_REGS", "EPILOGUE", "SCHED", "WG_M", "CLUSTER_M", "CLUSTER_N", "ORDER", "MMA_LAG", "SPLIT_K",
          "PROMOTE", "STREAM_K", "N_EXTRA"]


def cfg(mb, nb, st, sm, pers=1, pr=40, cr=232, epi=1, sched=0, wgm=64, cm=1, cn=1, order=0, lag=0, sk=1, promote=0,
        stream_k=0, n_extra=0):
    return dict(zip(PARAMS, (mb, nb, st, sm, pers, pr, cr, epi, sched, wgm, cm, cn, order, lag, sk, promote, stream_k,
                             n_extra)))


def tile(params):
    """(rows, cols) of the smallest legal M and N step: one tile (or cluster pair of tiles)."""
    rows = params["WG_M"] * (1 if params["SCHED"] == 2 else params["M_BLOCK"])
    return rows * params["CLUSTER_M"], 64 * params["N_BLOCK"] * params["CLUSTER_N"]


# name -> params. The first three are the seeds of configs/thunderkittens-sm_90.yaml
# (ThunderKittens' shipped <M_BLOCK, N_BLOCK, SUPER_M> choices).
CONFIGS = {
    "s2x4g8": cfg(2, 4, 4, 8),
    "s2x4g12": cfg(2, 4, 4, 12),
    "s2x4g1": cfg(2, 4, 4, 1),
    "2x4g8e0": cfg(2, 4, 4, 8, epi=0),
    "2x4g8np": cfg(2, 4, 4, 8, pers=0),
    "2x4g8np_e0": cfg(2, 4, 4, 8, pers=0, epi=0),
    "2x4g8s3": cfg(2, 4, 3, 8),
    "2x4g8s2": cfg(2, 4, 2, 8),
    "2x4g8r24": cfg(2, 4, 4, 8, pr=24, cr=240),
    "2x4g16": cfg(2, 4, 4, 16),
    "2x4g4": cfg(2, 4, 4, 4),
    "2x2g8s6": cfg(2, 2, 6, 8),
    "1x4g8s5": cfg(1, 4, 5, 8, pr=24, cr=256),
    "3x3g8s4": cfg(3, 3, 4, 8, pr=24, cr=160),   # 192x192 tiles: only legal at some shapes
}
DEFAULT = list(CONFIGS)
# the schedule knobs (SCHED >= 1, kernels/thunderkittens/sched.cuh): asked for by name
# (bench/device/hopper.sh); not in the default list
CONFIGS.update({
    "k1e1": cfg(2, 4, 4, 8, sched=1),                           # cooperative, no cluster
    "k1e2": cfg(2, 4, 4, 8, epi=2, sched=1),                    # + stores drain under the next tile
    "k1e0": cfg(2, 4, 4, 8, epi=0, sched=1),
    "k1cm2e2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2),           # cluster pair along M, Bt multicast
    "k1cm2e2s3": cfg(2, 4, 3, 8, epi=2, sched=1, cm=2),
    "k1cm2e1g16": cfg(2, 4, 4, 16, epi=1, sched=1, cm=2),
    "k1cn2e2": cfg(2, 4, 4, 8, epi=2, sched=1, cn=2),           # cluster pair along N, A multicast
    "k1cn2e1": cfg(2, 4, 4, 8, epi=1, sched=1, cn=2),
    "k1cm2o1": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, order=1),  # column-group tile order
    "k1o1": cfg(2, 4, 4, 4, epi=2, sched=1, order=1),
    "k1cm2lag": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, lag=1),     # a k step's wgmma kept in flight
    "pp64x256cm2lag": cfg(2, 4, 4, 8, epi=2, sched=2, cm=2, lag=1),
    "pp128x128lag": cfg(2, 2, 6, 8, epi=2, sched=2, wgm=128, lag=1),
    "t256x128cn2lag": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, cn=2, lag=1),
    "k1cm2o2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, order=2),  # serpentine groups
    "t256x128cn2": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, cn=2),
    "t256x128": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128),
    "t128x128cm2": cfg(1, 2, 6, 8, cr=256, epi=2, sched=1, wgm=128, cm=2),
    "t128x128": cfg(2, 2, 6, 8, epi=2, sched=1),
    "pp64x256": cfg(2, 4, 4, 8, epi=2, sched=2),                # ping-pong, 64x256 per consumer
    "pp64x256cm2": cfg(2, 4, 4, 8, epi=2, sched=2, cm=2),
    "pp128x128": cfg(2, 2, 6, 8, epi=2, sched=2, wgm=128),
    "pp128x128cm2e1": cfg(2, 2, 6, 8, epi=1, sched=2, wgm=128, cm=2),
    # split-K (SPLIT_K > 1: (tile, K slice) work units, in-order fixup in an fp32 workspace;
    # bench/device/splitk.sh), each next to its SPLIT_K=1 config above
    "k1cm2e2sk2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, sk=2),
    "k1cm2e2sk4": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, sk=4),
    "pp64x256sk2": cfg(2, 4, 4, 8, epi=2, sched=2, sk=2),
    "pp64x256sk4": cfg(2, 4, 4, 8, epi=2, sched=2, sk=4),
    "t256x128sk2": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, sk=2),     # two m64 halves per consumer
    "k1e0sk4": cfg(2, 4, 4, 8, epi=0, sched=1, sk=4),                   # registers -> global epilogue
    "k1cn2lagsk2": cfg(2, 4, 4, 8, epi=1, sched=1, cn=2, lag=1, sk=2),
})
SHAPES = "4096x4096x4096,8192x8192x8192,4096x14336x4096,16384x8192x1024,2048x2048x2048"
