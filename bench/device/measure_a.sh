# H200 call 1 for the measurement issue (19): the sustained, launch-free method (graph replay)
# smoke-tested on TK's default config, then the seven-shape thunderkittens table tuned with it
# (and TK's default beside it), then the table re-timed by the independent graph-replay harness
# (bench/independent.py: no hktune import, a separate process, its own inputs and timing).
. bench/device/setup.sh
R=$OUT/a; mkdir -p $R
SEED=M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=1
python3 -m hktune bench --arch sm_90 --family thunderkittens --config $SEED --shapes 2048x2048x2048,8192x8192x8192 \
  --json > $R/smoke.json 2> $R/smoke.log
python3 - "$R/smoke.json" <<'PY' || { tail -30 $R/smoke.log; tar czf $OUT/a.tgz -C $OUT a; exit 1; }
import json, sys
rows = json.load(open(sys.argv[1]))
for r in rows:
    print("smoke", r.get("m"), r.get("n"), r.get("k"), "method", r.get("method"), "ratio", r.get("ratio"),
          "ci", r.get("ratio_lo"), r.get("ratio_hi"), "timing", (r.get("environment") or {}).get("timing"), r.get("warnings"))
sys.exit(0 if rows and all(r.get("method") == "graph" and r.get("ok", True) for r in rows) else 1)
PY
python3 bench/tune.py --family thunderkittens --out $R/tk --trials 12 --timeout 10 --tournament-rounds 8 \
  --no-sanitize --baseline $SEED 2>&1 | tail -12
python3 bench/independent.py --table $R/tk/sm_90.yaml --reuse /tmp/hktune-cache --tk-root $THUNDERKITTENS_ROOT \
  --out $R/indep-table.json 2>&1 | tail -10
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
tar czf $OUT/a.tgz -C $OUT a
