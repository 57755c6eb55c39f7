; Hand-written: a load of tile T is issued after the barrier that precedes T's read.
	.text
	.globl	toy_late
	.type	toy_late,@function
toy_late:
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s8 offen lds
	s_waitcnt vmcnt(0)
	s_barrier
	;hkt.load T s=0
	buffer_load_dwordx4 v1, s[4:7], s8 offen lds
	;hkt.read T s=0
	ds_read_b128 v[10:13], v3
	s_waitcnt vmcnt(0) lgkmcnt(0)
	s_endpgm
.Lfunc_end0:
	.size	toy_late, .Lfunc_end0-toy_late
