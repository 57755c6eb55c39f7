# Sourced by the GPU scripts that sanitize a list of configs (splitk.sh, fp8-sched.sh, fp8-overlap.sh).
# san_phase --space SPACE [--dtype DTYPE]: for every "tool:name:config:shape" line of $SAN: build each name's config
# once, all names at once (thunderkittens, sm_90, .tk; the arguments go to `hktune compile` as they are), then run
# compute-sanitizer's tool on one launch of it, all lines at once (hktune.run.sanitize_launch, which also verifies the
# NaN-poisoned output by DTYPE's bounds; default bf16), logs in $R/<tool>-<name>.*; then one summary
# line per run. $t0: the script's start.
# SAN_TIMEOUT: seconds per compile and per sanitizer run (default 100; racecheck of a promoted fp8 kernel at K 1408 took longer)
# GRID_CAP: passed to the kernel as HKTUNE_GRID_CAP (at most that many persistent blocks, clusters for
# clustered kernels; gemm.cu's grid_cap): at a small shape every block still runs several tiles, as the
# product's own sanitizer run does (hktune/search/sanitize.py), so the check takes seconds, not minutes
# san_lines TOOLS NAME CONFIG SHAPE: the $SAN lines of one config, one per tool (TOOLS comma-separated)
san_lines() {
  local t
  for t in ${1//,/ }; do echo "$t:$2:$3:$4"; done
}
san_phase() {
  local dtype="" prev="" a line tool name config shape
  for a in "$@"; do [ "$prev" = --dtype ] && dtype=$a; prev=$a; done
  # each config once (the lines of one name share it), all at once; then every tool's run, all at once
  for name in $(for line in $SAN; do IFS=: read tool name config shape <<< "$line"; echo $name; done | sort -u); do
    config=$(for line in $SAN; do IFS=: read tool n c shape <<< "$line"; [ $n = $name ] && echo $c && break; done)
    timeout ${SAN_TIMEOUT:-100} python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk "$@" \
        --config $config --json > $R/$name.compile.json 2> $R/$name.compile.err &
  done
  wait
  echo "sanitizer compiles: $(( $(date +%s) - t0 ))s"
  for line in $SAN; do
    IFS=: read tool name config shape <<< "$line"
    ( lib=$(python3 -c "import json,sys; print(json.load(open('$R/$name.compile.json'))[0]['artifact'])" 2>/dev/null)
      if [ -z "$lib" ]; then echo "COMPILE FAILED" > $R/$tool-$name.log; exit; fi
      extra=""; [ $tool = racecheck ] && extra="--racecheck-report all"
      HKTUNE_GRID_CAP=${GRID_CAP:-} timeout ${SAN_TIMEOUT:-100} compute-sanitizer --tool $tool $extra python3 -m hktune.run.sanitize_launch $lib ${shape//x/ } $dtype > $R/$tool-$name.log 2>&1
      echo "rc=$?" >> $R/$tool-$name.log ) &
  done
  wait
  echo "sanitizer phase: $(( $(date +%s) - t0 ))s"
  for line in $SAN; do IFS=: read tool name config shape <<< "$line"
    echo "$tool $name $shape: $(grep -h 'SUMMARY\|COMPILE FAILED\|wrong result\|not a valid config' $R/$tool-$name.log $R/$name.compile.err 2>/dev/null | head -2 | tr '\n' ' ') $(tail -1 $R/$tool-$name.log)"; done
}
