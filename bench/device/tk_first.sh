# First H200 call for the thunderkittens family: the standalone kernel check, then a short real
# search through hktune (TK is the default family for sm_90 when its tree is found).
. bench/device/setup.sh
python3 bench/tk_kernel_check.py --tk-root .tk --out $OUT --jobs 16 --budget 300 2>&1 | tee $OUT/tk_check.log | tail -60
python3 -m hktune search --arch sm_90 --m 4096 --n 4096 --k 4096 --trials 12 --jobs 16 --table $OUT/sm_90.yaml --quiet 2>&1 | tee $OUT/search.log | tail -30
