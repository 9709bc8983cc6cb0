// Batched products left as generics become loops over their batch dims
// around one graceful_sgemm per batch index, on 2-D views of the operands;
// a factor BLAS cannot read as it is gets computed into a buffer first.
// RUN: graceful-opt %s --pass-pipeline="builtin.module(graceful-contraction-to-blas, canonicalize)" | FileCheck %s

// Attention's scores: q [tokens, heads, width] scaled, times k of the same
// layout read transposed (unit stride along k): the scaled q is computed
// into a [heads, tokens, width] buffer, k is read in place.
// CHECK-LABEL: func.func @scores
// CHECK: %[[Q:.*]] = memref.alloc() : memref<4x6x8xf32>
// CHECK: linalg.generic {{.*}} ins(%arg0 : memref<6x4x8xf32>) outs(%[[Q]] : memref<4x6x8xf32>)
// CHECK: arith.divf
// CHECK: scf.for %[[H:.*]] = %c0 to %c4 step %c1
// CHECK-DAG: memref.subview %[[Q]][%[[H]], 0, 0] [1, 6, 8] [1, 1, 1] : memref<4x6x8xf32> to memref<6x8xf32, strided<[8, 1], offset: ?>>
// CHECK-DAG: memref.subview %arg1[0, %[[H]], 0] [6, 1, 8] [1, 1, 1] : memref<6x4x8xf32> to memref<6x8xf32, strided<[32, 1], offset: ?>>
// CHECK-DAG: memref.subview %arg2[%[[H]], 0, 0] [1, 6, 6] [1, 1, 1]
// CHECK: call @graceful_sgemm({{.*}}, %c1_i64, %c0_i64,
// CHECK: memref.dealloc %[[Q]]
// CHECK-NOT: linalg.generic
func.func @scores(%q: memref<6x4x8xf32>, %k: memref<6x4x8xf32>, %s: memref<4x6x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %scale = arith.constant 2.828427 : f32
  linalg.fill ins(%zero : f32) outs(%s : memref<4x6x6xf32>)
  linalg.generic {indexing_maps = [affine_map<(h, i, j, d) -> (i, h, d)>,
                                   affine_map<(h, i, j, d) -> (j, h, d)>,
                                   affine_map<(h, i, j, d) -> (h, i, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<6x4x8xf32>, memref<6x4x8xf32>) outs(%s : memref<4x6x6xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %scaled = arith.divf %a, %scale : f32
    %m = arith.mulf %scaled, %b : f32
    %sum = arith.addf %o, %m : f32
    linalg.yield %sum : f32
  }
  return
}

// Softmax times v: the exponentials divided by their row sums (a factor
// of two operands, one broadcast along k) are computed first; v is read in
// place with unit stride along n; the output's content is the base.
// CHECK-LABEL: func.func @weighted_values
// CHECK: %[[P:.*]] = memref.alloc() : memref<4x6x6xf32>
// CHECK: arith.divf
// CHECK: scf.for
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c1_i64,
// CHECK: memref.dealloc %[[P]]
func.func @weighted_values(%e: memref<4x6x6xf32>, %total: memref<4x6x1xf32>,
                           %v: memref<6x4x8xf32>, %o: memref<4x6x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(h, i, d, j) -> (h, i, j)>,
                                   affine_map<(h, i, d, j) -> (h, i, 0)>,
                                   affine_map<(h, i, d, j) -> (j, h, d)>,
                                   affine_map<(h, i, d, j) -> (h, i, d)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%e, %total, %v : memref<4x6x6xf32>, memref<4x6x1xf32>, memref<6x4x8xf32>)
      outs(%o : memref<4x6x8xf32>) {
  ^bb0(%a: f32, %t: f32, %b: f32, %out: f32):
    %p = arith.divf %a, %t : f32
    %m = arith.mulf %p, %b : f32
    %sum = arith.addf %out, %m : f32
    linalg.yield %sum : f32
  }
  return
}

// Weights shared by every sample: the sample dim, which only x has, is
// looped over; the weights' view is the same in each iteration.
// CHECK-LABEL: func.func @shared_weights
// CHECK-NOT: memref.alloc
// CHECK: scf.for %[[B:.*]] = %c0 to %c3 step %c1
// CHECK: memref.subview %arg0[%[[B]], 0, 0] [1, 5, 6]
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c0_i64,
func.func @shared_weights(%x: memref<3x5x6xf32>, %w: memref<6x7xf32>, %y: memref<3x5x7xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<3x5x7xf32>)
  linalg.generic {indexing_maps = [affine_map<(b, i, j, k) -> (b, i, k)>,
                                   affine_map<(b, i, j, k) -> (k, j)>,
                                   affine_map<(b, i, j, k) -> (b, i, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<3x5x6xf32>, memref<6x7xf32>) outs(%y : memref<3x5x7xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %sum = arith.addf %o, %m : f32
    linalg.yield %sum : f32
  }
  return
}

// Left as generics: an output without unit stride along n (its transpose
// is written), a sum of squares (no dim only one factor has), and a body
// that reads the output elsewhere than in the sum.
// CHECK-LABEL: func.func @not_products
// CHECK-NOT: call @graceful_sgemm
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: call @graceful_sgemm
func.func @not_products(%x: memref<5x6xf32>, %w: memref<6x7xf32>, %yt: memref<7x5xf32>,
                        %n: memref<5xf32>, %y: memref<5x7xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (j, i)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<5x6xf32>, memref<6x7xf32>) outs(%yt : memref<7x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %sum = arith.addf %o, %m : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<5x6xf32>) outs(%n : memref<5xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    %sum = arith.addf %o, %m : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<5x6xf32>, memref<6x7xf32>) outs(%y : memref<5x7xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %big = arith.maximumf %o, %m : f32
    %sum = arith.addf %big, %m : f32
    linalg.yield %sum : f32
  }
  return
}

// The output indexed by the reduction dim (and not by the parallel p that
// is summed): not a product of matrices BLAS computes; left as it is.
// CHECK-LABEL: func.func @out_has_k
// CHECK-NOT: call @graceful_sgemm
// CHECK: linalg.generic
func.func @out_has_k(%x: memref<2x3x4xf32>, %y: memref<4x5xf32>, %o: memref<2x4x5xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, p, k, n) -> (m, p, k)>,
                                   affine_map<(m, p, k, n) -> (k, n)>,
                                   affine_map<(m, p, k, n) -> (m, k, n)>],
                  iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %y : memref<2x3x4xf32>, memref<4x5xf32>) outs(%o : memref<2x4x5xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %out, %m : f32
    linalg.yield %s : f32
  }
  return
}
