# H200 call for the strategy issue, after the executor changes (adaptive asks; a freed worker
# starts its next candidate before the driver's bookkeeping): a cold search, the same search with
# a new study and the build cache now warm (the GPU-busy share of short trials), the same search
# repeated (answered from the study), and a warm-started neighbour shape. QUICK=1 skips the second.
. bench/device/setup.sh
R=$OUT/live; mkdir -p $R
s() { /usr/bin/time -f "%e s wall (process)" python3 -m hktune search --arch sm_90 --family thunderkittens --jobs 16 --quiet --json "$@"; }
s --m 4096 --n 4096 --k 4096 --trials 30 --storage $R/a.journal --table $R/a.yaml > $R/cold.json 2> $R/cold.log; echo "cold rc=$?"; tail -1 $R/cold.log
[ -n "$QUICK" ] || { s --m 4096 --n 4096 --k 4096 --trials 30 --storage $R/b.journal --table $R/b.yaml > $R/cached.json 2> $R/cached.log; echo "cached rc=$?"; tail -1 $R/cached.log; }
s --m 4096 --n 4096 --k 4096 --trials 30 --storage $R/a.journal --table $R/a.yaml > $R/repeat.json 2> $R/repeat.log; echo "repeat rc=$?"; tail -1 $R/repeat.log
s --m 8192 --n 8192 --k 8192 --trials 15 --storage $R/a.journal --table $R/a.yaml > $R/neighbour.json 2> $R/neighbour.log; echo "neighbour rc=$?"; tail -1 $R/neighbour.log
python3 - <<PY
import json, optuna
from hktune.search.storage import open_storage
optuna.logging.set_verbosity(optuna.logging.WARNING)
for n in ("cold", "cached", "repeat", "neighbour"):
    try:
        d = json.load(open("$R/%s.json" % n)); d = d[0] if isinstance(d, list) else d
    except Exception as e:
        print(n, "no summary", e); continue
    w, r, c = d.get("wall_s") or 0, d.get("run_s") or 0, d.get("compile_s") or 0
    span = None
    if d.get("evaluated"):
        st = optuna.load_study(study_name=d["study"], storage=open_storage(d["storage"]))
        ts = st.get_trials(deepcopy=False); last = ts[-1].user_attrs.get("run")
        ts = [t for t in ts if t.datetime_start and t.datetime_complete and t.user_attrs.get("run") == last]
        span = (max(t.datetime_complete for t in ts) - min(t.datetime_start for t in ts)).total_seconds() if ts else None
    b = d.get("best") or {}
    print(f"{n}: evaluated {d.get('evaluated')} pruned {d.get('pruned')} warm_started {d.get('warm_started')} wall {w:.1f} s "
          f"run {r:.1f} s compile(sum) {c:.1f} s" + (f" search loop {span:.1f} s, GPU busy in the loop {r / span:.2f}" if span else "")
          + f" best ratio {b.get('ratio')}")
PY
tar czf $OUT/live.tgz -C $OUT live
