	.text
	.amdgcn_target "amdgcn-amd-amdhsa--gfx950"
	.amdhsa_code_object_version 6
	.protected	toy_kernel
	.globl	toy_kernel
	.p2align	8
	.type	toy_kernel,@function
toy_kernel:
	s_load_dwordx2 s[0:1], s[0:1], 0x0
	v_mov_b32_e32 v0, 0
	v_mfma_f32_16x16x32_bf16 v[4:7], v[0:3], v[0:3], v[4:7]
	v_mfma_f32_32x32x16_bf16 v[8:23], v[0:3], v[0:3], v[8:23]
	s_waitcnt lgkmcnt(0)
	global_store_dword v0, v4, s[0:1]
	s_endpgm
.Lfunc_end0:
	.size	toy_kernel, .Lfunc_end0-toy_kernel
	.rodata
	.p2align	6
	.amdhsa_kernel toy_kernel
		.amdhsa_group_segment_fixed_size 4096
		.amdhsa_private_segment_fixed_size 8
		.amdhsa_next_free_vgpr 24
		.amdhsa_next_free_sgpr 6
		.amdhsa_accum_offset 24
	.end_amdhsa_kernel
	.text
; -- End function
	.set toy_kernel.num_vgpr, 24
; Kernel info:
; codeLenInByte = 52
; TotalNumSgprs: 10
; NumVgprs: 24
; NumAgprs: 0
; TotalNumVgprs: 24
; ScratchSize: 8
; MemoryBound: 0
; LDSByteSize: 4096 bytes/workgroup (compile time only)
; Occupancy: 8
	.amdgpu_metadata
---
amdhsa.kernels:
  - .agpr_count:     0
    .group_segment_fixed_size: 4096
    .name:           toy_kernel
    .private_segment_fixed_size: 8
    .sgpr_count:     10
    .sgpr_spill_count: 0
    .symbol:         toy_kernel.kd
    .vgpr_count:     24
    .vgpr_spill_count: 1
amdhsa.version:
  - 1
  - 2
...

	.end_amdgpu_metadata
