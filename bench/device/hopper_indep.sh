# Issue 21, the independent re-measure (one H200 call, ~4 minutes): bench/independent.py (no hktune
# import: its own nvcc build, inputs and CUDA graphs of back-to-back launches, A B B A against
# torch.mm) on every entry of the table hopper_final.sh wrote (TABLE, default the copy committed
# under bench/results) and on TK's default <2,4,8> at the same shapes (a table of its own, made here),
# at 32 launches per replay and at 30 ms replays. A figure of the table the harness does not
# reproduce within 1% is wrong (the brief).
. bench/device/setup.sh
TABLE=${TABLE:?TABLE=path of the table hopper_final.sh wrote, as committed}
R=$OUT/indep; mkdir -p $R
python3 - "$TABLE" "$R/tk-default.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
TK = {"M_BLOCK": 2, "N_BLOCK": 4, "STAGES": 4, "SUPER_M": 8, "PERSISTENT": 1, "PRODUCER_REGS": 40,
      "CONSUMER_REGS": 232, "EPILOGUE": 1, "SCHED": 0, "WG_M": 64, "CLUSTER_M": 1, "CLUSTER_N": 1,
      "ORDER": 0, "MMA_LAG": 0, "SPLIT_K": 1}
for e in d["entries"]:
    e["config"] = dict(TK)
yaml.safe_dump(d, open(sys.argv[2], "w"), sort_keys=False)
PY
timeout 250 python3 bench/independent.py --table $TABLE --tk-root .tk --out $R/tuned --launches 32 --jobs 16 2>&1 | tail -10
timeout 150 python3 bench/independent.py --table $R/tk-default.yaml --tk-root .tk --out $R/default --launches 32 --jobs 16 2>&1 | tail -9
tar czf $OUT/indep.tgz -C $OUT indep && rm -rf $R
