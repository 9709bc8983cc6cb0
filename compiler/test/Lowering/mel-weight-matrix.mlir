// MelWeightMatrix with constant inputs is a table computed when compiling:
// 3 bands over the 9 bins of a 16-point DFT at 8 kHz, 0 to 4 kHz.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @mel
// CHECK: arith.constant dense<{{\[\[}}1.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 1.000000e+00, 0.000000e+00], [0.000000e+00, 5.000000e-01, 5.000000e-01], [0.000000e+00, 0.000000e+00, 1.000000e+00], [0.000000e+00, 0.000000e+00, 5.000000e-01], [0.000000e+00, 0.000000e+00, 0.000000e+00]
// CHECK-SAME: tensor<9x3xf32>
// CHECK-NOT: linalg.generic
func.func @mel() -> tensor<9x3xf32> {
  %n = onnx.constant "n" = dense<3> : tensor<i64>
  %d = onnx.constant "d" = dense<16> : tensor<i64>
  %r = onnx.constant "r" = dense<8000> : tensor<i64>
  %lo = onnx.constant "lo" = dense<0.0> : tensor<f32>
  %hi = onnx.constant "hi" = dense<4000.0> : tensor<f32>
  %m = onnx.node "MelWeightMatrix"(%n, %d, %r, %lo, %hi) {onnx_attrs = {}} : (tensor<i64>, tensor<i64>, tensor<i64>, tensor<f32>, tensor<f32>) -> tensor<9x3xf32>
  return %m : tensor<9x3xf32>
}
