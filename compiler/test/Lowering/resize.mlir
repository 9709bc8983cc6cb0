// Resize runs one axis at a time, each a linalg.generic summing its taps:
// the input indices and weights each output position reads are constants
// computed when compiling (half_pixel linear, 2 -> 4: x = o / 2 - 0.25, so
// position 0 reads index -1, padded to 0, and 0), and a flag per position for tf_crop_and_resize's
// extrapolation. Axes the resize leaves alone get no loop; nearest reads
// its one tap without multiplying.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @linear
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[IDX:.*]] = arith.constant dense<{{\[\[}}0, 0], [0, 1], [0, 1], [1, 1]]> : tensor<4x2xi64>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[}}2.500000e-01, 7.500000e-01], [7.500000e-01, 2.500000e-01], [2.500000e-01, 7.500000e-01], [7.500000e-01, 2.500000e-01]]> : tensor<4x2xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[IDX]], %[[W]], %{{.*}} : tensor<4x2xi64>, tensor<4x2xf32>, tensor<4xi1>) outs(%{{.*}} : tensor<1x1x4x3xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @linear(%x: tensor<1x1x2x3xf32>) -> tensor<1x1x4x3xf32> {
  %roi = onnx.none
  %scales = onnx.constant "scales" = dense<[1.0, 1.0, 2.0, 1.0]> : tensor<4xf32>
  %y = onnx.node "Resize"(%x, %roi, %scales) {names = ["y"], onnx_attrs = {mode = "linear"}} : (tensor<1x1x2x3xf32>, none, tensor<4xf32>) -> tensor<1x1x4x3xf32>
  return %y : tensor<1x1x4x3xf32>
}

// Nearest, asymmetric, floor: 2 -> 5 reads 0, 0, 0, 1, 1.
// CHECK-LABEL: func.func @nearest
// CHECK-NOT: linalg.generic
// CHECK: arith.constant dense<{{\[\[}}0], [0], [0], [1], [1]]> : tensor<5x1xi64>
// CHECK: linalg.generic
// CHECK-NOT: arith.mulf
// CHECK: return
func.func @nearest(%x: tensor<1x2xf32>) -> tensor<1x5xf32> {
  %roi = onnx.none
  %scales = onnx.none
  %sizes = onnx.constant "sizes" = dense<[1, 5]> : tensor<2xi64>
  %y = onnx.node "Resize"(%x, %roi, %scales, %sizes) {names = ["y"], onnx_attrs = {coordinate_transformation_mode = "asymmetric", nearest_mode = "floor"}} : (tensor<1x2xf32>, none, none, tensor<2xi64>) -> tensor<1x5xf32>
  return %y : tensor<1x5xf32>
}
