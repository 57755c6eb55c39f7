"""Run hipkittens-family kernels in tinygrad's AMD ISA emulator (CPU only, no GPU).

locate: where the pinned emulator files are (EmulatorMissing when they are not);
install: `hktune toolchain install --emulator`; codeobject: read a .hsaco; abi: the family's
kernel arguments and launch; launch: the child process that runs one kernel; run: the parent
side, ``emulate()``; verify: compile + emulate many configs, one run per distinct kernel body.
"""
from hktune.emulator.locate import EmulatorMissing, find

__all__ = ["EmulatorMissing", "find", "emulate"]


def emulate(*args, **kwargs):  # noqa: ANN002, ANN003 - thin re-export, keeps `import hktune.emulator` cheap
    from hktune.emulator.run import emulate as _emulate

    return _emulate(*args, **kwargs)


emulate.__doc__ = "See hktune.emulator.run.emulate."
