# Issue 21, first H200 call for the thunderkittens schedule knobs (SCHED, WG_M, CLUSTER_M/N, ORDER,
# EPILOGUE=2; kernels/thunderkittens/sched.cuh). One call, <= 8 minutes:
#  (1) compute-sanitizer racecheck, one config per new code path, all at once (each also verifies
#      its NaN-poisoned output; shapes with more tiles than SMs, so blocks loop and the ring wraps);
#  (2) bench/tk_kernel_check.py on TK's default + 17 new configs: illegal shapes refused, three
#      NaN-poisoned checks on fresh random inputs vs a float32 reference, then ABBA timing against
#      torch.matmul (cuBLAS) at 8192^3 and 4096x14336x4096, and the output re-verified after timing;
#  (3) a short table last. Everything under $OUT (hopper/: check JSON + logs, san-*.log).
. bench/device/setup.sh
R=$OUT/hopper; mkdir -p $R
cfg() {  # name M_BLOCK N_BLOCK STAGES SUPER_M CONSUMER_REGS EPILOGUE SCHED WG_M CLUSTER_M CLUSTER_N ORDER MMA_LAG
  echo "M_BLOCK=$2,N_BLOCK=$3,STAGES=$4,SUPER_M=$5,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=$6,EPILOGUE=$7,SCHED=$8,WG_M=$9,CLUSTER_M=${10},CLUSTER_N=${11},ORDER=${12},MMA_LAG=${13}"
}
SAN="k1e2:$(cfg x 2 4 4 8 232 2 1 64 1 1 0 0):2048x4096x192
k1e0:$(cfg x 2 4 4 8 232 0 1 64 1 1 0 0):2048x4096x192
k1cm2e2:$(cfg x 2 4 4 8 232 2 1 64 2 1 0 0):2048x4096x192
k1cn2e1:$(cfg x 2 4 4 8 232 1 1 64 1 2 0 0):2048x4096x192
k1cm2o1:$(cfg x 2 4 4 8 232 2 1 64 2 1 1 0):2048x4096x192
k1cm2lag:$(cfg x 2 4 4 8 232 2 1 64 2 1 0 1):2048x4096x192
t128x128cm2:$(cfg x 1 2 6 8 256 2 1 128 2 1 0 0):2048x4096x192
t256x128cn2lag:$(cfg x 2 2 4 8 232 2 1 128 1 2 0 1):2048x4096x192
pp64x256:$(cfg x 2 4 4 8 232 2 2 64 1 1 0 0):2048x4096x192
pp128x128cm2e1:$(cfg x 2 2 6 8 232 1 2 128 2 1 0 0):2048x4096x192
pp128x128lag:$(cfg x 2 2 6 8 232 2 2 128 1 1 0 1):2048x4096x192
skrace4:$(cfg x 2 4 4 8 232 2 1 64 2 1 0 0),SPLIT_K=4:1024x2048x1024
skppr2:$(cfg x 2 4 4 8 232 2 2 64 1 1 0 0),SPLIT_K=2:1024x2048x512
skmem4:$(cfg x 2 4 4 8 232 2 1 64 2 1 0 0),SPLIT_K=4:1024x2048x1024
skmemt2:$(cfg x 2 2 4 8 232 2 1 128 1 1 0 0),SPLIT_K=2:1024x2048x512"
t0=$(date +%s)
for line in $SAN; do
  IFS=: read name config shape <<< "$line"
  ( python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --space bench/tk-sched.yaml --config $config --json > $R/san-$name.compile.json 2> $R/san-$name.compile.err
    lib=$(python3 -c "import json,sys; print(json.load(open('$R/san-$name.compile.json'))[0]['artifact'])" 2>/dev/null)
    if [ -z "$lib" ]; then echo "COMPILE FAILED" > $R/san-$name.log; exit; fi
    tool="--tool racecheck --racecheck-report all"; case $name in skmem*) tool="--tool memcheck";; esac
    timeout 90 compute-sanitizer $tool python3 -m hktune.run.sanitize_launch $lib ${shape//x/ } > $R/san-$name.log 2>&1
    echo "rc=$?" >> $R/san-$name.log
    case $name in k1cm2e2|pp128x128cm2e1|skrace4)   # synccheck too (hktune's search runs it on the winner)
      timeout 60 compute-sanitizer --tool synccheck python3 -m hktune.run.sanitize_launch $lib ${shape//x/ } > $R/sync-$name.log 2>&1
      echo "rc=$?" >> $R/sync-$name.log ;; esac ) &
done
wait
echo "racecheck phase: $(( $(date +%s) - t0 ))s"
for line in $SAN; do IFS=: read name config shape <<< "$line"
  echo "racecheck $name $shape: $(grep -h 'SUMMARY\|COMPILE FAILED\|wrong result' $R/san-$name.log | head -2 | tr '\n' ' ') $(tail -1 $R/san-$name.log)"
  [ -f $R/sync-$name.log ] && echo "synccheck $name: $(grep -h 'SYNCCHECK SUMMARY\|Barrier error\|wrong result' $R/sync-$name.log | sort | uniq -c | head -3 | tr '\n' ' ') $(tail -1 $R/sync-$name.log)"; done
# (2) baseline first, then the new paths by expected value (clusters + store drain first)
CONFIGS=s2x4g8,k1e1,k1e2,k1cm2e2,k1cm2e2sk2,pp64x256sk2,k1cm2lag,k1cn2e2,pp64x256cm2lag,pp128x128lag,t256x128cn2lag,k1cm2e2s3,pp64x256cm2,pp128x128,t256x128cn2,k1cn2e1,t256x128,t128x128cm2,k1cm2o1,k1e0,pp64x256,t128x128,k1cm2o2,k1cm2e1g16,pp128x128cm2e1,k1o1
python3 bench/tk_kernel_check.py --tk-root .tk --out $R --jobs 16 --rounds 6 --config-timeout 40 --budget 200 \
  --configs $CONFIGS --shapes 8192x8192x8192,4096x14336x4096 > $R/check.log 2>&1
echo "check rc=$? total $(( $(date +%s) - t0 ))s"
python3 - $R <<'PY'
import json, os, re, sys
R = sys.argv[1]


def race(name):  # racecheck verdict of this config, if it was one of the sanitized ones
    try:
        t = open(f"{R}/san-{name}.log").read()
    except OSError:
        return ""
    m = re.search(r"RACECHECK SUMMARY: (\d+) hazard", t)
    rc = re.search(r"rc=(\d+)\s*$", t)
    return (f"{m.group(1)}hz" if m else "none") + (f"/rc{rc.group(1)}" if rc else "")


d = json.load(open(f"{R}/tk_kernel_check.json"))
print(f"\n{d['meta'].get('gpu')} {d['meta']['date']}  (TF: median per-launch, ABBA vs torch.matmul; x = cuBLAS ms / ours ms)")
print(f"{'config':15s} {'SCH WG CM CN O E L':19s} {'regs':>4s} {'spl':>3s} {'ok':>2s} {'8192^3 TF':>9s} {'x':>6s} {'4096x14336x4096':>15s} {'x':>6s} {'race':>8s}")
for r in d["configs"]:
    p = r["params"]
    knobs = f"{p['SCHED']:3d} {p['WG_M']:3d} {p['CLUSTER_M']:2d} {p['CLUSTER_N']:2d} {p['ORDER']:1d} {p['EPILOGUE']:1d} {p['MMA_LAG']:1d}"
    cells = []
    for k in ("8192x8192x8192", "4096x14336x4096"):
        v = r.get("perf", {}).get(k, {})
        cells += [f"{v['ours']['tflops']:.0f}", f"{v['ratio']:.3f}"] if "ours" in v else ["-", "-"]
    why = "" if r.get("ok") else ("  " + str(r.get("skipped") or ("compile failed" if not r.get("compiled") else "FAILED (see check.log)")))
    print(f"{r['name']:15s} {knobs:19s} {r.get('regs') or 0:4d} {r.get('spills') or 0:3d} {'y' if r.get('ok') else 'N':>2s} "
          f"{cells[0]:>9s} {cells[1]:>6s} {cells[2]:>15s} {cells[3]:>6s} {race(r['name']):>8s}{why}")
PY
tar czf $OUT/hopper.tgz -C $OUT hopper && rm -rf $OUT/hopper
