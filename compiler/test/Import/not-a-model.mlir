// Garbage, truncated and missing files are clean errors, exit code 2.
// RUN: not graceful-translate --import-onnx %s 2>&1 | FileCheck %s --check-prefix=GARBAGE
// RUN: not graceful-translate --import-onnx %t.absent.onnx 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: graceful-translate --import-onnx %inputs/conv.onnxtxt > /dev/null
// RUN: not graceful-translate --import-onnx %s --export-onnx %s 2>&1 | FileCheck %s --check-prefix=USAGE

// GARBAGE: graceful-translate: error: {{.*}}not-a-model.mlir: not an ONNX model
// MISSING: graceful-translate: error: {{.*}}absent.onnx: cannot open file
// USAGE: give exactly one of
