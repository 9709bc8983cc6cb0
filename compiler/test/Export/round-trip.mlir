// Import, export and import again: nothing is lost, node names included.
// RUN: graceful-translate --import-onnx %inputs/conv.onnxtxt -o %t.first.mlir
// RUN: graceful-translate --export-onnx %t.first.mlir -o %t.onnx
// RUN: graceful-translate --import-onnx %t.onnx -o %t.second.mlir
// RUN: FileCheck %s < %t.second.mlir
// RUN: grep -v '^#loc\|loc(' %t.first.mlir | sed 's/"[^"]*onnx[a-z]*":[0-9]*:[0-9]*//' > %t.a
// RUN: grep -v '^#loc\|loc(' %t.second.mlir | sed 's/"[^"]*onnx[a-z]*":[0-9]*:[0-9]*//' > %t.b
// RUN: diff %t.a %t.b
// RUN: not graceful-translate --export-onnx %t.first.mlir 2>&1 | FileCheck %s --check-prefix=NO-OUTPUT

// CHECK: onnx.node "Conv"{{.*}}loc(#[[CONV:loc[0-9]+]])
// CHECK: onnx.node "BatchNormalization"
// CHECK: #[[CONV]] = loc("conv"(
// NO-OUTPUT: give -o FILE.onnx
