// hktune family "thunderkittens": the knobs of gemm.cu (-D integers; defaults = ThunderKittens' <2,4,8>) and the
// combinations the template refuses. Included by gemm.cu before any ThunderKittens header; not a header of its own.
#pragma once

#ifndef M_BLOCK
#define M_BLOCK 2
#endif
#ifndef N_BLOCK
#define N_BLOCK 4
#endif
#ifndef STAGES
#define STAGES 4
#endif
#ifndef SUPER_M
#define SUPER_M 8
#endif
#ifndef PERSISTENT
#define PERSISTENT 1
#endif
#ifndef PRODUCER_REGS
#define PRODUCER_REGS 40
#endif
#ifndef CONSUMER_REGS
#define CONSUMER_REGS 232
#endif
#ifndef EPILOGUE
#define EPILOGUE 1
#endif
// schedule knobs (sched.cuh); at these defaults the kernel is TK's lcf one, unchanged
#ifndef SCHED
#define SCHED 0
#endif
#ifndef WG_M
#define WG_M 64
#endif
#ifndef CLUSTER_M
#define CLUSTER_M 1
#endif
#ifndef CLUSTER_N
#define CLUSTER_N 1
#endif
#ifndef ORDER
#define ORDER 0
#endif
#ifndef MMA_LAG
#define MMA_LAG 0
#endif
#ifndef SPLIT_K
#define SPLIT_K 1
#endif
// 1: the tail round's tiles cut into equal k-step ranges per cluster (stream-K; sched.cuh, SCHED 1)
#ifndef STREAM_K
#define STREAM_K 0
#endif
// 16, 32: tile columns 64*N_BLOCK + 16 / + 32 (fp8 128x144 with wgmma n144, 128x160 with n160; sched.cuh, SCHED 1)
#ifndef N_EXTRA
#define N_EXTRA 0
#endif
#if N_EXTRA != 0 && N_EXTRA != 16 && N_EXTRA != 32
#error "N_EXTRA: 0, 16 (144-column tiles) or 32 (160-column tiles)"
#endif
// fp8 promotion interval (SCHED 0 or 1): n > 0 = the k32 wgmmas of n consecutive k steps go into a
// fresh partial accumulator (wgmma's fp8 accumulation keeps only ~14 bits inside the instruction
// chain) that is added into the fp32 accumulator on the CUDA cores once per n steps; 0 = the whole
// K chain in wgmma's accumulator
#ifndef PROMOTE
#define PROMOTE 0
#endif
#if PROMOTE != 0 && PROMOTE != 1 && PROMOTE != 2 && PROMOTE != 4
#error "PROMOTE: 0 (off) or a promotion interval of 1, 2 or 4 k steps"
#endif
#if PROMOTE != 0 && (!defined(HKT_FP8) || SCHED == 2)
#error "PROMOTE > 0 needs the fp8 kernel (-DHKT_FP8) and SCHED 0 or 1 (not ping-pong)"
#endif
#if SCHED == 0 && (WG_M != 64 || CLUSTER_M != 1 || CLUSTER_N != 1 || ORDER != 0 || MMA_LAG != 0 || SPLIT_K != 1 || STREAM_K != 0 || N_EXTRA != 0)
#error "WG_M, CLUSTER_M, CLUSTER_N, ORDER, MMA_LAG, SPLIT_K, STREAM_K and N_EXTRA need SCHED >= 1 (sched.cuh)"
#endif

