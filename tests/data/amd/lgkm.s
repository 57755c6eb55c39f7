; Hand-written: LDS reads feeding MFMAs; one MFMA runs before its operand has arrived, and a
; scalar load shares lgkmcnt with the LDS reads.
	.text
	.globl	toy_lgkm
	.type	toy_lgkm,@function
toy_lgkm:
	s_load_dwordx2 s[2:3], s[0:1], 0x0
	ds_read_b128 v[10:13], v1
	ds_read_b128 v[14:17], v1 offset:1024
	s_waitcnt lgkmcnt(1)
	v_mfma_f32_16x16x32_bf16 v[20:23], v[10:13], v[10:13], v[20:23]
	v_mfma_f32_16x16x32_bf16 v[20:23], v[14:17], v[14:17], v[20:23]
	s_waitcnt lgkmcnt(0)
	v_mfma_f32_16x16x32_bf16 v[24:27], v[14:17], v[14:17], v[24:27]
	s_endpgm
.Lfunc_end0:
	.size	toy_lgkm, .Lfunc_end0-toy_lgkm
