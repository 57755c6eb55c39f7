"""Counts for docs/design.md's "Layers" section (issue 20), from the source with Python's ast:

* imports of hktune modules, and how many of them sit inside functions;
* functions that take ``arch: str``, and those below the boundary (not commands/, torch/, target.py,
  family/ - the resolution itself - nor sweep's group set-up);
* names starting with '_' imported from another hktune module;
* functions over 60 lines (their docstring must say why).

    python3 bench/layering.py [-v] [REPO]
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

BOUNDARY = ("hktune.commands", "hktune.torch", "hktune.target", "hktune.family", "hktune.space.space.load_space",
            "hktune.sweep.sweep.Group")


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    root = Path(args[0] if args else Path(__file__).resolve().parents[1])
    total = inner = 0
    arch_fns: list[str] = []
    private: list[str] = []
    long: list[str] = []
    for p in sorted((root / "hktune").rglob("*.py")):
        mod = ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(p.read_text())
        in_fn: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.ClassDef,)):
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        sub.qual = f"{node.name}.{sub.name}"  # type: ignore[attr-defined]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{mod}.{getattr(node, 'qual', node.name)}"
                in_fn.update(id(s) for s in ast.walk(node) if s is not node)
                args_ = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if any(a.arg == "arch" and a.annotation is not None and "str" in ast.unparse(a.annotation) for a in args_):
                    arch_fns.append(name)
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{name} ({lines} lines)")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hktune"):
                mods = [node.module]
                private += [f"{mod}: from {node.module} import {a.name}" for a in node.names
                            if a.name.startswith("_") and not a.name.startswith("__")]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names if a.name.startswith("hktune")]
            else:
                continue
            if mods:
                total += 1
                inner += id(node) in in_fn
    below = [f for f in arch_fns if not f.startswith(BOUNDARY)]
    print(f"imports of hktune modules: {total}, inside functions: {inner}")
    print(f"functions taking arch: str: {len(arch_fns)}; below the boundary: {len(below)}")
    print(f"private names imported across modules: {len(private)}")
    print(f"functions over 60 lines: {len(long)}")
    if verbose:
        for title, items in (("below the boundary", below), ("private", private), ("long", long)):
            print(f"-- {title}:", *items, sep="\n   ")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
