# fp8_e4m3 through the thunderkittens schedule kernel (kernels/thunderkittens/sched.cuh, gemm.cu
# -DHKT_FP8; the opt-in space bench/tk-sched-fp8.yaml). Not yet run (written 2026-12-04 with no
# device lent; every config compiles without spills). One call, <= 8 minutes:
#  (1) compute-sanitizer, all at once: racecheck on one config per new code path (cooperative and
#      ping-pong, clusters along M and N, WG_M=128, MMA_LAG, EPILOGUE 0/1/2), memcheck + racecheck
#      on the split-K fixup (SPLIT_K 2, 4), synccheck on a cluster pair; every launch also verifies
#      its NaN-poisoned output against the fp8 dtype's bounds (hktune.run.sanitize_launch ... fp8_e4m3);
#  (2) the product: `hktune search --dtype fp8_e4m3 --space bench/tk-sched-fp8.yaml` per shape
#      (bench/tune.py; the lcf seeds are in that space too, so the search can keep them).
# Look for: 0 hazards / 0 errors and rc=0 everywhere, then whether the search picks SCHED >= 1 and
# its ratio to torch._scaled_mm against bench/device/fp8.sh's lcf result.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/fp8sched; mkdir -p $R
cfg() {  # M_BLOCK N_BLOCK STAGES EPILOGUE SCHED WG_M CLUSTER_M CLUSTER_N ORDER MMA_LAG SPLIT_K CONSUMER_REGS
  echo "M_BLOCK=$1,N_BLOCK=$2,STAGES=$3,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=${12},EPILOGUE=$4,SCHED=$5,WG_M=$6,CLUSTER_M=$7,CLUSTER_N=$8,ORDER=$9,MMA_LAG=${10},SPLIT_K=${11}"
}
# tool:name:config:shape (more tiles than SMs: blocks loop, the ring wraps; K in 128-deep steps)
SAN="racecheck:k1cm2e2:$(cfg 2 4 4 2 1 64 2 1 2 0 1 232):2048x4096x384
racecheck:k1cn2e1:$(cfg 2 4 4 1 1 64 1 2 0 0 1 232):2048x4096x384
racecheck:k1e0w128:$(cfg 2 2 4 0 1 128 1 1 0 0 1 232):2048x4096x384
racecheck:t128x192cn2:$(cfg 1 3 4 1 1 128 1 2 0 0 1 256):2048x3072x384
racecheck:pp128x128cn2lag:$(cfg 2 2 6 2 2 128 1 2 1 1 1 232):2048x4096x384
racecheck:pp64x256cm2e1:$(cfg 2 4 4 1 2 64 2 1 1 0 1 232):2048x4096x384
racecheck:k1cm2lagsk2:$(cfg 2 4 4 2 1 64 2 1 0 1 2 232):1024x2048x1024
memcheck:k1cm2lagsk2:$(cfg 2 4 4 2 1 64 2 1 0 1 2 232):1024x2048x1024
memcheck:pp128x128lagsk4:$(cfg 2 2 4 2 2 128 1 1 0 1 4 232):1024x2048x2048
synccheck:k1cm2e2:$(cfg 2 4 4 2 1 64 2 1 2 0 1 232):2048x4096x384"
t0=$(date +%s)
san_phase --space bench/tk-sched-fp8.yaml --dtype fp8_e4m3
python3 bench/tune.py --family thunderkittens --dtype fp8_e4m3 --space bench/tk-sched-fp8.yaml --out $R/search \
  --shapes 8192x8192x8192,4096x14336x4096 --trials 16 --timeout 20 --tournament-rounds 6 --no-sanitize 2>&1 | tail -12
echo "total $(( $(date +%s) - t0 ))s"
tar czf $OUT/fp8sched.tgz -C $OUT fp8sched && rm -rf $OUT/fp8sched
