# Run HERE (not on the device machine), once per fresh checkout, before the first `run`: makes the two
# ignored folders every device call carries (carry [".whl", ".tk"]; setup.sh installs and points at them).
#  .whl/  wheels for the lent machine's python3 (3.12, x86_64): hktune's own dependencies that its image
#         lacks (optuna and its needs, pydantic, pandas, ...), at the versions of this checkout's .venv
#         (torch and numpy come from the image);
#  .tk/   a copy of the ThunderKittens tree (THUNDERKITTENS_ROOT there), from THUNDERKITTENS_ROOT here.
# Both are in .git/info/exclude. About 25 MiB together, inside the 64 MiB a call may carry.
set -e
cd "$(dirname "$0")/../.."
for d in /.whl/ /.tk/; do grep -qxF "$d" .git/info/exclude || echo "$d" >> .git/info/exclude; done
# hktune's dependencies, walked from its installed metadata (markers for the lent machine's python 3.12), at this
# checkout's .venv versions; torch and numpy come from the image
pins=$(.venv/bin/python - <<'EOF'
import importlib.metadata as md
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
env = {"python_version": "3.12", "python_full_version": "3.12.3", "extra": ""}
seen, todo = {}, ["hktune"]
while todo:
    for r in md.requires(todo.pop()) or []:
        q = Requirement(r)
        name = canonicalize_name(q.name)
        if (q.marker and not q.marker.evaluate(env)) or name in ("torch", "numpy") or name in seen:
            continue
        seen[name] = md.version(q.name)
        todo.append(q.name)
print(" ".join(f"{n}=={v}" for n, v in sorted(seen.items())))
EOF
)
rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $pins
: "${THUNDERKITTENS_ROOT:?set THUNDERKITTENS_ROOT to a ThunderKittens checkout}"
rm -rf .tk && cp -r "$THUNDERKITTENS_ROOT" .tk
du -sh .whl .tk
