# H200 call 2 for the measurement issue: how the two harnesses depend on replay length and how
# much the independent harness itself moves. On the table tuned in call 1:
#   the independent harness (32 launches per replay) three times, separate processes, new inputs;
#   the independent harness with 8 and 128 launches per replay;
#   hktune bench of the same entries with replays of 10, 30 and 60 ms.
. bench/device/setup.sh
R=$OUT/b; mkdir -p $R
T=bench/results/measure-h200-2026-12-04/call1/sm_90.yaml
ind() { python3 bench/independent.py --table $T --tk-root $THUNDERKITTENS_ROOT --build-dir /tmp/ind "$@" 2>&1 | grep -v "^NVIDIA\|configs:"; }
for s in 1 2 3; do echo "== indep 32 launches, seed $s"; ind --seed $s --out $R/ind32-$s.json; done
for L in 8 128; do echo "== indep $L launches"; ind --launches $L --out $R/ind$L.json; done
for ms in 10 30 60; do
  echo "== hktune bench replay_ms=$ms"
  HKTUNE_TIMING="{\"replay_ms\": $ms}" python3 -m hktune bench --table $T --json > $R/bench$ms.json 2> $R/bench$ms.log
  python3 -c "
import json; [print(r['m'],r['n'],r['k'], round(r['ratio'],4), round(r['ratio_lo'],4), round(r['ratio_hi'],4), r['environment']['timing']['launches_per_replay']) for r in json.load(open('$R/bench$ms.json'))]"
done
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
tar czf $OUT/b.tgz -C $OUT b
