"""What a build runs on the device, as one hash (the space's ``prune: identical_code``).

Two configs whose device code is identical are the same kernel: knobs that do not bind (e.g. a
HipKittens OCCUPANCY of 1, 2 and 4 on a 128x128 tile whose registers allow 4 waves anyway) or
that only change host code. The tuner times such a kernel once; its twins are recorded as pruned
with the twin's result (hktune.search.driver). The identity is the AMDGPU code object's body
hash: its .text and kernel descriptors (hktune.build.amd.codeobject), for a device-only code object
or the amdgcn entries of an offload bundle. Other artifacts have none (host code carries the
config string, so the whole file would always differ), and are never pruned this way."""
from __future__ import annotations

import hashlib
from pathlib import Path

from hktune.build.amd.resources import code_objects
from hktune.build.amd import codeobject


def code_identity(artifact: Path | None) -> str | None:
    """A hash of the device code of a build, or None when there is no AMDGPU code in it."""
    if artifact is None or not Path(artifact).is_file():
        return None

    data = Path(artifact).read_bytes()
    bodies = []
    try:
        for elf in code_objects(data):
            bodies.append(codeobject.load(elf).body_hash)
    except codeobject.CodeObjectError:
        return None
    if not bodies:
        return None
    return bodies[0] if len(bodies) == 1 else hashlib.sha256("".join(bodies).encode()).hexdigest()
