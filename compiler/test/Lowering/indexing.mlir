// Gathers read the data with tensor.extract inside a linalg.generic over
// their output; scatters copy the data and loop over the updates (scf.for),
// reading what is there, combining it with the update (ScatterND's
// reduction) and writing it back with tensor.insert. Negative indices count
// from the end of their dim. An index still outside its dim calls the
// runtime with the error's text (naming the node, the dim and its size)
// and the index, and reads index 0 instead: the data is never read or written out of bounds.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK: memref.global "private" constant @"graceful.text.node (unnamed) (GatherElements): index {} is out of range for dim 1 of the data, of size 3 (valid: -3 to 2)" : memref<107xi8>
// CHECK-LABEL: func.func @gather_elements
// CHECK: linalg.generic
// CHECK: %[[I:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x2xi64>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK-DAG: %[[SIZE:.*]] = arith.constant 3 : i64
// CHECK: %[[NEGATIVE:.*]] = arith.cmpi slt, %[[I]], %[[ZERO]]
// CHECK: %[[WRAPPED:.*]] = arith.addi %[[I]], %[[SIZE]]
// CHECK: %[[INDEX:.*]] = arith.select %[[NEGATIVE]], %[[WRAPPED]], %[[I]]
// CHECK: %[[BELOW:.*]] = arith.cmpi slt, %[[INDEX]], %[[ZERO]]
// CHECK: %[[ABOVE:.*]] = arith.cmpi sge, %[[INDEX]], %[[SIZE]]
// CHECK: %[[OUTSIDE:.*]] = arith.ori %[[BELOW]], %[[ABOVE]]
// CHECK: scf.if %[[OUTSIDE]] {
// CHECK: %[[TEXT:.*]] = memref.get_global @"graceful.text.node (unnamed) (GatherElements): index {}
// CHECK: %[[ANY:.*]] = memref.cast %[[TEXT]] : memref<107xi8> to memref<?xi8>
// CHECK: func.call @graceful_fail_run(%[[ANY]], %[[I]])
// CHECK: }
// CHECK: %[[SAFE:.*]] = arith.select %[[OUTSIDE]], %[[ZERO]], %[[INDEX]]
// CHECK: %[[AT:.*]] = arith.index_cast %[[SAFE]] : i64 to index
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %[[AT]]] : tensor<3x3xf32>
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
