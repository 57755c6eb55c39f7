; Hand-written gfx942 toy: a tile staged through registers (buffer_load -> VGPRs -> ds_write).
	.text
	.amdgcn_target "amdgcn-amd-amdhsa--gfx942"
	.globl	toy_regstage
	.type	toy_regstage,@function
toy_regstage:
	buffer_load_dwordx4 v[0:3], v10, s[4:7], 0 offen
	buffer_load_dwordx4 v[4:7], v11, s[4:7], 0 offen
	buffer_load_dwordx4 v[8:11], v12, s[4:7], 0 offen
	s_waitcnt vmcnt(2)
	ds_write_b128 v20, v[0:3]
	s_waitcnt vmcnt(1)
	ds_write_b128 v21, v[4:7]
	s_waitcnt vmcnt(1)
	ds_write_b128 v22, v[8:11]
	s_waitcnt lgkmcnt(0)
	s_barrier
	s_endpgm
.Lfunc_end0:
	.size	toy_regstage, .Lfunc_end0-toy_regstage
