// NegativeLogLikelihoodLoss reads each sample's log-probability of its
// target class and its weight in one linalg.generic; a target equal to
// ignore_index reads class 0 and counts with weight 0. Mean divides the sum
// of losses by the sum of the weights. SoftmaxCrossEntropyLoss is the same
// after a LogSoftmax over the classes.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @nll_mean_ignore
// CHECK: %[[LOSSES:.*]]:2 = linalg.generic
// CHECK-SAME: ins(%arg1 : tensor<3x2xi64>)
// CHECK: %[[IGNORED:.*]] = arith.cmpi eq, %{{.*}}, %c-1_i64
// CHECK: %[[CLASS:.*]] = arith.select %[[IGNORED]], %c0
// CHECK: tensor.extract %arg0[%{{.*}}, %[[CLASS]], %{{.*}}] : tensor<3x4x2xf32>
// CHECK: tensor.extract %arg2[%[[CLASS]]] : tensor<4xf32>
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[LOSSES]]#0
// CHECK: %[[WEIGHT:.*]] = linalg.generic {{.*}} ins(%[[LOSSES]]#1
// CHECK: linalg.generic {{.*}} ins(%[[SUM]], %[[WEIGHT]] : tensor<f32>, tensor<f32>)
// CHECK: arith.divf
func.func @nll_mean_ignore(%x: tensor<3x4x2xf32>, %t: tensor<3x2xi64>, %w: tensor<4xf32>) -> tensor<f32> {
  %y = onnx.node "NegativeLogLikelihoodLoss"(%x, %t, %w) {names = ["y"], onnx_attrs = {ignore_index = -1 : i64}} : (tensor<3x4x2xf32>, tensor<3x2xi64>, tensor<4xf32>) -> tensor<f32>
  return %y : tensor<f32>
}

// CHECK-LABEL: func.func @sce_none
// CHECK: math.exp
// CHECK: math.log
// CHECK: %[[LOSSES:.*]]:2 = linalg.generic
// CHECK-NOT: arith.cmpi eq
// CHECK: return %[[LOSSES]]#0
func.func @sce_none(%x: tensor<3x4xf32>, %t: tensor<3xi64>) -> tensor<3xf32> {
  %y = onnx.node "SoftmaxCrossEntropyLoss"(%x, %t) {names = ["y"], onnx_attrs = {reduction = "none"}} : (tensor<3x4xf32>, tensor<3xi64>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}
