# Second H200 call: the thunderkittens family tuned on the seven shapes (paired method,
# tournament), TK's default <2,4,8> timed beside it, then the Llama-3-8B MLP block through
# hktune.torch with the tuned table.
. bench/device/setup.sh
python3 bench/tune.py --family thunderkittens --out $OUT/tk --trials 30 --timeout 20 --tournament-rounds 10 \
  --baseline M_BLOCK=2,N_BLOCK=4,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=1 2>&1 | tail -15
python3 bench/check_model.py --out $OUT/model --table $OUT/tk/sm_90.yaml 2>&1 | tail -15
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
