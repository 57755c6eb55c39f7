# Where the time goes: Nsight Compute on one launch of hktune's best bf16 and fp8 kernels at 8192^3 and on the
# vendor call beside each (cuBLAS torch.mm, cuBLASLt torch._scaled_mm; the vendor kernel's name says its tile,
# cluster and schedule). bench/ncu_pair.py checks each output against the vendor first. <= 4 min.
. bench/device/setup.sh
R=$OUT/ncu; mkdir -p $R
. bench/device/tk_configs.sh
B256="$TK_B256,CLUSTER_N=1,MMA_LAG=0,STREAM_K=0"
F256="$TK_F256,CLUSTER_N=1,MMA_LAG=2,PROMOTE=2,STREAM_K=0"
# FP8_CONFIG / FP8_SPACE: another fp8 kernel (e.g. a 128x144 one of bench/tk-n144-fp8.yaml); FP8_ONLY=1: skip bf16
F256=${FP8_CONFIG:-$F256}
lib() { python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --dtype $1 ${3:+--space $3} --config "$2" --json \
  | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['artifact'])"; }
LF=$(lib fp8_e4m3 "$F256" $FP8_SPACE) || exit 1
[ -n "$FP8_ONLY" ] || LB=$(lib bf16 "$B256") || exit 1
SECT="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section LaunchStats --section Occupancy"
[ -n "$FP8_ONLY" ] || { ncu --nvtx --nvtx-include "pair/" $SECT python3 bench/ncu_pair.py $LB 8192 8192 8192 > $R/bf16.txt 2>&1; echo "bf16 rc=$?"; }
ncu --nvtx --nvtx-include "pair/" $SECT python3 bench/ncu_pair.py $LF 8192 8192 8192 --dtype fp8_e4m3 > $R/fp8.txt 2>&1; echo "fp8 rc=$?"
M=sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,lts__t_sector_hit_rate.pct,dram__bytes_read.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,sm__cycles_elapsed.avg.per_second
[ -n "$FP8_ONLY" ] || { ncu --nvtx --nvtx-include "pair/" --metrics $M python3 bench/ncu_pair.py $LB 8192 8192 8192 > $R/bf16-metrics.txt 2>&1; echo "bf16 metrics rc=$?"; }
ncu --nvtx --nvtx-include "pair/" --metrics $M python3 bench/ncu_pair.py $LF 8192 8192 8192 --dtype fp8_e4m3 > $R/fp8-metrics.txt 2>&1; echo "fp8 metrics rc=$?"
for f in $R/*.txt; do echo "== $f"; grep -E "^  [a-zA-Z_].*\(|Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Hit Rate|Registers Per|Cluster Size|Grid Size|Block Size|gmma|hit_rate|dram__|wavefronts|per_second|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|relative difference" $f | head -60; done
tar czf $OUT/ncu.tgz -C $OUT ncu && rm -rf $R
