#!/usr/bin/env bash
# Model execution side by side: graceful's JIT and ONNX Runtime (npm's
# onnxruntime-node, CPU provider) on the same models, batch and machine, in
# one run. Models: an MLP on digits, torchvision's ResNet-18, ResNet-50,
# MobileNetV2 and EfficientNet-B0 with random weights, and a 2-layer
# transformer encoder (exported here; nothing is downloaded), each at every
# batch size in BATCHES (a comma list, by default 1,8).
#   bench/models.sh [BATCHES] [ITERATIONS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup" >/dev/null
batches=${1:-1,8}
iterations=${2:-10}
work=$(mktemp -d /tmp/graceful-models.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -d "$root/bench/node_modules/onnxruntime-node" ] ||
  (cd "$root/bench" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null)

cp "$root/examples/classification/models/new_independent.onnx" "$work/mlp.onnx"
models="resnet18 resnet50 mobilenet_v2 efficientnet_b0 transformer_encoder"
for model in $models; do
  /usr/bin/python3 "$root/examples/models/export_torchvision.py" "$model" "$work" >/dev/null 2>&1
done

field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
printf '%-20s %6s %14s %14s %10s %12s %12s\n' model batch "graceful ms" "onnxruntime ms" "ratio" "compile s" "cached s"
for batch in ${batches//,/ }; do
  for model in mlp $models; do
    ours=$("$root/build/bench/model_bench" "$work/$model.onnx" "$batch" "$iterations")
    shape=$([ "$model" = mlp ] && echo "1,64" || echo "1,3,224,224")
    theirs=$(SHAPE=$shape node "$root/bench/ort_bench.js" "$work/$model.onnx" "$batch" "$iterations")
    ms=$(echo "$ours" | field ms_per_batch)
    ort=$(echo "$theirs" | field ms_per_batch)
    compile=$(echo "$ours" | field compile_ms)
    cached=$(echo "$ours" | field cached_compile_ms)
    /usr/bin/python3 -c "print('%-20s %6d %14.2f %14.2f %9.2fx %12.1f %12.2f' % ('$model', $batch, $ms, $ort, $ms / $ort, $compile / 1000, $cached / 1000))"
  done
done
echo "(ratio = graceful time / onnxruntime time: below 1.0x, graceful is faster)"
