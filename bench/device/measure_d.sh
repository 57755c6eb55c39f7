# H200 call 4 for the measurement issue: the sweep on real kernels. The landscape's table from
# call 3 (fresh from search) swept 10 times unchanged; then 10 times with a really slower kernel
# stored under the winner's key (N_BLOCK=3, PERSISTENT=0, SUPER_M=8: 3.7 % slower by hktune,
# 4.7 % by the independent harness in call 3), not a scaled stored number.
. bench/device/setup.sh
R=$OUT/d; mkdir -p $R
T=bench/results/measure-h200-2026-12-04/call3/land.yaml
python3 - $T $R/same.yaml $R/planted.yaml <<'PY'
import sys, yaml
# the table predates the schedule knobs (SCHED ...): their lcf values, which build the same kernel
LCF = {"SCHED": 0, "WG_M": 64, "CLUSTER_M": 1, "CLUSTER_N": 1, "ORDER": 0, "MMA_LAG": 0}
d = yaml.safe_load(open(sys.argv[1]))
for e in d["entries"]:
    e["config"].update(LCF)
yaml.safe_dump(d, open(sys.argv[2], "w"), sort_keys=False)
for e in d["entries"]:
    e["config"].update({"N_BLOCK": 3, "SUPER_M": 8, "PERSISTENT": 0})
yaml.safe_dump(d, open(sys.argv[3], "w"), sort_keys=False)
PY
for kind in same planted; do
  for i in $(seq 10); do
    cp $R/$kind.yaml $R/t.yaml
    python3 -m hktune sweep --table $R/t.yaml --markdown $R/$kind-$i.md --quiet > $R/$kind-$i.log 2>&1
    echo "$kind $i rc=$? $(grep -E -o '(unchanged|regress[a-z]*|inconclusive|improved|bad.baseline|wrong)[^|]{0,90}' $R/$kind-$i.md | head -1)"
    tar czf $OUT/d.tgz -C $OUT d
  done
done
tar czf $OUT/d.tgz -C $OUT d
