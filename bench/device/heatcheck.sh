# Run after hopper_table.sh on the same warm machine (its table is kept in /tmp/hopper-table-*.yaml):
# the two harnesses alternate on that table, ROUNDS_I times each (default 3), so they see the same card
# state. With the heat of 2026-12-06 (both heat 5 s before a figure) each independent reading should
# land within 1% of the product's `hktune bench` beside it (h100-2026-12-06e: 1.016-1.050 against
# 1.036-1.038 before the heat). Output: $OUT/heat/ind<i>.json and bench<i>.txt.
. bench/device/setup.sh
T=${TABLE:-$(ls /tmp/hopper-table-*.yaml | tail -1)}
mkdir -p $OUT/heat
for i in $(seq ${ROUNDS_I:-3}); do
  timeout 90 python3 bench/independent.py --table $T --tk-root .tk --out $OUT/heat/ind$i.json --replay-ms 30 --jobs 16 2>&1 | grep -E "^(bf16|fp8)"
  timeout 90 python3 -m hktune bench --table $T --family thunderkittens 2>&1 | tee $OUT/heat/bench$i.txt | grep -E "sm_90"
done
