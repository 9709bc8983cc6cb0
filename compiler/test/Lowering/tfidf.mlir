// TfIdfVectorizer: the pool becomes constant tables (each gram's tokens,
// padded; its length; its weight; the gram counted in each column, -1 for
// none); each output value counts its gram over skip distances (a unigram
// at one only) and start positions, comparing token by token, then scales
// the count by the gram's weight (TFIDF).
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @tfidf
// CHECK-DAG: arith.constant dense<{{\[\[}}5, 0], [7, 0], [5, 7]]> : tensor<3x2xi64>
// CHECK-DAG: arith.constant dense<[1, 1, 2]> : tensor<3xi64>
// CHECK-DAG: arith.constant dense<[5.000000e-01, 1.000000e+00, 2.000000e+00]> : tensor<3xf32>
// CHECK-DAG: arith.constant dense<[1, 2, -1, 0]> : tensor<4xi64>
// CHECK: linalg.generic
// CHECK: scf.for {{.*}} -> (i64)
// CHECK: scf.for {{.*}} -> (i64)
// CHECK: scf.for {{.*}} -> (i1)
// CHECK: arith.extsi %{{.*}} : i32 to i64
// CHECK: arith.cmpi eq
// CHECK: arith.sitofp %{{.*}} : i64 to f32
// CHECK: arith.mulf
func.func @tfidf(%x: tensor<2x6xi32>) -> tensor<2x4xf32> {
  %y = onnx.node "TfIdfVectorizer"(%x) {onnx_attrs = {mode = "TFIDF", min_gram_length = 1 : i64, max_gram_length = 2 : i64, max_skip_count = 1 : i64, ngram_counts = array<i64: 0, 2>, ngram_indexes = array<i64: 3, 0, 1>, pool_int64s = array<i64: 5, 7, 5, 7>, weights = array<f32: 0.5, 1.0, 2.0>}} : (tensor<2x6xi32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
