; Hand-written: the drain reads a stage that depends on a runtime value (rem), the remainder
; tile is guarded by a branch; ;hkt.param / ;hkt.assume / ;hkt.count let the checker try rem = 0
; and rem = 1 and prune the paths that cannot happen. The drain reads stage rem: for rem = 0 it
; was retired long ago; for rem = 1 it is loaded in the remainder tile, last, and vmcnt(1)
; leaves it in flight.
	.text
	.globl	toy_drain
	.type	toy_drain,@function
toy_drain:
	;hkt.param rem=0..1
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s8 offen lds
	s_waitcnt vmcnt(0)
	s_barrier
	s_cmp_eq_u32 s12, 0
	s_cbranch_scc1 .LBB0_2
	;hkt.assume rem>=1 and remtiles==0
	;hkt.count remtiles
	;hkt.load Q s=0
	buffer_load_dwordx4 v1, s[4:7], s10 offen lds
	;hkt.load T s=1
	buffer_load_dwordx4 v1, s[4:7], s9 offen lds
	s_branch .LBB0_3
.LBB0_2:
	;hkt.assume rem<1
.LBB0_3:
	;hkt.assume remtiles==rem
	s_waitcnt vmcnt(1)
	s_barrier
	;hkt.read T s=rem
	ds_read_b128 v[10:13], v3
	s_waitcnt lgkmcnt(0)
	s_endpgm
.Lfunc_end0:
	.size	toy_drain, .Lfunc_end0-toy_drain
