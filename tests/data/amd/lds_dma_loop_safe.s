; Hand-written gfx950 toy: a double-buffered K loop. Two buffer_load ... lds per tile stage, the
; ;hkt markers name the LDS tile each load group writes and each ds_read reads.
	.text
	.amdgcn_target "amdgcn-amd-amdhsa--gfx950"
	.globl	toy_pipeline
	.type	toy_pipeline,@function
toy_pipeline:
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s8 offen lds
	buffer_load_dwordx4 v2, s[4:7], s8 offen lds
	;hkt.load T s=1
	buffer_load_dwordx4 v1, s[4:7], s9 offen lds
	buffer_load_dwordx4 v2, s[4:7], s9 offen lds
	s_waitcnt vmcnt(2)
	s_barrier
.LBB0_1:
	;hkt.read T s=0
	ds_read_b128 v[10:13], v3
	s_waitcnt lgkmcnt(0)
	v_mfma_f32_16x16x32_bf16 v[20:23], v[10:13], v[10:13], v[20:23]
	s_barrier
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s10 offen lds
	buffer_load_dwordx4 v2, s[4:7], s10 offen lds
	s_waitcnt vmcnt(2)
	s_barrier
	;hkt.read T s=1
	ds_read_b128 v[10:13], v4
	s_waitcnt lgkmcnt(0)
	v_mfma_f32_16x16x32_bf16 v[20:23], v[10:13], v[10:13], v[20:23]
	s_barrier
	;hkt.load T s=1
	buffer_load_dwordx4 v1, s[4:7], s11 offen lds
	buffer_load_dwordx4 v2, s[4:7], s11 offen lds
	s_waitcnt vmcnt(2)
	s_barrier
	s_add_u32 s12, s12, -1
	s_cmp_lg_u32 s12, 0
	s_cbranch_scc1 .LBB0_1
	s_waitcnt vmcnt(0)
	global_store_dwordx4 v5, v[20:23], s[0:1]
	s_endpgm
.Lfunc_end0:
	.size	toy_pipeline, .Lfunc_end0-toy_pipeline
