// float16 and bfloat16 compute in float32: the signature keeps its halves,
// arguments widen on entry (bfloat16 by a 16-bit shift), constants widen
// exactly, each node that produced halves rounds its result back to them
// (float16 by truncf/extf, bfloat16 by rounding the float32 bits to nearest
// even), and results narrow before return.
// RUN: graceful-opt %s --graceful-widen-half-floats | FileCheck %s --check-prefix=WIDE
// RUN: graceful-opt %s --graceful-widen-half-floats --graceful-lower-onnx | FileCheck %s --check-prefix=LOWERED

// WIDE-LABEL: func.func @main(%arg0: tensor<4xf16>, %arg1: tensor<4xbf16>) -> (tensor<4xf16>, tensor<4xbf16>)
// WIDE: %[[X:.*]] = linalg.generic
// WIDE: arith.extf %{{.*}} : f16 to f32
// WIDE: %[[Y:.*]] = linalg.generic
// WIDE: arith.bitcast %{{.*}} : bf16 to i16
// WIDE: arith.shli
// WIDE: onnx.constant "half" = dense<[1.000000e+00, 5.000000e-01, 2.500000e-01, 6.550400e+04]> : tensor<4xf32>
// WIDE: %[[SUM:.*]] = onnx.node "Add"(%[[X]], %{{.*}}) {graceful.half_outputs = [f16], onnx_attrs = {}} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// WIDE: onnx.node "Mul"(%[[Y]], %[[Y]]) {graceful.half_outputs = [bf16], onnx_attrs = {}}
// WIDE: arith.truncf %{{.*}} : f32 to f16
// WIDE: arith.trunci %{{.*}} : i32 to i16
// WIDE: return %{{.*}}, %{{.*}} : tensor<4xf16>, tensor<4xbf16>

// LOWERED-LABEL: func.func @main
// LOWERED: arith.addf
// LOWERED: arith.truncf %{{.*}} : f32 to f16
// LOWERED-NEXT: arith.extf %{{.*}} : f16 to f32
// LOWERED: arith.mulf
// LOWERED: arith.bitcast %{{.*}} : f32 to i32
func.func @main(%x: tensor<4xf16>, %y: tensor<4xbf16>) -> (tensor<4xf16>, tensor<4xbf16>) {
  %half = onnx.constant "half" = dense<[1.0, 0.5, 0.25, 65504.0]> : tensor<4xf16>
  %sum = onnx.node "Add"(%x, %half) {onnx_attrs = {}} : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  %square = onnx.node "Mul"(%y, %y) {onnx_attrs = {}} : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  return %sum, %square : tensor<4xf16>, tensor<4xbf16>
}
