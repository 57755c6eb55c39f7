# H200 call 3 for the measurement issue (final method: 30 ms graph replays): a 48-config
# thunderkittens landscape (M_BLOCK 1/2, PERSISTENT 0/1) measured exhaustively by hktune, re-timed
# by the independent harness (separate process) for the rank correlation; then the same config in
# five separate processes, and idle vs 15 busy CPU processes.
. bench/device/setup.sh
R=$OUT/c; mkdir -p $R
S=6144x6144x4096; IFS=x read m n k <<< "$S"
/usr/bin/time -f "landscape wall %e s" python3 -m hktune search --arch sm_90 --family thunderkittens --space bench/tk-landscape19.yaml \
  --strategy exhaustive --m $m --n $n --k $k --trials 48 --finalists 5 --tournament-rounds 8 --no-sanitize --timeout 400 \
  --jobs 16 --storage $R/land.journal --table $R/land.yaml --quiet > $R/land.log 2>&1
echo "landscape rc=$?"; grep -E "^(wall|evaluated|verified|failed|ratio|config)|landscape wall" $R/land.log
python3 bench/export_landscape.py --storage $R/land.journal --study thunderkittens-sm_90-bf16-$S --out $R/landscape.json
python3 bench/independent.py --landscape $R/landscape.json --reuse /tmp/hktune-cache --tk-root $THUNDERKITTENS_ROOT \
  --out $R/indep-land.json > $R/indep-land.log 2>&1; echo "indep rc=$?"; head -1 $R/indep-land.log
python3 - $R <<'PY'
import json, sys, yaml
from scipy.stats import spearmanr
R = sys.argv[1]
rows = json.load(open(f"{R}/indep-land.json"))["rows"]
h = [r["hktune_ratio"] for r in rows]; i = [r["ratio"] for r in rows]
rho = spearmanr(h, i).correlation
win = yaml.safe_load(open(f"{R}/land.yaml"))["entries"][0]
wc = win["config"]
wi = next(r["ratio"] for r in rows if r["config"] == wc)
best = max(rows, key=lambda r: r["ratio"])
print(f"spearman {rho:.4f} over {len(rows)} configs; hktune winner {wc} table {win['ratio']:.4f}, independent {wi:.4f}; "
      f"independent best {best['ratio']:.4f} ({best['config']}): winner within {best['ratio']/wi-1:+.2%}")
for r in sorted(rows, key=lambda r: -r["hktune_ratio"])[:6] + sorted(rows, key=lambda r: r["hktune_ratio"])[:3]:
    print(f"  hktune {r['hktune_ratio']:.4f} indep {r['ratio']:.4f} {','.join(f'{k}={v}' for k, v in r['config'].items() if k in ('M_BLOCK','N_BLOCK','STAGES','SUPER_M','PERSISTENT'))}")
PY
SEED=M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=1
b() { python3 -m hktune bench --arch sm_90 --family thunderkittens --config $SEED --m 4096 --n 4096 --k 4096 --json > $R/proc-$1.json 2>>$R/proc.log; }
hogs() { for i in $(seq 15); do python3 -c 'while 1: pass' & done; sleep 1; }
for t in i1 b1 i2 b2 i3 b3 i4 i5; do
  case $t in b*) hogs;; esac
  b $t; uptime | sed 's/.*load/load/' > $R/load-$t.txt
  case $t in b*) kill $(jobs -p) 2>/dev/null; wait 2>/dev/null;; esac
done
python3 - $R <<'PY'
import json, sys
R = sys.argv[1]
r = {t: json.load(open(f"{R}/proc-{t}.json"))[0] for t in "i1 b1 i2 b2 i3 b3 i4 i5".split()}
idle = [r[t]["ratio"] for t in "i1 i2 i3 i4 i5".split()]; busy = [r[t]["ratio"] for t in "b1 b2 b3".split()]
print("five processes (idle):", [round(x, 4) for x in idle], f"max/min {max(idle)/min(idle):.4f}")
import statistics as st
print("busy (15 CPU hogs):", [round(x, 4) for x in busy], f"median idle {st.median(idle):.4f} busy {st.median(busy):.4f} "
      f"diff {st.median(busy)/st.median(idle)-1:+.2%}", [open(f"{R}/load-{t}.txt").read().strip() for t in ("b1", "b3")])
PY
tar czf $OUT/c.tgz -C $OUT c
