// Unsigned integers become signless of the same width in the signature,
// the values and the constants (the same bytes); each node that had one
// keeps which of its inputs and outputs were unsigned, and the lowerings
// read it: uint8 compares and divides unsigned, its maximum pads from 0,
// it extends with zeros and converts to float as unsigned.
// RUN: graceful-opt %s --graceful-signless-integers | FileCheck %s --check-prefix=SIGNLESS
// RUN: graceful-opt %s --graceful-signless-integers --graceful-lower-onnx | FileCheck %s --check-prefix=LOWERED

// SIGNLESS-LABEL: func.func @main(%arg0: tensor<4xi8>, %arg1: tensor<4xi8>) -> (tensor<4xi8>, tensor<4xi1>, tensor<4xf32>, tensor<4xi32>, tensor<4xi8>)
// SIGNLESS: onnx.constant "two" = dense<[2, -56, 0, -1]> : tensor<4xi8>
// SIGNLESS: onnx.node "Div"(%arg0, %{{.*}}) {graceful.unsigned_inputs = array<i1: true, true>, graceful.unsigned_outputs = array<i1: true>
// SIGNLESS: onnx.node "Cast"(%arg0) {graceful.unsigned_inputs = array<i1: true>, onnx_attrs = {to = 1 : i64}} : (tensor<4xi8>) -> tensor<4xf32>
// SIGNLESS: onnx.node "Mul"(%arg0, %arg1) {graceful.unsigned_inputs = array<i1: true, false>, graceful.unsigned_outputs = array<i1: true>

// LOWERED-LABEL: func.func @main
// LOWERED: arith.divui
// LOWERED: arith.cmpi ult
// LOWERED: arith.uitofp
// LOWERED: arith.extui
// LOWERED: arith.maxui
func.func @main(%x: tensor<4xui8>, %y: tensor<4xi8>) -> (tensor<4xui8>, tensor<4xi1>, tensor<4xf32>, tensor<4xi32>, tensor<4xui8>) {
  %two = onnx.constant "two" = dense<[2, 200, 0, 255]> : tensor<4xui8>
  %q = onnx.node "Div"(%x, %two) {onnx_attrs = {}} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %less = onnx.node "Less"(%x, %two) {onnx_attrs = {}} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xi1>
  %f = onnx.node "Cast"(%x) {onnx_attrs = {to = 1 : i64}} : (tensor<4xui8>) -> tensor<4xf32>
  %wide = onnx.node "Cast"(%x) {onnx_attrs = {to = 6 : i64}} : (tensor<4xui8>) -> tensor<4xi32>
  %top = onnx.node "Max"(%x, %two) {onnx_attrs = {}} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %odd = onnx.node "Mul"(%x, %y) {onnx_attrs = {}} : (tensor<4xui8>, tensor<4xi8>) -> tensor<4xui8>
  return %q, %less, %f, %wide, %top : tensor<4xui8>, tensor<4xi1>, tensor<4xf32>, tensor<4xi32>, tensor<4xui8>
}
