// hktune family "thunderkittens": sched.cuh's compile-time checks of its knobs and of the derived values the space
// passes (-DSMEM_BYTES and the rest must agree with the kernel's own). A fragment of sched.cuh, included by it inside
// namespace hk_sched's anonymous namespace after its constants; not a header of its own.
#pragma once

static_assert(SCHED == 1 || SCHED == 2, "SCHED: 0 (TK lcf), 1 (cooperative), 2 (ping-pong)");
static_assert(!kPing || kConsumers == 2, "ping-pong needs M_BLOCK=2 consumer warpgroups");
static_assert(WG_M == 64 || WG_M == 128, "WG_M: 64 or 128");
static_assert(kCS == 1 || kCS == 2, "clusters of 1 or 2 blocks (CLUSTER_M * CLUSTER_N)");
static_assert(ORDER >= 0 && ORDER <= 2, "ORDER: 0..2");
static_assert(EPILOGUE >= 0 && EPILOGUE <= 3, "EPILOGUE: 0..3");
static_assert(EPILOGUE < 3 || ((MMA_LAG == 1 || (PROMOTE == 0 && MMA_LAG == 0)) && !kPing && kSplit == 1 && STREAM_K == 0),
              "EPILOGUE 3 runs an epilogue under the next tile's first k step: SCHED 1, whole-K units, MMA_LAG 1 (bf16: or 0)");
// bf16 (PROMOTE 0) holds the last tile's sum in bf16 (half the accumulator's registers) until its epilogue has run
static_assert(EPILOGUE < 3 || PROMOTE > 0 || kHalves * kBN / 2 * 3 / 2 + 40 <= CONSUMER_REGS,
              "EPILOGUE 3 without promotion: the accumulator and the last tile in bf16 do not fit CONSUMER_REGS");
static_assert(PERSISTENT == 1, "SCHED >= 1 is always persistent");
static_assert(MMA_LAG >= 0 && MMA_LAG <= 2, "MMA_LAG: 0, 1 or 2");
static_assert(MMA_LAG < 2 || PROMOTE > 0, "MMA_LAG 2 chains a promotion group: PROMOTE > 0");
static_assert(MMA_LAG == 0 || STAGES >= 3, "MMA_LAG=1 holds two stages per consumer");
static_assert(kSplit == 1 || kSplit == 2 || kSplit == 4, "SPLIT_K: 1, 2 or 4");
static_assert(STREAM_K == 0 || STREAM_K == 1, "STREAM_K: 0 or 1");
static_assert(!kStreamK || (SCHED == 1 && kSplit == 1), "STREAM_K=1: SCHED 1 and SPLIT_K 1");
static_assert(kSmemS <= kittens::MAX_SHARED_MEMORY, "ring + epilogue buffers exceed 227 KB");
static_assert(N_EXTRA == 0 || ((N_EXTRA == 16 || N_EXTRA == 32) && SCHED == 1 && N_BLOCK == 2 && kCN == 1 && kSplit == 1 &&
                               STREAM_K == 0),
              "N_EXTRA 16/32: SCHED 1, N_BLOCK 2 (n144/n160), CLUSTER_N 1, SPLIT_K 1, STREAM_K 0");
static_assert(kHalves * kBN / 2 + 32 <= CONSUMER_REGS, "accumulator does not fit CONSUMER_REGS");
static_assert(PROMOTE == 0 || PROMOTE == 1 || PROMOTE == 2 || PROMOTE == 4,
              "PROMOTE: 0 (off) or a promotion interval of 1, 2 or 4 k steps");
static_assert(PROMOTE == 0 || (kFp8 && !kPing), "PROMOTE > 0: fp8 (-DHKT_FP8) and SCHED=1 only");
// PROMOTE > 0: accumulator + one m64 partial (MMA_LAG=0; WG_M 128 holds a group's stages) or two of its size;
// + 40 for the rest (+ 24 at n144, whose 3 x 72 fit 240 without spills, unclustered: ptxas, nvcc 13.0)
static_assert(PROMOTE == 0 || (kHalves + (MMA_LAG == 1 ? 2 * kHalves : 1)) * kBN / 2 + (N_EXTRA ? 24 : 40) <= CONSUMER_REGS,
              "PROMOTE > 0: the accumulator and its partials do not fit CONSUMER_REGS");
static_assert(PROMOTE == 0 || MMA_LAG == 1 || (kHalves == 1 && MMA_LAG == 0) || STAGES > PROMOTE,
              "PROMOTE with WG_M 128 or MMA_LAG 2 holds a group's stages: STAGES > PROMOTE");
#ifdef SMEM_BYTES
static_assert(SMEM_BYTES == kSmemS, "-DSMEM_BYTES disagrees with the kernel");
#endif
#ifdef THREADS
static_assert(THREADS == kThreadsS, "-DTHREADS disagrees with the kernel");
#endif
#ifdef STAGE_BYTES
static_assert(STAGE_BYTES == kStageBytesS, "-DSTAGE_BYTES disagrees with the kernel");
#endif
#ifdef TILE_M
static_assert(TILE_M == kBM, "-DTILE_M disagrees with the kernel");
#endif
#ifdef ACC_REGS
static_assert(ACC_REGS == kHalves * kBN / 2, "-DACC_REGS disagrees with the kernel");
#endif
