# How the paired ratio depends on how long each arm runs before the other takes over, on this
# power-capped card (one call, ~3 min; PLAN.md). hktune times 30 ms replays (hktune.run.sustained); on
# 2026-12-04 TK's default at 8192^3 read 1.01 / 0.98 / 0.95 of cuBLAS at 15 / 55 / 220 ms
# (bench/results/measure-h200-2026-12-04). Each arm in its own power-capped steady state (long replays)
# is what a model whose every GEMM is replaced would see; short replays share one clock between the
# arms, so a kernel that draws more power than cuBLAS looks better there than it is. This settles
# whether the table's winners hold at long replays too: bench/independent.py (no hktune code) on the
# 2026-12-05 winners at 8192^3 and 4096x14336x4096 and on TK's default there, at 10, 30, 100 and 300 ms.
. bench/device/setup.sh
R=$OUT/regime; mkdir -p $R
T=bench/results/h200-2026-12-05b/tk-sm_90-bf16.yaml
t0=$(date +%s)
python3 - "$T" "$R/t.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
keep = {(8192, 8192, 8192), (4096, 14336, 4096)}
d["entries"] = [e for e in d["entries"] if (e["key"]["m"], e["key"]["n"], e["key"]["k"]) in keep]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
python3 bench/tk_default_table.py $R/t.yaml $R/default.yaml
for ms in ${MS:-10 30 100 300}; do   # MS: the replay lengths (ms)
  for t in t default; do
    timeout 110 python3 bench/independent.py --table $R/$t.yaml --tk-root .tk --out $R/$t-$ms --replay-ms $ms \
      --rounds 8 --jobs 16 2>&1 | tail -2
  done
  echo "$ms ms: $(( $(date +%s) - t0 ))s"
done
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
tar czf $OUT/regime.tgz -C $OUT regime && rm -rf $R
