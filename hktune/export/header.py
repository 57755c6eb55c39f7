"""Export a results table as a self-contained C++17 header: configs, legality, lookup.

Per (family, arch, dtype, layout) the header holds a config struct (the dtype's space: an fp8
kernel has its own knobs), a constexpr array of the tuned entries, one legality predicate per
entry (the space's shape_constraints with that entry's config substituted, M/N/K left as runtime
names), a constexpr lookup that never hands out a config that is illegal for the asked shape, and
per dtype the launch signature of a library built from an entry (``gemm_fn``: the C ABI, with the
dtype's extra operands after C, e.g. fp8_e4m3's two scales). :func:`pick` is the same lookup in Python, for tests and
for tools that want to say what the header would choose.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

from hktune import dtypes
from hktune.space.expr import ExprError
from hktune.export.spaces import ABI_DTYPE_LAYOUT, ExportError, entry_spaces, group_spaces
from hktune.space.space import Space
from hktune.record import figures
from hktune.record.table import Entry, Key

# The C ABI's dtype and layout: their lookups get the short names; others get a suffix.
LOG2_FRAC_BITS = 16
SHAPE = frozenset({"M", "N", "K"})

_CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t char32_t class
compl const constexpr const_cast continue decltype default delete do double dynamic_cast else enum
explicit export extern false float for friend goto if inline int long mutable namespace new noexcept
not not_eq nullptr operator or or_eq private protected public register reinterpret_cast return short
signed sizeof static static_assert static_cast struct switch template this thread_local throw true try
typedef typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq
detail std hktune
""".split())


# -- names -----------------------------------------------------------------------------------
def ident(name: str) -> str:
    """A C++ identifier from a family/arch/dtype name: 'gfx90a:xnack-' -> 'gfx90a_xnack'."""
    out = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_") or "x"
    if out[0].isdigit():
        out = "x" + out
    return out + "_" if out in _CPP_KEYWORDS else out


def camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in ident(name).split("_"))


def _check_field(name: str, space: Space) -> str:
    # Reserved forms (_X, __x) and keywords would not compile, or would compile to something odd.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or "__" in name or name in _CPP_KEYWORDS:
        raise ExportError(f"{space.path}: {name!r} cannot be a C++ struct field name")
    return name


# -- the lookup rule, in Python ---------------------------------------------------------------
def log2_q(x: int, frac_bits: int = LOG2_FRAC_BITS) -> int:
    """log2(x) in fixed point (``frac_bits`` fractional bits), bit-exact with the header's."""
    if x <= 0:
        return 0
    ip = x.bit_length() - 1
    y = x >> (ip - frac_bits) if ip >= frac_bits else x << (frac_bits - ip)  # 1 <= y < 2
    r = ip << frac_bits
    for b in range(frac_bits - 1, -1, -1):
        y = (y * y) >> frac_bits
        if y >= 2 << frac_bits:
            y >>= 1
            r += 1 << b
    return r


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per key (the fastest), by shape: the order of the header's arrays."""
    best: dict[Key, Entry] = {}
    for e in entries:
        if e.key not in best or e.tflops > best[e.key].tflops:
            best[e.key] = e
    return sorted(best.values(), key=lambda e: (e.key.m, e.key.n, e.key.k))


def legal(space: Space, e: Entry, m: int, n: int, k: int) -> bool:
    return m > 0 and n > 0 and k > 0 and not space.shape_violations(e.config, m, n, k)


def pick(entries: Iterable[Entry], space: Space, m: int, n: int, k: int) -> Entry | None:
    """What the header's lookup returns for entries of one (family, arch, dtype, layout)."""
    best, best_rank = None, None
    q = (log2_q(m), log2_q(n), log2_q(k))
    for i, e in enumerate(ordered(entries)):
        if not legal(space, e, m, n, k):
            continue
        if (e.key.m, e.key.n, e.key.k) == (m, n, k):
            return e
        d = sum(abs(log2_q(a) - b) for a, b in zip((e.key.m, e.key.n, e.key.k), q))
        rank = (d, -e.tflops, i)
        if best_rank is None or rank < best_rank:
            best, best_rank = e, rank
    return best


def ratio_ok(e: Entry, min_ratio: float) -> bool:
    # No vendor timing (NaN ratio) is not "slower than the vendor": kept unless a bar is set.
    return e.ratio >= min_ratio if math.isfinite(e.ratio) else min_ratio <= 0


# -- rendering -------------------------------------------------------------------------------
def _f(x: float) -> str:
    """A C++ double literal; -1.0 stands for unknown (no vendor timing)."""
    return repr(float(x)) if math.isfinite(x) else "-1.0"


_HELPERS = f"""\
#ifndef HKTUNE_DETAIL_HELPERS_V1
#define HKTUNE_DETAIL_HELPERS_V1  // shared by every hktune header, so guarded on its own
namespace detail {{
// The generic check every legality predicate starts with.
constexpr bool shape_ok(int M, int N, int K) {{ return M > 0 && N > 0 && K > 0; }}
constexpr std::int64_t absdiff(std::int64_t a, std::int64_t b) {{ return a < b ? b - a : a - b; }}
// log2(x) with {LOG2_FRAC_BITS} fractional bits, in integers only (no <cmath>, usable in constexpr).
constexpr std::int64_t log2_q(std::int64_t x) {{
  if (x <= 0) return 0;
  int ip = 0;
  while ((x >> ip) > 1) ++ip;
  std::uint64_t y = ip >= {LOG2_FRAC_BITS} ? static_cast<std::uint64_t>(x) >> (ip - {LOG2_FRAC_BITS})
                             : static_cast<std::uint64_t>(x) << ({LOG2_FRAC_BITS} - ip);  // 1 <= y < 2
  std::int64_t r = static_cast<std::int64_t>(ip) << {LOG2_FRAC_BITS};
  for (int b = {LOG2_FRAC_BITS - 1}; b >= 0; --b) {{
    y = (y * y) >> {LOG2_FRAC_BITS};
    if (y >= (std::uint64_t{{2}} << {LOG2_FRAC_BITS})) {{
      y >>= 1;
      r += std::int64_t{{1}} << b;
    }}
  }}
  return r;
}}
}}  // namespace detail
#endif  // HKTUNE_DETAIL_HELPERS_V1
"""


def _legal_fn(name: str, space: Space, e: Entry) -> str:
    env = space.env(e.config)
    try:
        conds = [(c.to_cpp(env, keep=SHAPE), c.names & SHAPE) for c in space.shape_constraints]
    except ExprError as err:
        raise ExportError(f"{space.path}: entry {e.key}: {err}") from None
    used = set().union(*(n for _, n in conds)) if conds else set()
    # Widened to 64 bits so a constraint like M * N <= LIMIT cannot overflow an int.
    locals_ = "".join(f"  const std::int64_t {v} = {v}_;\n" for v in ("M", "N", "K") if v in used)
    body = "".join(f"\n      && {c}" for c, _ in conds)
    return (f"constexpr bool {name}(int M_, int N_, int K_) {{\n{locals_}"
            f"  return detail::shape_ok(M_, N_, K_){body};\n}}\n")


def _comment(i: int, e: Entry) -> str:
    cfg = " ".join(f"{k}={v}" for k, v in e.config.items())
    vname = e.vendor.get("name", "vendor BLAS")
    f = figures.of(e)
    if f.ratio is not None:
        note = f.ratio_text(vname)
        if f.ratio < 1:
            note += " -- SLOWER than the vendor BLAS here; a caller may prefer it"
        why = f.unreliable()
        if why:
            note += " -- unreliable: " + "; ".join(why)
    else:
        note = "no vendor timing"
    return f"// [{i}] {e.key.m}x{e.key.n}x{e.key.k}: {note}; {e.tflops:.4g} TFLOP/s; {cfg}"


def _entries_array(decl: str, space: Space, entries: list[Entry], own: list[Space]) -> str:
    """``inline constexpr <decl>[] = {...};``: each entry's shape, config (params, then derived
    values, by the space it was searched in: ``own``), figures and log2 sizes."""
    names = space.names + list(space.derived)
    out = [f"inline constexpr {decl}[] = {{\n"]
    for i, e in enumerate(entries):
        env = own[i].env(e.config)
        vt = e.vendor.get("tflops")
        vt = float(vt) if isinstance(vt, (int, float)) and not isinstance(vt, bool) else float("nan")
        if any(not -2**31 <= int(env[n]) < 2**31 for n in names):
            raise ExportError(f"{space.path}: entry {e.key}: a config value does not fit a C++ int")
        cfg = ", ".join(str(int(env[n])) for n in names)
        out.append(f"    {_comment(i, e)}\n")
        out.append(f"    {{{e.key.m}, {e.key.n}, {e.key.k}, {{{cfg}}}, {_f(e.tflops)}, {_f(vt)}, {_f(e.ratio)},\n"
                   f"     detail::log2_q({e.key.m}), detail::log2_q({e.key.n}), detail::log2_q({e.key.k})}},\n")
    out.append("};\n")
    return "".join(out)


def _group(ns: str, fam: str, sfx: str, label: str, space: Space, entries: list[Entry], own: list[Space]) -> str:
    """One (family, arch, dtype, layout): entries (``own``: the space each is rendered under), predicates, lookup."""
    base = f"{fam}_{ns}{sfx}"
    S = camel(f"{fam}{sfx}")
    arr, cnt = f"{ns}::{fam}{sfx}_entries", f"{ns}::{fam}{sfx}_count"
    out = [f"// ---- {space.family or space.path.stem} on {space.arch}, {label}: {len(entries)} entries ----\n"]
    out.append(f"namespace {ns} {{\n")
    if entries:
        out.append(_entries_array(f"{S}Entry {fam}{sfx}_entries", space, entries, own))
    out.append(f"inline constexpr std::size_t {fam}{sfx}_count = {len(entries)};\n")
    out.append(f"}}  // namespace {ns}\n\n")
    for i, e in enumerate(entries):
        out.append(_legal_fn(f"{base}_legal_{i}", own[i], e))
    # Entry i's predicate by index, so the lookup loop can ask it.
    if entries:
        cases = "".join(f"    case {i}: return {base}_legal_{i}(M, N, K);\n" for i in range(len(entries)))
        out.append(f"constexpr bool {base}_legal(std::size_t i, int M, int N, int K) {{\n"
                   f"  switch (i) {{\n{cases}    default: return false;\n  }}\n}}\n\n")
        out.append(f"""\
constexpr const {ns}::{S}Entry* lookup_{base}_entry(int M, int N, int K) {{
  if (!detail::shape_ok(M, N, K)) return nullptr;
  const std::int64_t lm = detail::log2_q(M), ln = detail::log2_q(N), lk = detail::log2_q(K);
  const {ns}::{S}Entry* best = nullptr;
  std::int64_t best_d = 0;
  for (std::size_t i = 0; i < {cnt}; ++i) {{
    const {ns}::{S}Entry& e = {arr}[i];
    if (!{base}_legal(i, M, N, K)) continue;  // never hand out a config illegal for this shape
    if (e.m == M && e.n == N && e.k == K) return &e;
    const std::int64_t d = detail::absdiff(e.lm, lm) + detail::absdiff(e.ln, ln) + detail::absdiff(e.lk, lk);
    if (best == nullptr || d < best_d || (d == best_d && e.tflops > best->tflops)) {{
      best = &e;
      best_d = d;
    }}
  }}
  return best;
}}
""")
    else:
        out.append(f"constexpr bool {base}_legal(std::size_t, int, int, int) {{ return false; }}\n")
        out.append(f"constexpr const {ns}::{S}Entry* lookup_{base}_entry(int, int, int) {{ return nullptr; }}\n")
    out.append(f"""\
constexpr const {ns}::{S}Config* lookup_{base}(int M, int N, int K) {{
  const {ns}::{S}Entry* e = lookup_{base}_entry(M, N, K);
  return e ? &e->config : nullptr;
}}
// Whether a tuned config is legal for the shape. Also the way to test it in a static_assert:
// GCC's -Waddress rejects `lookup_...(...) != nullptr` there once the call is folded.
constexpr bool has_{base}(int M, int N, int K) {{ return lookup_{base}_entry(M, N, K) != nullptr; }}

""")
    return "".join(out)


def _structs(ns: str, fam: str, space: Space, sfx: str = "") -> str:
    S = camel(f"{fam}{sfx}")
    params = "".join(f"  int {_check_field(n, space)};\n" for n in space.names)
    derived = "".join(f"  int {_check_field(n, space)};  // = {' '.join(ex.text.split())}\n" for n, ex in space.derived.items())
    return (f"namespace {ns} {{\n"
            f"// {space.family or space.path.stem} on {space.arch}: the params of {space.path}" + (", then its derived values" if derived else "") + ".\n"
            f"struct {S}Config {{\n{params}{derived}}};\n"
            f"struct {S}Entry {{\n"
            f"  int m, n, k;              // the shape it was tuned for\n"
            f"  {S}Config config;\n"
            f"  double tflops;            // of the tuned kernel at (m, n, k)\n"
            f"  double vendor_tflops;     // of the vendor BLAS at (m, n, k); -1: not timed\n"
            f"  double ratio;             // paired: vendor time / kernel time; < 1: the vendor BLAS was faster; -1: unknown\n"
            f"  std::int64_t lm, ln, lk;  // log2 of m, n, k in fixed point, for the nearest-shape fallback\n"
            f"}};\n"
            f"}}  // namespace {ns}\n\n")


def _launch_signature(dtype: str, layout: str) -> str:
    """``hktune::gemm_fn[_<dtype>_<layout>]``: the type of ``hktune_gemm`` in a library built from
    an entry of this dtype (docs/design.md, the C ABI), extra operands from hktune.dtypes."""
    dt = dtypes.get(dtype)
    sfx = "" if (dtype, layout) == ABI_DTYPE_LAYOUT else f"_{ident(dtype)}_{ident(layout)}"
    extra = "".join(f"const void* {ident(x)}, " for x in dt.extra_operands)
    guard = f"HKTUNE_GEMM_FN{sfx.upper()}_V1"
    doc = f"\n// {dt.extra_doc}" if dt.extra_doc else "\n// C = A Bt^T"
    return (f"#ifndef {guard}\n#define {guard}  // shared by every hktune header\n"
            f"// hktune_gemm of a library built from a {dtype} {layout} entry's config (dlsym it; stream: a\n"
            f"// cudaStream_t / hipStream_t): A [M,K] and Bt [N,K] {dt.torch_name}, C [M,N] {dt.out_torch_name}, "
            f"row-major;{doc}\n"
            f"// Returns 0 once launched; non-zero for an illegal shape (nothing launched) or a launch error.\n"
            f"using gemm_fn{sfx} = int (*)(const void* A, const void* Bt, void* C, {extra}int M, int N, int K, void* stream);\n"
            f"#endif  // {guard}\n\n")


def _preamble(table: str | Path | None, n: int, dropped: int, min_ratio: float, newest: str) -> str:
    src = f"from {table}" if table is not None else "from a results table"
    return f"""\
// Generated by hktune {src}; do not edit by hand (re-run `hktune export`).
// {n} entries exported (min_ratio {min_ratio:g}, {dropped} below it left out); newest entry: {newest}.
//
// Per (family, arch):
//   hktune::<arch>::<Family>Config        the tuned knobs: the space's params, then derived values
//   hktune::<arch>::<Family>Entry         a tuned shape: m, n, k, config, tflops, vendor_tflops, ratio
//   hktune::<arch>::<family>_entries[], <family>_count
//   hktune::<family>_<arch>_legal_<i>(M, N, K)     entry i's shape constraints, its config substituted
//   hktune::lookup_<family>_<arch>(M, N, K)        -> const <Family>Config*, or nullptr
//   hktune::lookup_<family>_<arch>_entry(M, N, K)  -> const <Family>Entry* (to read ratio, tflops)
//   hktune::has_<family>_<arch>(M, N, K)           -> whether the lookup finds a config
// Names for a dtype/layout other than {ABI_DTYPE_LAYOUT[0]}/{ABI_DTYPE_LAYOUT[1]} end in _<dtype>_<layout>; their structs are their
// own (the dtype's space), e.g. <Family>Fp8E4m3ABtConfig.
//   hktune::gemm_fn[_<dtype>_<layout>]           the launch signature of a library built from an entry
//                                                (a dtype's extra operands, e.g. fp8_e4m3's scales, after C)
//
// How the lookup works: only entries whose config is legal for (M, N, K) are considered (M, N,
// K > 0 and the entry's shape constraints hold), so it never returns an illegal config. An
// exact (M, N, K) match wins; otherwise the entry whose tuned shape is nearest in log space,
// |log2(M/m)| + |log2(N/n)| + |log2(K/k)| (ties: higher tflops, then the earlier entry).
// nullptr means no tuned config is legal for the shape: use the vendor BLAS.
// ratio < 1 means the vendor BLAS was faster at the tuned shape; a caller may prefer it there.
// Everything is constexpr, so a lookup with constant arguments can run at compile time.
// The struct fields carry the space's param names: do not include this header in a translation
// unit compiled with those names -D'd (the kernel sources are).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hktune {{

"""


def export_header(
    entries: list[Entry],
    space_for: Callable[[str, str, str], Space],
    out: Path | None = None,
    *,
    table: str | Path | None = None,
    min_ratio: float = 0.0,
    families: Iterable[tuple[str, str]] = (),
) -> str:
    """Render (and, given ``out``, write) the header for ``entries``.

    ``space_for(family, arch, dtype)`` loads the space each entry was tuned in (a dtype's kernel
    has its own space; BadInput when the family does not serve the dtype there). ``families`` names
    (family, arch) pairs to emit even without entries (their lookups return nullptr), so an
    empty table still gives callers the functions they link against.
    """
    pairs = sorted({(e.key.family, e.key.arch) for e in entries} | set(families))
    kept = [e for e in entries if ratio_ok(e, min_ratio)]

    # Names must stay distinct after sanitising, or two lookups would collide.
    seen: dict[str, tuple[str, str]] = {}
    for fam, arch in pairs:
        base = f"{ident(fam)}_{ident(arch)}"
        if base in seen:
            raise ExportError(f"{seen[base]} and {(fam, arch)} get the same C++ name {base}")
        seen[base] = (fam, arch)

    groups: list[str] = []
    signatures: set[tuple[str, str]] = set()
    for fam, arch in pairs:
        mine = [e for e in kept if (e.key.family, e.key.arch) == (fam, arch)]
        spaces = group_spaces(f"{fam} on {arch}", mine, lambda dtype, f=fam, a=arch: space_for(f, a, dtype))
        for (dtype, layout), space in spaces.items():
            # a param added since an entry was stored takes its legacy value (Space.complete)
            group = ordered(replace(e, config=space.complete(e.config)) for e in mine
                            if (e.key.dtype, e.key.layout) == (dtype, layout))
            own = entry_spaces(group, space, arch)     # each entry under the space it was searched in
            for e, sp in zip(group, own):
                bad = sp.violations(e.config)
                if bad:
                    raise ExportError(f"{sp.path}: entry {e.key}: config {e.config} is not valid in this space ({bad[0]}); re-tune it or drop it")
            sfx = "" if (dtype, layout) == ABI_DTYPE_LAYOUT else f"_{ident(dtype)}_{ident(layout)}"
            groups.append(_structs(ident(arch), ident(fam), space, sfx))
            groups.append(_group(ident(arch), ident(fam), sfx, f"{dtype} {layout}", space, group, own))
            signatures.add((dtype, layout))
    body = [_HELPERS, "\n", *(_launch_signature(d, lay) for d, lay in sorted(signatures)), *groups]
    body.append("}  // namespace hktune\n")

    newest = max((e.date for e in kept), default="none")
    n = sum(len(ordered(e for e in kept if e.key.family == f and e.key.arch == a)) for f, a in pairs)
    text = _preamble(table, n, len(entries) - len(kept), min_ratio, newest) + "".join(body)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text
