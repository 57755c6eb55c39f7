# Sourced by fp8-overlap.sh and next.sh (after sanitize.sh): cfg() builds a thunderkittens sched config from
# its knob values; FP8_SAN is the fp8 schedule kernels' sanitizer list (san_phase's $SAN lines).
cfg() {  # M_BLOCK N_BLOCK STAGES EPILOGUE SCHED WG_M CLUSTER_M CLUSTER_N ORDER MMA_LAG SPLIT_K CONSUMER_REGS PROMOTE
  echo "M_BLOCK=$1,N_BLOCK=$2,STAGES=$3,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=${12},EPILOGUE=$4,SCHED=$5,WG_M=$6,CLUSTER_M=$7,CLUSTER_N=$8,ORDER=$9,MMA_LAG=${10},SPLIT_K=${11},PROMOTE=${13}"
}
# tool:name:config:shape: small shapes on a grid capped at 2 blocks (GRID_CAP), so every block runs
# several tiles (the ring wraps, a next tile rewrites the epilogue buffers) and each check takes seconds
FP8_SAN="$(san_lines racecheck,synccheck k1lagp "$(cfg 2 2 4 2 1 64 1 1 0 1 1 232 1)" 512x1024x896)
$(san_lines racecheck k1cn2lagp "$(cfg 2 2 6 2 1 64 1 2 0 1 1 232 1)" 512x1024x896)
$(san_lines racecheck,synccheck,memcheck k1cm2sk2p "$(cfg 2 2 4 2 1 64 2 1 0 0 2 232 1)" 512x512x1280)
$(san_lines racecheck,synccheck k1lagp4 "$(cfg 2 2 4 2 1 64 1 1 0 1 1 232 4)" 512x512x1408)
$(san_lines racecheck k0p2 "$(cfg 2 2 4 1 0 64 1 1 0 0 1 232 2)" 512x512x1408)
$(san_lines racecheck,synccheck k1w128p2 "$(cfg 2 2 4 2 1 128 1 1 0 0 1 232 2)" 512x512x1408)
$(san_lines racecheck,synccheck k1chain4 "$(cfg 2 2 5 2 1 64 1 1 1 2 1 232 4)" 512x512x1408)
$(san_lines racecheck,synccheck k1w128chain2 "$(cfg 2 2 4 2 1 128 1 1 1 2 1 232 2)" 512x512x1408)
$(san_lines racecheck,synccheck,memcheck win "M_BLOCK=2,N_BLOCK=2,STAGES=5,SUPER_M=16,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=2,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=1,MMA_LAG=0,SPLIT_K=1,PROMOTE=4" 512x512x1408)"
# (win: the 2026-12-05 fp8 search's winner, 0.92x/0.94x _scaled_mm, searched with --no-sanitize)
