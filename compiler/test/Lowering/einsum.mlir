// Einsum is one linalg.generic with a loop per label, the output's first:
// a batch product sums j, a diagonal reads one loop twice, an ellipsis
// broadcasts a size-1 dim at index 0.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[Z:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[DIAG:.*]] = affine_map<(d0, d1) -> (d0, d1, d1)>
// CHECK-DAG: #[[OUT2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[BX:.*]] = affine_map<(d0, d1, d2) -> (0, d1, d2)>
// CHECK-DAG: #[[BY:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// CHECK-LABEL: func.func @batch_matmul
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[Y]], #[[Z]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @batch_matmul(%x: tensor<5x2x3xf64>, %y: tensor<5x3x4xf64>) -> tensor<5x2x4xf64> {
  %z = onnx.node "Einsum"(%x, %y) {names = ["z"], onnx_attrs = {equation = "bij, bjk -> bik"}} : (tensor<5x2x3xf64>, tensor<5x3x4xf64>) -> tensor<5x2x4xf64>
  return %z : tensor<5x2x4xf64>
}

// CHECK-LABEL: func.func @diagonal
// CHECK: linalg.generic {indexing_maps = [#[[DIAG]], #[[OUT2]]], iterator_types = ["parallel", "parallel"]}
func.func @diagonal(%x: tensor<3x5x5xf32>) -> tensor<3x5xf32> {
  %y = onnx.node "Einsum"(%x) {names = ["y"], onnx_attrs = {equation = "...ii ->...i"}} : (tensor<3x5x5xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}

// CHECK-LABEL: func.func @broadcast
// CHECK: linalg.generic {indexing_maps = [#[[BX]], #[[BY]], #[[BY]]], iterator_types = ["parallel", "parallel", "parallel"]}
func.func @broadcast(%x: tensor<1x2x3xf32>, %y: tensor<4x2x3xf32>) -> tensor<4x2x3xf32> {
  %z = onnx.node "Einsum"(%x, %y) {names = ["z"], onnx_attrs = {equation = "...j,...j->...j"}} : (tensor<1x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  return %z : tensor<4x2x3xf32>
}
