// MaxUnpool writes each value at its index into the whole output read
// flat: zeros of 16 elements, a loop over the input inserting each value at
// its checked index (out of range fails the run), reshaped to 1x1x4x4.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @unpool
// CHECK: linalg.fill {{.*}} -> tensor<16xf32>
// CHECK: scf.for {{.*}} -> (tensor<16xf32>)
// CHECK: func.call @graceful_fail_run
// CHECK: tensor.insert %{{.*}} into %{{.*}}[%{{.*}}] : tensor<16xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1, 2, 3]] output_shape [1, 1, 4, 4]
func.func @unpool(%x: tensor<1x1x2x2xf32>, %i: tensor<1x1x2x2xi64>) -> tensor<1x1x4x4xf32> {
  %y = onnx.node "MaxUnpool"(%x, %i) {onnx_attrs = {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>}} : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xi64>) -> tensor<1x1x4x4xf32>
  return %y : tensor<1x1x4x4xf32>
}
