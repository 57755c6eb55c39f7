# Issue 21, the independent re-measure (one H200 call, ~4 minutes): bench/independent.py (no hktune
# import: its own nvcc build, inputs and CUDA graphs of back-to-back launches, A B B A against
# torch.mm) on every entry of the table hopper_final.sh wrote (TABLE, default the copy committed
# under bench/results) and on TK's default <2,4,8> at the same shapes (a table of its own, made here),
# at 32 launches per replay and at 30 ms replays. A figure of the table the harness does not
# reproduce within 1% is wrong (the brief).
. bench/device/setup.sh
TABLE=${TABLE:?TABLE=path of the table hopper_final.sh wrote, as committed}
R=$OUT/indep; mkdir -p $R
python3 bench/tk_default_table.py "$TABLE" "$R/tk-default.yaml"
timeout 250 python3 bench/independent.py --table $TABLE --tk-root .tk --out $R/tuned --launches 32 --jobs 16 2>&1 | tail -10
timeout 150 python3 bench/independent.py --table $R/tk-default.yaml --tk-root .tk --out $R/default --launches 32 --jobs 16 2>&1 | tail -9
tar czf $OUT/indep.tgz -C $OUT indep && rm -rf $R
