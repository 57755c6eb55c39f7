"""Run hipkittens-family kernels in tinygrad's AMD ISA emulator (CPU only, no GPU).

locate: where the pinned emulator files are (EmulatorMissing when they are not);
install: `hktune toolchain install --emulator`; abi: the family's kernel arguments and launch
(the code-object reader is hktune.build.amd.codeobject); launch: the child process that runs one
kernel; run: the parent side, ``emulate()``; verify: compile + emulate many configs, one run per
distinct kernel body. Nothing here imports tinygrad: the emulator only runs in the child.
"""
from hktune.emulator.locate import EmulatorMissing, find
from hktune.emulator.run import emulate

__all__ = ["EmulatorMissing", "find", "emulate"]
