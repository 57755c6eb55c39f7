# H200 call for the strategy issue, live: the default (model) strategy on the ThunderKittens family
# with a cold build cache, the same search repeated (answered from the study), the same shape again
# with a new study and a warm build cache (how busy compile-ahead keeps the GPU), and a warm-started
# neighbour shape. Each summary as JSON; the GPU-busy share = the worker's run time / wall time.
. bench/device/setup.sh
R=$OUT/live; mkdir -p $R
s() { /usr/bin/time -f "%e s wall (process)" python3 -m hktune search --arch sm_90 --family thunderkittens --jobs 16 --quiet --json "$@"; }
s --m 4096 --n 4096 --k 4096 --trials 40 --storage $R/a.journal --table $R/a.yaml > $R/cold.json 2> $R/cold.log; echo "cold rc=$?"; tail -1 $R/cold.log
s --m 4096 --n 4096 --k 4096 --trials 40 --storage $R/a.journal --table $R/a.yaml > $R/repeat.json 2> $R/repeat.log; echo "repeat rc=$?"; tail -1 $R/repeat.log
s --m 4096 --n 4096 --k 4096 --trials 40 --storage $R/b.journal --table $R/b.yaml --seed 1 > $R/warmcache.json 2> $R/warmcache.log; echo "warmcache rc=$?"; tail -1 $R/warmcache.log
s --m 8192 --n 8192 --k 8192 --trials 20 --storage $R/a.journal --table $R/a.yaml > $R/neighbour.json 2> $R/neighbour.log; echo "neighbour rc=$?"; tail -1 $R/neighbour.log
python3 - <<PY
import json
for n in ("cold", "repeat", "warmcache", "neighbour"):
    try:
        d = json.load(open("$R/%s.json" % n))
    except Exception as e:
        print(n, "no summary", e); continue
    d = d[0] if isinstance(d, list) else d
    w, r, c = d.get("wall_s") or 0, d.get("run_s") or 0, d.get("compile_s") or 0
    b = d.get("best") or {}
    span = None
    try:
        import optuna
        from hktune.search.storage import open_storage
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        st = optuna.load_study(study_name=d["study"], storage=open_storage(d["storage"]))
        ts = [t for t in st.get_trials(deepcopy=False) if t.datetime_start and t.datetime_complete and t.user_attrs.get("run") == st.get_trials(deepcopy=False)[-1].user_attrs.get("run")]
        if ts:
            span = (max(t.datetime_complete for t in ts) - min(t.datetime_start for t in ts)).total_seconds()
    except Exception as e:
        print("span:", e)
    if span:
        print(f"{n}: search loop {span:.1f} s, GPU busy in the loop {r / span:.2f}")
    print(f"{n}: evaluated {d.get('evaluated')} warm_started {d.get('warm_started')} wall {w:.1f} s run {r:.1f} s compile(sum) {c:.1f} s "
          f"busy {r / w if w else 0:.2f} best ratio {b.get('ratio')} config {b.get('config')}")
PY
tar czf $OUT/live.tgz -C $OUT live
