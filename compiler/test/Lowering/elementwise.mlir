// Elementwise ops that need more than one arith/math op.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// Integer Mod with fmod = 0 takes the divisor's sign (Python's %): a
// non-zero remainder whose sign differs from the divisor's gets it added.
// CHECK-LABEL: func.func @mod_int
// CHECK: %[[R:.*]] = arith.remsi %{{.*}}, %[[Y:[^ ]*]] : i32
// CHECK: %[[NZ:.*]] = arith.cmpi ne, %[[R]]
// CHECK: %[[RN:.*]] = arith.cmpi slt, %[[R]]
// CHECK: %[[YN:.*]] = arith.cmpi slt, %[[Y]]
// CHECK: %[[DIFF:.*]] = arith.xori %[[RN]], %[[YN]]
// CHECK: %[[FIX:.*]] = arith.andi %[[NZ]], %[[DIFF]]
// CHECK: %[[SUM:.*]] = arith.addi %[[R]], %[[Y]]
// CHECK: arith.select %[[FIX]], %[[SUM]], %[[R]]
func.func @mod_int(%x: tensor<6xi32>, %y: tensor<6xi32>) -> tensor<6xi32> {
  %z = onnx.node "Mod"(%x, %y) {names = ["z"], onnx_attrs = {}} : (tensor<6xi32>, tensor<6xi32>) -> tensor<6xi32>
  return %z : tensor<6xi32>
}

// fmod = 1 is C's fmod: the dividend's sign.
// CHECK-LABEL: func.func @mod_float
// CHECK: arith.remf
// CHECK-NOT: arith.select
func.func @mod_float(%x: tensor<6xf32>, %y: tensor<6xf32>) -> tensor<6xf32> {
  %z = onnx.node "Mod"(%x, %y) {names = ["z"], onnx_attrs = {fmod = 1 : i64}} : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
  return %z : tensor<6xf32>
}

// Round halves to even; trigonometric ops are math ops.
// CHECK-LABEL: func.func @unary
// CHECK: math.roundeven
// CHECK: math.asinh
func.func @unary(%x: tensor<6xf32>) -> tensor<6xf32> {
  %r = onnx.node "Round"(%x) {names = ["r"], onnx_attrs = {}} : (tensor<6xf32>) -> tensor<6xf32>
  %s = onnx.node "Asinh"(%r) {names = ["s"], onnx_attrs = {}} : (tensor<6xf32>) -> tensor<6xf32>
  return %s : tensor<6xf32>
}
