// Folding by hand: conv weights w = [2, 3] (1x1 kernels), no bias;
// BatchNorm gamma [1, 2], beta [0.5, -1], mean [1, 0], var [3, 0.25], eps 1.
//   factor = gamma / sqrt(var + eps) = [0.5, 2 / sqrt(1.25) = 1.78885438]
//   w' = w * factor = [1, 5.36656284];  b' = (0 - mean) * factor + beta = [0, -1]
// The Gemm's BatchNorm is kept: its output has a second user.
// RUN: graceful-opt %s --graceful-fold-batchnorm 2>&1 | FileCheck %s

// CHECK: remark: graceful-fold-batchnorm: folded 1 of 2 BatchNormalization nodes; 1 skipped: the Gemm output has other users
// CHECK: onnx.constant "bn.weight" = dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}5.36656284]]]]> : tensor<2x1x1x1xf32>
// CHECK: onnx.constant "bn.bias" = dense<[0.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK: onnx.node "Conv"(%arg0, {{.*}}) {names = ["y"]
// CHECK-NOT: onnx.node "BatchNormalization"{{.*}}tensor<1x2x2x2xf32>
// CHECK: onnx.node "BatchNormalization"{{.*}}tensor<1x2xf32>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = {ai.onnx = 13 : i64}} {
  func.func @main(%x: tensor<1x1x2x2xf32> {onnx.name = "x"}, %v: tensor<1x3xf32> {onnx.name = "v"})
      -> (tensor<1x2x2x2xf32> {onnx.name = "y"}, tensor<1x2xf32> {onnx.name = "z"}, tensor<1x2xf32> {onnx.name = "g"}) {
    %w = onnx.constant "w" = dense<[[[[2.0]]], [[[3.0]]]]> : tensor<2x1x1x1xf32>
    %gamma = onnx.constant "gamma" = dense<[1.0, 2.0]> : tensor<2xf32>
    %beta = onnx.constant "beta" = dense<[0.5, -1.0]> : tensor<2xf32>
    %mean = onnx.constant "mean" = dense<[1.0, 0.0]> : tensor<2xf32>
    %var = onnx.constant "var" = dense<[3.0, 0.25]> : tensor<2xf32>
    %c = onnx.node "Conv"(%x, %w) {names = ["c"], onnx_attrs = {}} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32> loc("conv")
    %y = onnx.node "BatchNormalization"(%c, %gamma, %beta, %mean, %var) {names = ["y"], onnx_attrs = {epsilon = 1.0 : f32}} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn")
    %fw = onnx.constant "fw" = dense<[[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]> : tensor<2x3xf32>
    %g = onnx.node "Gemm"(%v, %fw) {names = ["g"], onnx_attrs = {transB = 1 : i64}} : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32> loc("fc")
    %z = onnx.node "BatchNormalization"(%g, %gamma, %beta, %mean, %var) {names = ["z"], onnx_attrs = {}} : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32> loc("bn2")
    return %y, %z, %g : tensor<1x2x2x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
  }
}
