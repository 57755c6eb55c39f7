# Fifth H200 call (short): tournament-decided entries with the sanitizer verdict recorded, on the
# MLP block's shapes and two squares, then the Llama MLP block with that table.
. bench/device/setup.sh
R=$OUT/l; mkdir -p $R
python3 bench/tune.py --family thunderkittens --out $R/tk --trials 12 --timeout 8 --tournament-rounds 8 \
  --shapes 4096x14336x4096,4096x4096x14336,4096x4096x4096,8192x8192x8192 2>&1 | tail -7
python3 bench/check_model.py --out $R/model --table $R/tk/sm_90.yaml 2>&1 | grep -E "speed ratio|forward|verdict"
tar czf $OUT/last.tgz -C $OUT l
