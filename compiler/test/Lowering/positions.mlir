// Ops made of positions (and LRN, a window along the channels): CumSum
// sums along its axis as one reduction over
// a second copy of the axis (j > i here: exclusive and reversed); TopK ranks
// each element along the axis (how many come before it: smaller first here,
// the lower index first among equals) and picks ranks 0..K-1 out in a second
// reduction; Trilu keeps j - i <= k (lower); DepthToSpace is one affine
// gather (CRD: depth = c * b * b + h % b * b + w % b).
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-DAG: #[[ALONG:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[AT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[CRD:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 * 4 + (d2 mod 2) * 2 + d3 mod 2, d2 floordiv 2, d3 floordiv 2)>

// CHECK-LABEL: func.func @cumsum
// CHECK: linalg.generic {indexing_maps = [#[[ALONG]], #[[AT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-DAG: %[[J:.*]] = linalg.index 2
// CHECK-DAG: %[[I:.*]] = linalg.index 1
// CHECK: %[[COUNTS:.*]] = arith.cmpi ugt, %[[J]], %[[I]]
// CHECK: arith.select %[[COUNTS]]
// CHECK: arith.addf
func.func @cumsum(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %axis = onnx.constant "axis" = dense<1> : tensor<i32>
  %y = onnx.node "CumSum"(%x, %axis) {names = ["y"], onnx_attrs = {exclusive = 1 : i64, reverse = 1 : i64}} : (tensor<2x5xf32>, tensor<i32>) -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// CHECK-LABEL: func.func @topk
// CHECK: %[[RANKS:.*]] = linalg.generic {indexing_maps = [#[[AT]], #[[ALONG]], #[[AT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0, %arg0 : tensor<3x4xf32>, tensor<3x4xf32>)
// CHECK: arith.cmpf olt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi ult
// CHECK: %[[PICKED:.*]]:2 = linalg.generic {{.*}} ins(%arg0, %[[RANKS]] : tensor<3x4xf32>, tensor<3x4xi64>) outs(%{{.*}}, %{{.*}} : tensor<3x2xf32>, tensor<3x2xi64>)
// CHECK: return %[[PICKED]]#0, %[[PICKED]]#1
func.func @topk(%x: tensor<3x4xf32>) -> (tensor<3x2xf32>, tensor<3x2xi64>) {
  %k = onnx.constant "k" = dense<2> : tensor<1xi64>
  %v, %i = onnx.node "TopK"(%x, %k) {names = ["v", "i"], onnx_attrs = {axis = 1 : i64, largest = 0 : i64}} : (tensor<3x4xf32>, tensor<1xi64>) -> (tensor<3x2xf32>, tensor<3x2xi64>)
  return %v, %i : tensor<3x2xf32>, tensor<3x2xi64>
}

// CHECK-LABEL: func.func @trilu
// CHECK: arith.subi
// CHECK: arith.cmpi sle, %{{.*}}, %c-1_i64
func.func @trilu(%x: tensor<4x5xf32>) -> tensor<4x5xf32> {
  %k = onnx.constant "k" = dense<-1> : tensor<i64>
  %y = onnx.node "Trilu"(%x, %k) {names = ["y"], onnx_attrs = {upper = 0 : i64}} : (tensor<4x5xf32>, tensor<i64>) -> tensor<4x5xf32>
  return %y : tensor<4x5xf32>
}

// CHECK-LABEL: func.func @d2s
// CHECK: linalg.generic {indexing_maps = [#[[CRD]], #{{.*}}]
func.func @d2s(%x: tensor<1x8x2x3xf32>) -> tensor<1x2x4x6xf32> {
  %y = onnx.node "DepthToSpace"(%x) {names = ["y"], onnx_attrs = {blocksize = 2 : i64, mode = "CRD"}} : (tensor<1x8x2x3xf32>) -> tensor<1x2x4x6xf32>
  return %y : tensor<1x2x4x6xf32>
}

// ReverseSequence mirrors t below its batch's length: len - 1 - t. A
// length outside [0, 4] fails the run and reads as 0 (nothing mirrored).
// CHECK-LABEL: func.func @reverse_sequence
// CHECK: linalg.generic
// CHECK: %[[LEN:.*]] = tensor.extract %arg1
// CHECK: %[[NEGATIVE:.*]] = arith.cmpi slt, %[[LEN]], %[[ZERO:.*]] : i64
// CHECK: %[[PAST:.*]] = arith.cmpi sgt, %[[LEN]], %{{.*}} : i64
// CHECK: %[[INVALID:.*]] = arith.ori %[[NEGATIVE]], %[[PAST]]
// CHECK: scf.if %[[INVALID]]
// CHECK: func.call @graceful_fail_run
// CHECK: %[[SAFE:.*]] = arith.select %[[INVALID]], %[[ZERO]], %[[LEN]]
// CHECK: %[[L:.*]] = arith.index_cast %[[SAFE]]
// CHECK: %[[BELOW:.*]] = arith.cmpi slt, %{{.*}}, %[[L]]
// CHECK: arith.select %[[BELOW]]
func.func @reverse_sequence(%x: tensor<4x2xf32>, %lens: tensor<2xi64>) -> tensor<4x2xf32> {
  %y = onnx.node "ReverseSequence"(%x, %lens) {names = ["y"], onnx_attrs = {}} : (tensor<4x2xf32>, tensor<2xi64>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// A symmetric Hann window of 5: 0.5 - 0.5 cos(2 pi n / 4), in double.
// CHECK-LABEL: func.func @hann
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f64
// CHECK: math.cos
// CHECK: arith.truncf
func.func @hann(%n: tensor<i64>) -> tensor<5xf32> {
  %y = onnx.node "HannWindow"(%n) {names = ["y"], onnx_attrs = {periodic = 0 : i64}} : (tensor<i64>) -> tensor<5xf32>
  return %y : tensor<5xf32>
}

// LRN sums the squares of a channel window of the zero-padded input (size
// 3: one channel before, one after) in one reduction.
// CHECK-LABEL: func.func @lrn
// CHECK: tensor.pad %{{.*}} low[0, 1, 0, 0] high[0, 1, 0, 0]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: math.powf
func.func @lrn(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %y = onnx.node "LRN"(%x) {names = ["y"], onnx_attrs = {size = 3 : i64}} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  return %y : tensor<1x4x2x2xf32>
}
