"""Launch one library once at a small shape, for compute-sanitizer (racecheck, synccheck):
``python -m hktune.run.sanitize_launch LIB M N K``. Exits non-zero on a launch error or a
wrong result, so a kernel that only misbehaves under the tool is caught too."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import torch

    from hktune.run.verify import Library, check, random_pair, reference

    lib_path, m, n, k = argv[0], *map(int, argv[1:4])
    dev = torch.device("cuda:0")
    gen = torch.Generator(device=dev).manual_seed(7)
    A, Bt = random_pair(m, n, k, dev, gen)
    C = torch.full((m, n), float("nan"), device=dev, dtype=torch.bfloat16)
    lib = Library(lib_path)
    lib(A, Bt, C, torch.cuda.current_stream(dev).cuda_stream)
    torch.cuda.synchronize()
    _, why = check(C, reference(A, Bt))
    if why:
        print(f"wrong result under the sanitizer: {why}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
