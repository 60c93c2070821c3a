#!/usr/bin/env bash
# perf_table.sh: tinyscale against its PyTorch twin (tools/torch_bench.py),
# side by side in one run, on every shape of issue 13's table and every
# distinct shape of an experiments file, at 1 and 2 threads, for one or more
# CPU kernel classes; prints one markdown table per class (medians over the
# repeats) and keeps every raw JSON line.
#
#   tools/perf_table.sh                 # classes "native avx2", 3 repeats
#   REPEATS=5 CLASSES=avx2 tools/perf_table.sh
#   QUICK=1 tools/perf_table.sh         # skip the two P1 (V 8192, T 256) shapes
#   FILE_ONLY=1 tools/perf_table.sh     # only the experiments file's shapes
#   tools/perf_table.sh --table A.jsonl B.jsonl   # only the tables, medians over earlier runs' raw lines
#
# Classes: native = the best kernels of this CPU, OpenBLAS's own core choice;
# avx2 = TINYSCALE_CPU=avx2 and OPENBLAS_CORETYPE=Haswell for both sides
# (PyTorch's ATen kernels are AVX2 in Debian's build either way), so an
# AVX-512 machine measures the AVX2 machine class. Runs are interleaved:
# for each repeat, shape and thread count, tinyscale then PyTorch, so both
# see the same moment of a shared machine.
#
# Env: FILE (experiments file, default experiments.yaml), REPEATS (3),
# CLASSES ("native avx2"), THREADS ("1 2"), OUT (raw JSON lines, default
# /tmp/perf_table.jsonl), TS (a prebuilt tinyscale binary), PY (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
if [ "${1:-}" = "--table" ]; then
  shift
  TABLE_ONLY=1
fi
FILE=${FILE:-experiments.yaml}
REPEATS=${REPEATS:-3}
CLASSES=${CLASSES:-native avx2}
THREADS=${THREADS:-1 2}
OUT=${OUT:-/tmp/perf_table.jsonl}
if [ -z "${TABLE_ONLY:-}" ]; then
if [ -z "${TS:-}" ]; then
  TS=$(mktemp -d)/tinyscale
  go build -o "$TS" ./cmd/tinyscale
fi

# name|family|n_embd|n_head|n_layer|vocab|block|batch|steps|warmup
SHAPES="row1|gpt2-rope-swiglu|32|4|2|97|64|12|30|3
row2|gpt2-rope-swiglu|44|4|2|49|64|8|30|3
row3|silia|64|4|2|97|64|12|30|3
row4|silia|118|4|2|49|64|8|30|3
P2|gpt2|128|4|4|65|64|12|30|3"
if [ -n "${FILE_ONLY:-}" ]; then
  SHAPES=""
elif [ -z "${QUICK:-}" ]; then
  SHAPES="$SHAPES
P1-GPT|gpt2-rope-swiglu|64|4|2|8192|256|16|6|1
P1-Silia|silia|64|4|2|8192|256|16|6|1"
fi
# every distinct shape of the experiments file (plan --json), not already listed
SHAPES="$SHAPES
$("$TS" plan -f "$FILE" --json 2>/dev/null | "$PY" -c '
import json, sys
seen = set()
for r in json.load(sys.stdin):
    m = r["config"]["model"]; b = r["config"]["batch_size"]
    k = (m["family"], m["n_embd"], m["n_head"], m["n_layer"], m["vocab_size"], m["block_size"], b)
    if k in seen: continue
    seen.add(k)
    print("yaml|%s|%d|%d|%d|%d|%d|%d|30|3" % k)
')"
SHAPES=$(printf '%s\n' "$SHAPES" | awk 'NF' | awk -F'|' '!seen[$2 FS $3 FS $4 FS $5 FS $6 FS $7 FS $8]++')

: > "$OUT"
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; raw lines in $OUT" >&2
for rep in $(seq 1 "$REPEATS"); do
  while IFS='|' read -r name fam ne nh nl v blk bat steps warm; do
    flags="--family $fam --n-embd $ne --n-head $nh --n-layer $nl --vocab $v --block $blk --batch $bat --steps $steps --warmup $warm --json"
    for cls in $CLASSES; do
      case $cls in
        native) envs=(env -u OPENBLAS_CORETYPE -u TINYSCALE_CPU) ;;
        avx2) envs=(env TINYSCALE_CPU=avx2 OPENBLAS_CORETYPE=Haswell) ;;
        generic) envs=(env TINYSCALE_CPU=generic OPENBLAS_CORETYPE=Haswell) ;;
        *) echo "unknown class $cls (native, avx2, generic)" >&2; exit 2 ;;
      esac
      for th in $THREADS; do
        echo "rep $rep $name $fam ${ne}x${nh}x${nl} V$v T$blk B$bat class $cls threads $th" >&2
        for impl in tinyscale pytorch; do
          if [ $impl = tinyscale ]; then
            line=$(GOMAXPROCS=$th "${envs[@]}" "$TS" bench $flags 2>/dev/null) || line='{"error":"tinyscale failed"}'
          else
            line=$("${envs[@]}" "$PY" tools/torch_bench.py $flags --threads "$th" --no-alloc 2>/dev/null) || line='{"error":"pytorch failed"}'
          fi
          printf '{"row":"%s","class":"%s","threads":%s,"rep":%s,"impl":"%s","result":%s}\n' "$name" "$cls" "$th" "$rep" "$impl" "$line" >> "$OUT"
        done
      done
    done
  done <<< "$SHAPES"
done
set -- "$OUT"
fi

"$PY" - "$@" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
def key(r):
    s = r["result"].get("shape", {})
    return (r["row"], r["result"].get("family", "?"), s.get("n_embd"), s.get("n_head"), s.get("n_layer"), s.get("vocab"), s.get("block"), s.get("batch"))
classes = []
for r in rows:
    if r["class"] not in classes: classes.append(r["class"])
for cls in classes:
    rs = [r for r in rows if r["class"] == cls and "error" not in r["result"]]
    shapes = []
    for r in rs:
        if key(r) not in shapes: shapes.append(key(r))
    kern = sorted({r["result"].get("cpu_kernels", "?") + "/" + r["result"].get("blas", "?").split("(")[0].strip() for r in rs})
    print("\n### class %s (%s)\n" % (cls, ", ".join(kern)))
    print("| shape | tinyscale tok/s (1 thr / 2 thr) | PyTorch tok/s (1 thr / 2 thr) | ratio (best / best) | tinyscale step ms (best) | heap/step | n |")
    print("|---|---|---|---|---|---|---|")
    for k in shapes:
        med = {}
        for impl in ("tinyscale", "pytorch"):
            for th in (1, 2):
                v = [r["result"]["tokens_per_s"] for r in rs if key(r) == k and r["impl"] == impl and r["threads"] == th]
                med[impl, th] = statistics.median(v) if v else float("nan")
        ms = [r["result"]["step_ms_median"] for r in rs if key(r) == k and r["impl"] == "tinyscale"]
        heap = max([r["result"]["alloc_bytes_per_step"] for r in rs if key(r) == k and r["impl"] == "tinyscale"] or [0])
        n = len([r for r in rs if key(r) == k and r["impl"] == "tinyscale" and r["threads"] == 1])
        ts, pt = max(med["tinyscale", 1], med["tinyscale", 2]), max(med["pytorch", 1], med["pytorch", 2])
        name, fam, ne, nh, nl, v, blk, bat = k
        label = "%s %s %dx%dx%d, V %d, block %d, batch %d" % (name, fam, ne, nh, nl, v, blk, bat)
        flag = "" if heap < 1 << 20 else " **> 1 MB**"
        print("| %s | %s / %s | %s / %s | **%.2f×** | %.1f | %.0f KiB%s | %d |" % (
            label, f"{med['tinyscale',1]:,.0f}", f"{med['tinyscale',2]:,.0f}", f"{med['pytorch',1]:,.0f}", f"{med['pytorch',2]:,.0f}",
            ts / pt, min(ms) if ms else float("nan"), heap / 1024, flag, n))
errs = [r for r in rows if "error" in r["result"]]
if errs:
    print("\n%d failed invocations: %s" % (len(errs), sorted({(r["row"], r["impl"], r["class"]) for r in errs})))
PYEOF
