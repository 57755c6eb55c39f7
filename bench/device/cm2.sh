# Issue 22, one call (~4 min): is cuBLASLt's pair along M (nvjet_sm90_qqtst_144x128_128x6_1x2: two blocks on vertically
# adjacent 128x144 tiles, the 144-row Bt tile loaded once and multicast) what our best 128x144 form lacks at 8192^3?
#  (1) bench/independent.py (its own nvcc build, no hktune import; NaN-filled outputs checked against the fp32 reference of
#      the dequantized inputs; CUDA-graph replays >= 30 ms per arm, A B B A against torch._scaled_mm) of bench/device/cm2.yaml;
#  (2) compute-sanitizer racecheck, synccheck and memcheck of the pair at MMA_LAG 1 (PROMOTE 2 and 4), built by (1)'s
#      builder, at 512x400x768 (a partial last tile column) on 2 persistent clusters (HKTUNE_GRID_CAP), each launch's
#      NaN-poisoned output verified by the fp8 bounds (hktune.run.sanitize_launch).
. bench/device/setup.sh
R=$OUT/cm2; mkdir -p $R/build
t0=$(date +%s)
timeout ${IND_TIMEOUT:-300} python3 bench/independent.py --table ${TABLE:-bench/device/cm2.yaml} --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -18
echo "indep: $(( $(date +%s) - t0 ))s"
[ -n "$SKIP_SAN" ] || P="M_BLOCK=2 N_BLOCK=2 STAGES=5 SUPER_M=8 PERSISTENT=1 PRODUCER_REGS=24 CONSUMER_REGS=240 EPILOGUE=2 SCHED=1 WG_M=64 CLUSTER_M=2 CLUSTER_N=1 ORDER=0 MMA_LAG=1 SPLIT_K=1 STREAM_K=0 N_EXTRA=16"
for p in ${P:+2 4}; do
  lib=$(python3 -c "import sys; sys.path.insert(0, 'bench'); from pathlib import Path; from independent import build
cfg = {k: int(v) for k, v in (kv.split('=') for kv in '$P PROMOTE=$p'.split())}
print(build(cfg, Path('.tk'), Path('$R/build'), 'fp8_e4m3'))")
  for tool in racecheck synccheck memcheck; do
    extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"
    ( HKTUNE_GRID_CAP=2 timeout 150 compute-sanitizer --tool $tool $extra python3 -m hktune.run.sanitize_launch $lib 512 400 768 fp8_e4m3 > $R/$tool-p$p.log 2>&1
      echo "rc=$?" >> $R/$tool-p$p.log ) &
  done
done
wait
for f in $R/*check-p*.log; do echo "$(basename $f): $(grep -h 'SUMMARY\|wrong result' $f | head -2 | tr '\n' ' ') $(tail -1 $f)"; done
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
rm -rf $R/build; tar czf $OUT/cm2.tgz -C $OUT cm2 && rm -rf $R
