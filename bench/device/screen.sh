# Screen named thunderkittens configs with the product's own timing: `hktune bench` (CUDA-graph replays of
# >= 30 ms per arm, A B B A against the vendor on rotated random inputs, NaN-poisoned outputs verified).
# SCREEN: lines "name:dtype:config:shapes" (shapes comma-separated); default: issue 22's fp8 kernels with a
# cluster pair along N (TMA multicast of the A tiles: the L2 -> SM traffic per FLOP that a 128x128 or
# 256x128 fp8 tile needs is what 128x128 runs short of) beside the same kernels without, and issue 21's
# 256x128 bf16 kernel with and without the pair. All builds first, in parallel; one summary table last.
. bench/device/setup.sh
R=$OUT/screen; mkdir -p $R
. bench/device/tk_configs.sh
F256="$TK_F256,STREAM_K=0"
F128="$TK_F128,STREAM_K=0"
B256="$TK_B256,STREAM_K=0"
FS=8192x8192x8192,4096x14336x4096
BS=8192x8192x8192,4096x14336x4096,4096x4096x14336
SCREEN=${SCREEN:-"f256lag2:fp8_e4m3:$F256,CLUSTER_N=1,MMA_LAG=2,PROMOTE=2:$FS
f256lag2cn2:fp8_e4m3:$F256,CLUSTER_N=2,MMA_LAG=2,PROMOTE=2:$FS
f256lag0cn2:fp8_e4m3:$F256,CLUSTER_N=2,MMA_LAG=0,PROMOTE=2:$FS
f128cn2:fp8_e4m3:$F128,CLUSTER_N=2,MMA_LAG=0,PROMOTE=4:$FS
f128:fp8_e4m3:$F128,CLUSTER_N=1,MMA_LAG=0,PROMOTE=4:$FS
b256:bf16:$B256,CLUSTER_N=1,MMA_LAG=0:$BS
b256cn2lag:bf16:$B256,CLUSTER_N=2,MMA_LAG=1:$BS"}
t0=$(date +%s)
for line in $SCREEN; do IFS=: read name dtype config shapes <<< "$line"
  timeout 200 python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --dtype $dtype --config "$config" \
    > $R/compile-$name.log 2>&1 &
done
wait
echo "builds: $(( $(date +%s) - t0 ))s"
for line in $SCREEN; do IFS=: read name dtype config shapes <<< "$line"
  timeout ${BENCH_TIMEOUT:-120} python3 -m hktune bench --arch sm_90 --family thunderkittens --tk-root .tk --dtype $dtype \
    --config "$config" --shapes $shapes --json > $R/bench-$name.json 2> $R/bench-$name.err
  echo "bench $name rc=$? $(( $(date +%s) - t0 ))s"
done
python3 - $R <<'PY'
import json, pathlib, sys
R = pathlib.Path(sys.argv[1])
print(f"{'config':12s} {'shape':17s} {'TFLOP/s':>8s} {'x vendor (95% CI)':>22s} {'error':>8s}")
for f in sorted(R.glob("bench-*.json")):
    try:
        recs = json.loads(f.read_text() or "[]")
    except ValueError:
        recs = []
    if not recs:
        print(f"{f.stem[6:]:12s} no result: {(R / (f.stem + '.err')).read_text()[-200:]!r}")
    for r in recs:
        shape = f"{r.get('m')}x{r.get('n')}x{r.get('k')}"
        x = f"{r['ratio']:.3f} ({r.get('ratio_lo', 0):.3f}-{r.get('ratio_hi', 0):.3f})" if r.get("ratio") else str(r.get("reason"))[:22]
        print(f"{f.stem[6:]:12s} {shape:17s} {r.get('tflops') or 0:8.1f} {x:>22s} {r.get('error') or 0:8.2e}")
PY
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total $(( $(date +%s) - t0 ))s"
tar czf $OUT/screen.tgz -C $OUT screen && rm -rf $R
