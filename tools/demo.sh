#!/usr/bin/env bash
# The main job end to end on real recordings, for a fresh machine (`make demo`):
#   enroll three actions from ONE demonstration each with the installed starter model -> run the
#   edge runtime headless on one continuous recording of another person doing the three actions
#   -> a timeline of what was recognised when, next to what the person did.
# DATA points at a folder laid out like ../shared/data (utd_mhad/ is enough). MODEL=path.onnx uses
# another encoder instead of the installed one; JSON=1 also prints the label stream (JSON lines).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/demo}
UTD="$DATA/utd_mhad/Skeleton"
[ -d "$UTD" ] || { echo "demo: no UTD-MHAD skeletons under $UTD (set DATA=...)" >&2; exit 2; }
MODEL_ARGS=()
if [ -z "${MODEL:-}" ] && "$BIN/crossglg-edge" models list --json 2>/dev/null | grep -q '"models": \[\]'; then
  # No starter model ships yet (issue 12: its training run spans sessions): use the trained test
  # encoder (CrossGLG, 10 CPU epochs on the real-data base classes; tests/assets/README.md).
  MODEL=tests/assets/crossglg_realdata.onnx
  echo "demo: no starter model is installed yet; using the test encoder $MODEL" >&2
fi
[ -n "${MODEL:-}" ] && MODEL_ARGS=(--model "$MODEL")
mkdir -p "$OUT"

STORE="$OUT/store"
rm -rf "$STORE"
for spec in "hand wave:a3" "cross arms in the chest:a6" "sit to stand:a24"; do
  label=${spec%%:*}; action=${spec##*:}
  "$BIN/crossglg-edge" enroll "$label" --skeleton "$UTD/${action}_s1_t1_skeleton.mat" "${MODEL_ARGS[@]}" --store "$STORE"
done
"$BIN/crossglg-edge" actions list --store "$STORE"

PUB=tcp://127.0.0.1:5586
# Another person (subject 2) performs the three actions one after another, four times each (UTD
# trials t1..t4 back to back, ~25 s): one continuous recording, as a camera would see it.
STREAM="$OUT/subject2.npy"
"$BIN/python" - "$UTD" "$STREAM" <<'PY'
import json, sys
import numpy as np
from edge.skeleton_files import load_skeleton_file
utd, out = sys.argv[1], sys.argv[2]
parts, segments, t = [], [], 0.0
for action, label in (("a3", "hand wave"), ("a6", "cross arms in the chest"), ("a24", "sit to stand")):
    start = t
    for trial in (1, 2, 3, 4):
        rec = load_skeleton_file(f"{utd}/{action}_s2_t{trial}_skeleton.mat")
        parts.append(rec.joints)
        t += len(rec.joints) / rec.fps
    segments.append({"label": label, "start_s": round(start, 2), "end_s": round(t, 2)})
np.save(out, np.concatenate(parts).astype(np.float32))
json.dump(segments, open(out + ".segments.json", "w"))
print("subject 2 stream:", ", ".join(f"{s['label']} {s['start_s']:.1f}-{s['end_s']:.1f} s" for s in segments))
PY

# the stream is kept for the timeline (JSON=1: printed too); the runtime waits for the listener, so
# no label is lost; $! is the listener itself (not tee) so kill ends it
if [ -n "${JSON:-}" ]; then
  "$BIN/crossglg-edge" listen --connect "$PUB" --topic crossglg.v1.label. --timeout 30 > >(tee "$OUT/labels.jsonl") &
else
  "$BIN/crossglg-edge" listen --connect "$PUB" --topic crossglg.v1.label. --timeout 30 > "$OUT/labels.jsonl" &
fi
LISTENER=$!
"$BIN/crossglg-edge" run --skeleton "$STREAM" --fps 30 "${MODEL_ARGS[@]}" --store "$STORE" --headless \
  --pub "$PUB" --control off --max-seconds 120 --wait-subscribers 1
sleep 0.5
kill "$LISTENER" 2>/dev/null || true
wait "$LISTENER" 2>/dev/null || true

# What was recognised when: consecutive windows with the same top match form one line. A window
# spans ~2 s of motion, so each line lags the true action by up to that much.
"$BIN/python" - "$OUT/labels.jsonl" "$STREAM.segments.json" <<'PY'
import json, sys
msgs = [json.loads(line)["payload"] for line in open(sys.argv[1])]
print("--- summary; what subject 2 did:",
      "; ".join(f"{s['label']} {s['start_s']:.1f}-{s['end_s']:.1f} s" for s in json.load(open(sys.argv[2]))))
runs = []  # [top label or reason, state counts, first t, last t]
for m in msgs:
    key = m["reason"] if m["reason"] in ("warming_up", "idle") else ((m["topk"] or [{}])[0].get("label") or "-")
    if not runs or runs[-1][0] != key:
        runs.append([key, {}, m["t_frame"], m["t_frame"]])
    runs[-1][1][m["state"]] = runs[-1][1].get(m["state"], 0) + 1
    runs[-1][3] = m["t_frame"]
for key, states, t0, t1 in runs:
    told = ", ".join(f"{n} {s}" for s, n in states.items())
    print(f"{t0:6.1f}-{t1:5.1f} s  nearest: {key:<26} ({told})")
PY
