// Every Relu becomes LeakyRelu(alpha); MaxPool and Clip are reported as the
// non-smooth ops that remain; nothing else changes.
// RUN: graceful-opt %s --graceful-linearize=alpha=0.1 2>&1 | FileCheck %s
// RUN: graceful-opt %s --graceful-linearize 2>&1 | FileCheck %s --check-prefix=DEFAULT

// CHECK: remark: graceful-linearize: 2 Relu -> LeakyRelu(alpha=1.000000e-01); non-smooth ops remain: Clip x1, MaxPool x1
// CHECK: graceful.linearize = {alpha = 1.000000e-01 : f64, changed = 2 : i64, remaining = {Clip = 1 : i64, MaxPool = 1 : i64}}
// CHECK: onnx.node "LeakyRelu"(%arg0) {names = ["a"], onnx_attrs = {alpha = 1.000000e-01 : f32}}
// CHECK: onnx.node "MaxPool"
// CHECK: onnx.node "LeakyRelu"
// CHECK: onnx.node "Clip"
// CHECK-NOT: "Relu"
// DEFAULT: LeakyRelu(alpha=1.000000e-02)
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = {ai.onnx = 13 : i64}} {
  func.func @main(%x: tensor<1x1x4x4xf32> {onnx.name = "x"}) -> (tensor<1x1x2x2xf32> {onnx.name = "y"}) {
    %a = onnx.node "Relu"(%x) {names = ["a"], onnx_attrs = {}} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
    %p = onnx.node "MaxPool"(%a) {names = ["p"], onnx_attrs = {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>}} : (tensor<1x1x4x4xf32>) -> tensor<1x1x2x2xf32>
    %b = onnx.node "Relu"(%p) {names = ["b"], onnx_attrs = {}} : (tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
    %none = onnx.none
    %y = onnx.node "Clip"(%b, %none, %none) {names = ["y"], onnx_attrs = {}} : (tensor<1x1x2x2xf32>, none, none) -> tensor<1x1x2x2xf32>
    return %y : tensor<1x1x2x2xf32>
  }
}
