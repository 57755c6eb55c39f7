# Issue 21/22, stream-K for the thunderkittens family (STREAM_K in kernels/thunderkittens/sched.cuh and
# sched_streamk.cuh: data-parallel tiles, then the last full round's and the partial round's k steps shared
# evenly by all clusters, the pieces of a tile summed by its owner in k order). One call, <= 8 min:
#  (1) compute-sanitizer racecheck, synccheck and memcheck of four stream-K kernels (bf16 256x128, bf16
#      128x256 in a cluster pair along N with a k step in flight, fp8 128x128 PROMOTE 4, fp8 256x128 chained
#      PROMOTE 2), each at a small shape on 3 persistent clusters whose tail splits tiles across clusters
#      (contributors, owners and whole tiles in one launch); every launch verifies its NaN-poisoned output;
#  (2) `hktune bench` (the product's sustained method: CUDA-graph replays of >= 30 ms per arm, A B B A
#      against the vendor on rotated random inputs, outputs verified) of the H200 table's winners with
#      STREAM_K 0 and 1 at the shapes they won, and of the fp8 winner at issue 22's two goal shapes.
# Everything under $OUT/streamk; a summary table last.
# A record: it ran on 2026-12-05 14:57 (bench/results/h100-2026-12-05b/streamk) while the family spaces still offered
# STREAM_K 1. Since then STREAM_K 1 is opt-in only (bench/tk-sched.yaml, bench/tk-sched-fp8.yaml) and `hktune bench
# --config` judges a config by the family space, so steps (1)'s fp8 half and (2) refuse STREAM_K 1 as written here;
# re-measure stream-K with bench/independent.py on a table instead (it builds any config).
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/streamk; mkdir -p $R
. bench/device/tk_configs.sh
T256="$TK_B256,CLUSTER_N=1,MMA_LAG=0"
T128CN2="$TK_B128CN2,MMA_LAG=0"
F128="$TK_F128,CLUSTER_N=1,MMA_LAG=0,PROMOTE=4"
F256="$TK_F256,CLUSTER_N=1,MMA_LAG=2,PROMOTE=2"
t0=$(date +%s)
# (2)'s builds start now, beside the sanitizers (the build cache serves the bench runs)
for c in "$T256" "$T128CN2"; do for s in 0 1; do
  timeout 200 python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --config "$c,STREAM_K=$s" > /dev/null 2>&1 &
done; done
for s in 0 1; do
  timeout 200 python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --dtype fp8_e4m3 --config "$F128,STREAM_K=$s" > /dev/null 2>&1 &
done
# (1) shapes with a tail on 3 clusters: 1024x640 at 256x128 = 20 tiles (15 whole, 5 shared: 55 k steps of 11, 19
# per cluster); 640x1024 at a 128x512 cluster tile = 10 (6 whole, 4 shared); fp8 at 128x128 and 256x128
# likewise 20 tiles (6 k steps of 128 each)
SAN="$(san_lines racecheck,synccheck,memcheck b256 $T256,STREAM_K=1 1024x640x704)
$(san_lines racecheck,synccheck,memcheck b128cn2lag "${T128CN2/MMA_LAG=0/MMA_LAG=1},STREAM_K=1" 640x1024x704)"
GRID_CAP=3 san_phase --space configs/thunderkittens-sm_90.yaml
SAN="$(san_lines racecheck,synccheck,memcheck f128 $F128,STREAM_K=1 512x640x768)
$(san_lines racecheck,synccheck,memcheck f256lag2 $F256,STREAM_K=1 1024x640x768)"
GRID_CAP=3 SAN_TIMEOUT=150 san_phase --space configs/thunderkittens-sm_90-fp8_e4m3.yaml --dtype fp8_e4m3
wait
echo "sanitizers + builds: $(( $(date +%s) - t0 ))s"
# (2)
b() {  # name dtype config shapes
  timeout 150 python3 -m hktune bench --arch sm_90 --family thunderkittens --tk-root .tk --dtype $2 --config "$3" \
    --shapes $4 --json > $R/bench-$1.json 2> $R/bench-$1.err
  echo "bench $1 rc=$? $(( $(date +%s) - t0 ))s"
}
S256=8192x8192x8192,4096x14336x4096,16384x8192x1024,4096x4096x14336
for s in 0 1; do b t256-sk$s bf16 "$T256,STREAM_K=$s" $S256; done
for s in 0 1; do b t128cn2-sk$s bf16 "$T128CN2,STREAM_K=$s" 1024x8192x8192,4096x4096x4096; done
for s in 0 1; do b f128-sk$s fp8_e4m3 "$F128,STREAM_K=$s" 8192x8192x8192,4096x14336x4096; done
python3 - $R <<'PY'
import json, pathlib, sys
R = pathlib.Path(sys.argv[1])
rows = {}
for f in sorted(R.glob("bench-*.json")):
    name, sk = f.stem[len("bench-"):].rsplit("-sk", 1)
    try:
        recs = json.loads(f.read_text() or "[]")
    except ValueError:
        recs = []
    for r in recs:
        shape = f"{r.get('m')}x{r.get('n')}x{r.get('k')}"
        rows.setdefault((name, shape), {})[sk] = r
print(f"{'kernel':9s} {'shape':17s} {'SK0 TF':>7s} {'SK0 x (CI)':>20s} {'SK1 TF':>7s} {'SK1 x (CI)':>20s} {'SK1/SK0':>7s}")
for (name, shape), d in rows.items():
    cells = []
    for sk in ("0", "1"):
        r = d.get(sk, {})
        ok = r.get("ratio") is not None
        cells += [f"{r.get('tflops') or 0:7.1f}", f"{r['ratio']:.3f} ({r.get('ratio_lo', 0):.3f}-{r.get('ratio_hi', 0):.3f})" if ok
                  else str(r.get("reason") or r.get("error") or "-")[:20]]
    rel = (d["1"]["ratio"] / d["0"]["ratio"]) if all(d.get(s, {}).get("ratio") for s in "01") else None
    print(f"{name:9s} {shape:17s} {cells[0]} {cells[1]:>20s} {cells[2]} {cells[3]:>20s} {rel if rel is None else round(rel, 3)!s:>7s}")
PY
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total $(( $(date +%s) - t0 ))s"
tar czf $OUT/streamk.tgz -C $OUT streamk && rm -rf $R
