// Gathers read the data with tensor.extract inside a linalg.generic over
// their output; scatters copy the data and loop over the updates (scf.for),
// reading what is there, combining it with the update (ScatterND's
// reduction) and writing it back with tensor.insert. Negative indices count
// from the end of their dim.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @gather_elements
// CHECK: linalg.generic
// CHECK: %[[I:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x2xi64>
// CHECK: %[[CAST:.*]] = arith.index_cast %[[I]]
// CHECK: arith.cmpi slt, %[[CAST]]
// CHECK: tensor.extract %{{.*}} : tensor<3x3xf32>
// CHECK-NOT: onnx.node
func.func @gather_elements(%x: tensor<3x3xf32>, %i: tensor<2x2xi64>) -> tensor<2x2xf32> {
  %y = onnx.node "GatherElements"(%x, %i) {names = ["y"], onnx_attrs = {axis = 1 : i64}} : (tensor<3x3xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// GatherND with batch_dims 1: the first index is the output's own dim 0.
// CHECK-LABEL: func.func @gather_nd
// CHECK: linalg.generic
// CHECK: %[[B:.*]] = linalg.index 0
// CHECK: tensor.extract %{{.*}}[%[[B]], %{{.*}}] : tensor<2x1xi64>
// CHECK: tensor.extract %{{.*}}[%[[B]], %{{.*}}, %{{.*}}] : tensor<2x2x2xi32>
func.func @gather_nd(%x: tensor<2x2x2xi32>, %i: tensor<2x1xi64>) -> tensor<2x2xi32> {
  %y = onnx.node "GatherND"(%x, %i) {names = ["y"], onnx_attrs = {batch_dims = 1 : i64}} : (tensor<2x2x2xi32>, tensor<2x1xi64>) -> tensor<2x2xi32>
  return %y : tensor<2x2xi32>
}

// ScatterND with reduction add: one loop per dim of the updates.
// CHECK-LABEL: func.func @scatter_nd_add
// CHECK: %[[OUT:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A0:.*]] = %arg0) -> (tensor<4x4x4xf32>)
// CHECK: scf.for %{{.*}} iter_args(%[[A1:.*]] = %[[A0]])
// CHECK: scf.for %{{.*}} iter_args(%[[A2:.*]] = %[[A1]])
// CHECK: tensor.extract %arg1
// CHECK: %[[U:.*]] = tensor.extract %arg2
// CHECK: %[[C:.*]] = tensor.extract %[[A2]]
// CHECK: %[[S:.*]] = arith.addf %[[C]], %[[U]] : f32
// CHECK: tensor.insert %[[S]] into %[[A2]]
// CHECK: return %[[OUT]]
func.func @scatter_nd_add(%x: tensor<4x4x4xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4x4xf32>) -> tensor<4x4x4xf32> {
  %y = onnx.node "ScatterND"(%x, %i, %u) {names = ["y"], onnx_attrs = {reduction = "add"}} : (tensor<4x4x4xf32>, tensor<2x1xi64>, tensor<2x4x4xf32>) -> tensor<4x4x4xf32>
  return %y : tensor<4x4x4xf32>
}

// ScatterElements without a reduction writes the update itself.
// CHECK-LABEL: func.func @scatter_elements
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[U:.*]] = tensor.extract %arg2
// CHECK-NOT: arith.addf
// CHECK: tensor.insert %[[U]]
func.func @scatter_elements(%x: tensor<3x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2x3xf32>) -> tensor<3x3xf32> {
  %y = onnx.node "ScatterElements"(%x, %i, %u) {names = ["y"], onnx_attrs = {axis = 0 : i64}} : (tensor<3x3xf32>, tensor<2x3xi64>, tensor<2x3xf32>) -> tensor<3x3xf32>
  return %y : tensor<3x3xf32>
}
