// Ops outside the profile's allowed list become exact decompositions when
// every op they need is allowed; Sigmoid has none and is reported.
// RUN: printf 'name: tiny\nallowed_ops: [MatMul, Add, Mul, HardSigmoid, Reshape, Transpose]\n' > %t.yaml
// RUN: graceful-opt %s --graceful-legalize=profile=%t.yaml 2>&1 | FileCheck %s
// RUN: printf 'allowed_ops: [MatMul\n' > %t.bad.yaml
// RUN: not graceful-opt %s --graceful-legalize=profile=%t.bad.yaml 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK: remark: graceful-legalize: rewrote Flatten x1, Gemm x1, HardSwish x1; cannot legalize: Sigmoid x1
// CHECK: onnx.constant "flat.shape" = dense<[0, -1]> : tensor<2xi64>
// CHECK: onnx.node "Reshape"(%arg0, {{.*}}) {names = ["f"]
// CHECK: onnx.node "Transpose"({{.*}}) {onnx_attrs = {perm = array<i64: 1, 0>}}
// CHECK: onnx.node "MatMul"
// CHECK: onnx.constant "fc.alpha" = dense<2.000000e+00>
// CHECK: onnx.node "Mul"
// CHECK: onnx.node "Add"({{.*}}) {names = ["g"]
// CHECK: onnx.node "HardSigmoid"({{.*}}) {onnx_attrs = {alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32}}
// CHECK: onnx.node "Mul"({{.*}}) {names = ["h"]
// CHECK: onnx.node "Sigmoid"
// CHECK-NOT: "Gemm"
// BAD: .bad.yaml:2: invalid YAML
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = {ai.onnx = 14 : i64}} {
  func.func @main(%x: tensor<?x2x2xf32> {onnx.name = "x"}) -> (tensor<?x3xf32> {onnx.name = "y"}) {
    %f = onnx.node "Flatten"(%x) {names = ["f"], onnx_attrs = {}} : (tensor<?x2x2xf32>) -> tensor<?x4xf32> loc("flat")
    %w = onnx.constant "w" = dense<1.0> : tensor<3x4xf32>
    %c = onnx.constant "c" = dense<0.5> : tensor<3xf32>
    %g = onnx.node "Gemm"(%f, %w, %c) {names = ["g"], onnx_attrs = {alpha = 2.0 : f32, transB = 1 : i64}} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32> loc("fc")
    %h = onnx.node "HardSwish"(%g) {names = ["h"], onnx_attrs = {}} : (tensor<?x3xf32>) -> tensor<?x3xf32> loc("act")
    %y = onnx.node "Sigmoid"(%h) {names = ["y"], onnx_attrs = {}} : (tensor<?x3xf32>) -> tensor<?x3xf32> loc("sig")
    return %y : tensor<?x3xf32>
  }
}
