# Sourced by the device scripts that name thunderkittens configs (streamk.sh, screen.sh, ncu.sh): the measured
# kernels as hktune config strings, each missing the knobs its callers vary (they append them).
TK_BASE="PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=2,SCHED=1,CLUSTER_M=1,SPLIT_K=1"
# bf16 256x128 (two 128-row consumers): the H200 table's winner at five shapes; + CLUSTER_N, MMA_LAG, STREAM_K
TK_B256="M_BLOCK=2,N_BLOCK=2,STAGES=4,SUPER_M=8,$TK_BASE,WG_M=128,ORDER=0,PROMOTE=0"
# bf16 128x256 in a cluster pair along N: its winner at 1024x8192x8192; + MMA_LAG, STREAM_K
TK_B128CN2="M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=1,$TK_BASE,WG_M=64,CLUSTER_N=2,ORDER=0,PROMOTE=0"
# fp8 256x128 and 128x128 in column-group order (the H100 and H200 winners' forms); + CLUSTER_N, MMA_LAG, PROMOTE,
# STREAM_K (and STAGES for 128x128: 5 here)
TK_F256="M_BLOCK=2,N_BLOCK=2,STAGES=4,SUPER_M=16,$TK_BASE,WG_M=128,ORDER=1"
TK_F128="M_BLOCK=2,N_BLOCK=2,STAGES=5,SUPER_M=16,$TK_BASE,WG_M=64,ORDER=1"
