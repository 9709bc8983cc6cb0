// y = x W + b appended to the output "emb", which keeps its ONNX name and
// takes the projection's width; bad weight files are errors.
// RUN: /usr/bin/python3 -c "import numpy as np; np.save('%t.w.npy', np.arange(6, dtype=np.float32).reshape(2, 3)); np.save('%t.b.npy', np.ones(3, np.float32)); np.save('%t.bad.npy', np.ones((5, 3), np.float32))"
// RUN: graceful-opt %s '--graceful-append-projection=weights=%t.w.npy bias=%t.b.npy' | FileCheck %s
// RUN: not graceful-opt %s '--graceful-append-projection=weights=%t.bad.npy' 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not graceful-opt %s '--graceful-append-projection=weights=%t.missing.npy' 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK: func.func @main(%arg0: tensor<?x2xf32> {onnx.name = "x"}) -> (tensor<?x3xf32> {onnx.name = "emb"})
// CHECK: onnx.node "Relu"(%arg0) {names = ["emb.unprojected"]
// CHECK: onnx.constant "emb.projection.weight" = dense<{{\[\[}}0.000000e+00, 1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00, 5.000000e+00]]>
// CHECK: onnx.constant "emb.projection.bias" = dense<1.000000e+00> : tensor<3xf32>
// CHECK: onnx.node "MatMul"
// CHECK: onnx.node "Add"({{.*}}) {names = ["emb"]
// BAD: the projection takes 5-dimensional inputs, output 'emb' is 2-dimensional float32
// MISSING: .missing.npy: cannot open file
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = {ai.onnx = 13 : i64}} {
  func.func @main(%x: tensor<?x2xf32> {onnx.name = "x"}) -> (tensor<?x2xf32> {onnx.name = "emb"}) {
    %e = onnx.node "Relu"(%x) {names = ["emb"], onnx_attrs = {}} : (tensor<?x2xf32>) -> tensor<?x2xf32>
    return %e : tensor<?x2xf32>
  }
}
