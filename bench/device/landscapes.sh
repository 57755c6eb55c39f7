# H200 call for the strategy issue: exhaustive landscapes of the ThunderKittens subspace
# (bench/tk-subspace.yaml, 168 configs) at four new shapes, every config timed by the paired method
# (ABBA rounds against cuBLAS on the same rotated inputs), exported for bench/replay.py.
# The four were not looked at before the priors in configs/ were written: they are held out.
. bench/device/setup.sh
R=$OUT/land; mkdir -p $R
for shape in 8192x8192x8192 2048x2048x2048 4096x14336x4096 1024x8192x8192; do
  IFS=x read m n k <<< "$shape"
  timeout 170 python3 -m hktune search --arch sm_90 --family thunderkittens --space bench/tk-subspace.yaml \
    --strategy exhaustive --m $m --n $n --k $k --trials 168 --finalists 1 --no-sanitize --timeout 200 \
    --storage $R/land.journal --table $R/land.yaml --quiet > $R/land-$shape.log 2>&1
  echo "$shape rc=$?"; grep -E "^(wall|evaluated|failed|run time|compile|best|ratio)" $R/land-$shape.log
  python3 bench/export_landscape.py --storage $R/land.journal --study thunderkittens-sm_90-bf16-$shape \
    --out $R/tk-landscape-$shape.json
done
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
tar czf $OUT/land.tgz -C $OUT land
