#!/usr/bin/env bash
# The main job end to end on real recordings, for a fresh machine (`make demo`):
#   train a small CrossGLG model on the real-data protocol -> export the text-free encoder to ONNX
#   -> enroll three actions from ONE demonstration each -> run the edge runtime headless on
#   recordings of another person and print the published labels (JSON lines from the ZeroMQ stream).
# DATA points at a folder laid out like ../shared/data (utd_mhad/, nw_ucla/, gtu3d/, irds/).
# The training budget is tiny (1 epoch, 4 sequences per base class) so the demo ends in minutes;
# see docs/training.md and docs/results.md for real runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/demo}
UTD="$DATA/utd_mhad/Skeleton"
[ -d "$UTD" ] || { echo "demo: no UTD-MHAD skeletons under $UTD (set DATA=...)" >&2; exit 2; }

if [ ! -f "$OUT/train/final.pt" ]; then
  "$BIN/crossglg-train" train --config configs/realdata_cpu.yaml --data-root "$DATA" --out "$OUT/train" \
    --set optim.epochs=1 --set data.max_per_class=4 --no-progress
fi
"$BIN/crossglg-train" export "$OUT/train/final.pt" --out "$OUT/model.onnx"

STORE="$OUT/store"
rm -rf "$STORE"
for spec in "hand wave:a3" "cross arms in the chest:a6" "sit to stand:a24"; do
  label=${spec%%:*}; action=${spec##*:}
  "$BIN/crossglg-edge" enroll "$label" --skeleton "$UTD/${action}_s1_t1_skeleton.mat" --model "$OUT/model.onnx" --store "$STORE"
done
"$BIN/crossglg-edge" actions list --store "$STORE"

PUB=tcp://127.0.0.1:5586
# the stream is printed and kept for the summary; $! is the listener itself (not tee) so kill ends it
"$BIN/crossglg-edge" listen --connect "$PUB" --topic crossglg.v1.label. --count 40 --timeout 30 \
  > >(tee "$OUT/labels.jsonl") &
LISTENER=$!
sleep 1
for action in a3 a6 a24; do
  echo "--- replaying ${action}_s2_t1 (subject 2)"
  "$BIN/crossglg-edge" run --skeleton "$UTD/${action}_s2_t1_skeleton.mat" --model "$OUT/model.onnx" \
    --store "$STORE" --headless --pub "$PUB" --control off --max-seconds 30
done
kill "$LISTENER" 2>/dev/null || true
wait "$LISTENER" 2>/dev/null || true

# One line per replayed clip: a window is published every stride; until the first window is full
# (about 2 s of motion, as long as these UTD clips) the label is "warming_up".
"$BIN/python" - "$OUT/labels.jsonl" <<'PY'
import collections, json, sys
clips = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = json.loads(line)["payload"]
    clips[p["source"]].append(p)
print("--- summary (enrolled: hand wave = a3, cross arms in the chest = a6, sit to stand = a24)")
for source, msgs in clips.items():
    ready = [m for m in msgs if m["reason"] != "warming_up"]
    top = [f"{(m['topk'] or [{}])[0].get('label', '-')} {m['score'] or 0:.2f} ({m['state']}, {m['reason'] or 'ok'})" for m in ready]
    print(f"{source}: {len(msgs)} windows, {len(msgs) - len(ready)} warming up; " + ("; ".join(top) or "no full window"))
PY
