# H200 check for issue 20 (the Target, the dtype through the worker): nothing here should differ
# from main's behaviour on a GPU. One call, ~5 minutes:
#  1. tests/test_dtypes.py on the GPU box (CPU tensors; proves the worker-side imports there);
#  2. `hktune bench` of TK's default config at 4096^3: method graph, ok, a paired ratio near
#     main's (the vendor call now goes through DType.vendor_launch, the kernel through Library's
#     extra-operand path with none);
#  3. a short cuda-family search (3 trials, 2 finalists, sanitizer on): it must finish with a
#     table entry whose vendor.name is torch.matmul and whose error is < 1e-2;
#  4. `hktune sweep` of that table: pass/improved/inconclusive, never wrong/error.
. bench/device/setup.sh
R=$OUT/target; mkdir -p $R
python3 -m pytest -q -p no:cacheprovider -n 0 tests/test_dtypes.py 2>&1 | tail -3
SEED=M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=1,SCHED=0,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,MMA_LAG=0
python3 -m hktune bench --arch sm_90 --family thunderkittens --config $SEED --m 4096 --n 4096 --k 4096 --json \
  > $R/bench.json 2> $R/bench.log; echo "bench rc=$?"
python3 -m hktune search --arch sm_90 --family cuda --m 4096 --n 4096 --k 4096 --trials 3 --finalists 2 \
  --table $R/sm_90.yaml --storage $R/studies.journal --quiet > $R/search.txt 2> $R/search.log; echo "search rc=$?"
python3 -m hktune sweep --table $R/sm_90.yaml --junit $R/sweep.xml > $R/sweep.txt 2> $R/sweep.log; echo "sweep rc=$?"
python3 - "$R" <<'PY'
import json, sys, yaml
r = sys.argv[1]
b = json.load(open(f"{r}/bench.json"))
print("bench", [(x.get("ok"), x.get("method"), x.get("ratio"), x.get("ratio_lo"), x.get("ratio_hi")) for x in b])
e = yaml.safe_load(open(f"{r}/sm_90.yaml"))["entries"]
print("entry", [(x["key"]["dtype"], x["vendor"]["name"], x["error"], x["ratio"]) for x in e])
print(open(f"{r}/sweep.txt").read()[-600:])
PY
tar czf $OUT/target.tgz -C $OUT target
