// QuantizeLinear divides by the scale, rounds half to even, adds the zero
// point and saturates to uint8's [0, 255] before converting unsigned;
// DequantizeLinear subtracts the zero point in int32 (extending uint8 with
// zeros) and multiplies by the scale; QLinearMatMul accumulates in int32
// and requantizes by a_scale * b_scale / y_scale.
// RUN: graceful-opt %s --graceful-signless-integers --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @quantize
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.addf
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: arith.constant 2.550000e+02 : f32
// CHECK: arith.fptoui %{{.*}} : f32 to i8
func.func @quantize(%x: tensor<6xf32>) -> tensor<6xui8> {
  %s = onnx.constant "s" = dense<0.5> : tensor<f32>
  %z = onnx.constant "z" = dense<128> : tensor<ui8>
  %q = onnx.node "QuantizeLinear"(%x, %s, %z) {onnx_attrs = {}} : (tensor<6xf32>, tensor<f32>, tensor<ui8>) -> tensor<6xui8>
  return %q : tensor<6xui8>
}

// CHECK-LABEL: func.func @dequantize
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.subi
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: arith.mulf
func.func @dequantize(%q: tensor<6xui8>) -> tensor<6xf32> {
  %s = onnx.constant "s" = dense<0.5> : tensor<f32>
  %z = onnx.constant "z" = dense<128> : tensor<ui8>
  %x = onnx.node "DequantizeLinear"(%q, %s, %z) {onnx_attrs = {}} : (tensor<6xui8>, tensor<f32>, tensor<ui8>) -> tensor<6xf32>
  return %x : tensor<6xf32>
}

// CHECK-LABEL: func.func @qlinear_matmul
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: arith.fptosi %{{.*}} : f32 to i8
func.func @qlinear_matmul(%a: tensor<2x3xi8>, %b: tensor<3x4xi8>) -> tensor<2x4xi8> {
  %s = onnx.constant "s" = dense<0.5> : tensor<f32>
  %z = onnx.constant "z" = dense<3> : tensor<i8>
  %y = onnx.node "QLinearMatMul"(%a, %s, %z, %b, %s, %z, %s, %z) {onnx_attrs = {}} : (tensor<2x3xi8>, tensor<f32>, tensor<i8>, tensor<3x4xi8>, tensor<f32>, tensor<i8>, tensor<f32>, tensor<i8>) -> tensor<2x4xi8>
  return %y : tensor<2x4xi8>
}
