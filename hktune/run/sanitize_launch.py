"""Launch one library once at a small shape, for compute-sanitizer (racecheck, synccheck):
``python -m hktune.run.sanitize_launch LIB M N K [DTYPE]``. Exits non-zero on a launch error or a
wrong result, so a kernel that only misbehaves under the tool is caught too. The inputs, the
reference and the tolerance are the dtype's (hktune.dtypes; bf16 when not given)."""
from __future__ import annotations

import sys

import torch

from hktune.dtypes import get as get_dtype
from hktune.run.verify import Library, check


def main(argv: list[str]) -> int:
    lib_path, m, n, k = argv[0], *map(int, argv[1:4])
    dtype = get_dtype(argv[4] if len(argv) > 4 else "bf16")
    dev = torch.device("cuda:0")
    gen = torch.Generator(device=dev).manual_seed(7)
    x = dtype.random_inputs(m, n, k, dev, gen)
    C = dtype.nan_out(m, n, dev)
    lib = Library(lib_path)
    lib(x.A, x.Bt, C, torch.cuda.current_stream(dev).cuda_stream, tuple(dtype.kernel_args(x)))
    torch.cuda.synchronize()
    _, why = check(C, dtype.reference(x), dtype)
    if why:
        print(f"wrong result under the sanitizer: {why}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
