// How convolutions lower: depthwise (group = channels) to the named linalg
// depthwise op, pointwise (1x1, unit strides) to a per-sample product on
// the input itself, and any other to patches then a per-sample product
// (which graceful-linalg-to-blas turns into one runtime call gathering each
// sample's patches as it multiplies them). Every path starts from the bias
// (or zeros).
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-DAG: #[[FILTERS:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
// CHECK-DAG: #[[PATCHES:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK-LABEL: func.func @main
// CHECK: linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%{{.*}}, %{{.*}} : tensor<2x4x18x18xf32>, tensor<4x3x3xf32>) outs(%{{.*}} : tensor<2x4x8x8xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[FILTERS]], #[[PATCHES]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<8x4xf32>, tensor<2x4x64xf32>)
// CHECK: tensor<2x4x3x3x16x16xf32>
// CHECK: linalg.generic {indexing_maps = [#[[FILTERS]], #[[PATCHES]], #[[OUT]]], {{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x36xf32>, tensor<2x36x256xf32>)
// CHECK: tensor<2x8x3x3x8x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[FILTERS]], #[[PATCHES]], #[[OUT]]], {{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x72xf32>, tensor<2x72x64xf32>)
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = {ai.onnx = 13 : i64}} {
  func.func @main(%x: tensor<2x4x16x16xf32> {onnx.name = "x"}, %s: tensor<2x8x8x8xf32> {onnx.name = "s"})
      -> (tensor<2x8x8x8xf32> {onnx.name = "p"}, tensor<2x8x16x16xf32> {onnx.name = "q"}, tensor<2x8x8x8xf32> {onnx.name = "r"}) {
    %dw = onnx.constant "dw" = dense<0.5> : tensor<4x1x3x3xf32>
    %db = onnx.constant "db" = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
    %d = onnx.node "Conv"(%x, %dw, %db) {names = ["d"], onnx_attrs = {group = 4 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}} : (tensor<2x4x16x16xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32> loc("depthwise")
    %pw = onnx.constant "pw" = dense<0.25> : tensor<8x4x1x1xf32>
    %p = onnx.node "Conv"(%d, %pw) {names = ["p"], onnx_attrs = {}} : (tensor<2x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<2x8x8x8xf32> loc("pointwise")
    %kw = onnx.constant "kw" = dense<0.125> : tensor<8x4x3x3xf32>
    %q = onnx.node "Conv"(%x, %kw) {names = ["q"], onnx_attrs = {pads = array<i64: 1, 1, 1, 1>}} : (tensor<2x4x16x16xf32>, tensor<8x4x3x3xf32>) -> tensor<2x8x16x16xf32> loc("large")
    %sw = onnx.constant "sw" = dense<0.125> : tensor<8x8x3x3xf32>
    %r = onnx.node "Conv"(%s, %sw) {names = ["r"], onnx_attrs = {pads = array<i64: 1, 1, 1, 1>}} : (tensor<2x8x8x8xf32>, tensor<8x8x3x3xf32>) -> tensor<2x8x8x8xf32> loc("small")
    return %p, %q, %r : tensor<2x8x8x8xf32>, tensor<2x8x16x16xf32>, tensor<2x8x8x8xf32>
  }
}
