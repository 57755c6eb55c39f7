"""Strict buffer descriptors for the emulator: the CDNA buffer addressing hktune relies on is the
linear one (address = base + soffset + voffset + offset). tinygrad's emulator implements only
that and never reads the stride / swizzle fields of a buffer resource (V#), where a real GPU would
apply them. So that a pass in the emulator says something about the descriptor exactly as the
kernel built it, every buffer instruction whose V# has any of word1[31:16] set (row stride in
[29:16], cache-swizzle 30, swizzle-enable 31) is made to touch nothing: its num_records reads as 0,
every lane is out of range, loads return 0 and stores are dropped - and the GEMM comes out wrong.

``install(emu)`` wraps the emulator's MUBUF compiler (tinygrad test/mockgpu/amd/emu.py at the
pinned commit, whose _compile_mubuf reads the V# words 0, 1, 2 with its first three
``ctx.rsgpr_dyn`` calls; the file is hash-checked by hktune.emulator.locate).
"""
from __future__ import annotations


class _GuardedCtx:
    """The instruction context, with V# word2 (num_records) forced to 0 when word1[31:16] != 0."""

    def __init__(self, ctx, const) -> None:  # noqa: ANN001
        self._ctx, self._c, self._reads = ctx, const, []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._ctx, name)

    def rsgpr_dyn(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        v = self._ctx.rsgpr_dyn(*args, **kwargs)
        self._reads.append(v)
        if len(self._reads) == 3:   # word2 of the V#; word1 was the second read
            word1 = self._reads[1]
            return (word1 >> self._c(16)).ne(self._c(0)).where(self._c(0), v)
        return v


def install(emu) -> None:  # noqa: ANN001
    orig = emu._compile_mubuf
    if getattr(orig, "hktune_strict", False):
        return

    def compile_mubuf(inst, ctx):  # noqa: ANN001, ANN202
        return orig(inst, _GuardedCtx(ctx, emu._c))

    compile_mubuf.hktune_strict = True
    emu._compile_mubuf = compile_mubuf
    for kind, handler in list(emu._INST_HANDLERS.items()):
        if handler is orig:
            emu._INST_HANDLERS[kind] = compile_mubuf
