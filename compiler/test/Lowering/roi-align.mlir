// RoiAlign in max mode with an adaptive grid: each output value checks its
// batch index, scales its region, sizes it at least 1x1 (opset 10's
// coordinates, as this module declares no opset), takes ceil(size / bins)
// sampling points per axis (more than 4,096 fail the run), and loops over
// them keeping the greatest weighted corner of each bilinear sample.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @roi
// CHECK: linalg.generic
// CHECK: func.call @graceful_fail_run
// CHECK: arith.maximumf
// CHECK: math.ceil
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: math.floor
// CHECK: arith.maximumf
func.func @roi(%x: tensor<1x2x8x8xf32>, %r: tensor<3x4xf32>, %b: tensor<3xi64>) -> tensor<3x2x2x2xf32> {
  %y = onnx.node "RoiAlign"(%x, %r, %b) {onnx_attrs = {mode = "max", output_height = 2 : i64, output_width = 2 : i64, spatial_scale = 0.5 : f32}} : (tensor<1x2x8x8xf32>, tensor<3x4xf32>, tensor<3xi64>) -> tensor<3x2x2x2xf32>
  return %y : tensor<3x2x2x2xf32>
}
