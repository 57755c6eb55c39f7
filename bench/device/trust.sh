# Third H200 call: (A) compute-sanitizer on TK's default config, in full; (B) the measurement issue's
# repeatability: the same 40-trial search 3 times fresh at 4096^3, one config re-timed 10 times,
# a sweep of an unchanged and a 3.1%-planted entry 4 times; (C) an exhaustive landscape of a TK
# subspace at 4096^3 for the strategy replays. Everything lands in one archive under $OUT.
. bench/device/setup.sh
R=$OUT/r; mkdir -p $R
SEED=M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=1
# (A)
LIB=$(python3 -m hktune compile --arch sm_90 --family thunderkittens --config $SEED --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['artifact'])")
for tool in racecheck synccheck; do
  timeout 90 compute-sanitizer --tool $tool python3 -m hktune.run.sanitize_launch $LIB 256 512 256 > $R/san-$tool.log 2>&1
  echo "sanitizer $tool rc=$?"; tail -4 $R/san-$tool.log
done
# (B)
for i in 1 2 3; do
  python3 -m hktune search --arch sm_90 --m 4096 --n 4096 --k 4096 --trials 40 --seed 0 --no-sanitize \
    --tournament-rounds 12 --table $R/rep$i/sm_90.yaml --quiet > $R/rep$i.log 2>&1
  grep -E "^(wall|run time|ratio|config|best)" $R/rep$i.log
done
python3 -m hktune bench --arch sm_90 --family thunderkittens --config $SEED --json \
  --shapes 4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096,4096x4096x4096 > $R/retime.json 2> $R/retime.log
python3 -c "
import json; r=[x['ratio'] for x in json.load(open('$R/retime.json'))]; print('retime x10 ratios', [round(x,4) for x in r], 'max/min', round(max(r)/min(r),4))"
python3 bench/plant_table.py $R/rep1/sm_90.yaml $R/planted.yaml
for i in 1 2 3; do python3 -m hktune sweep --table $R/planted.yaml --markdown $R/sweep$i.md --quiet > $R/sweep$i.log 2>&1; echo "sweep $i rc=$?"; grep -E "^(pass|regression|bad|inconcl|improved)" $R/sweep$i.log | cut -c1-160; done
# (C)
python3 -m hktune search --arch sm_90 --family thunderkittens --space bench/tk-subspace.yaml --strategy exhaustive \
  --m 4096 --n 4096 --k 4096 --trials 168 --finalists 1 --no-sanitize --timeout 200 --storage $R/land.journal \
  --table $R/land.yaml --quiet > $R/land.log 2>&1; grep -E "^(wall|evaluated|run time|compile)" $R/land.log
python3 bench/export_landscape.py --storage $R/land.journal --study thunderkittens-sm_90-bf16-4096x4096x4096 --out $R/tk-landscape-4096.json
tar czf $OUT/trust.tgz -C $OUT r
