; Hand-written: the wait that retires tile T sits right before the barrier that precedes its
; read. Safe when all waves pass the barriers together (lag 0); with an 8-wave ping-pong the
; other wave group passes this barrier while still one step behind (lag 1), so the loads must
; be retired one barrier earlier.
	.text
	.globl	toy_lag
	.type	toy_lag,@function
toy_lag:
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s8 offen lds
	;hkt.load U s=0
	buffer_load_dwordx4 v1, s[4:7], s9 offen lds
	v_mfma_f32_16x16x32_bf16 v[20:23], v[10:13], v[10:13], v[20:23]
	s_barrier
	s_waitcnt vmcnt(1)
	s_barrier
	;hkt.read T s=0
	ds_read_b128 v[10:13], v3
	s_waitcnt vmcnt(0)
	s_barrier
	s_barrier
	;hkt.read U s=0
	ds_read_b128 v[14:17], v3
	s_waitcnt lgkmcnt(0)
	s_endpgm
.Lfunc_end0:
	.size	toy_lag, .Lfunc_end0-toy_lag
