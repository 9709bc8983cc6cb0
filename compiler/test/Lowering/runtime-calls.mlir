// After bufferization, products and depthwise convolutions on f32 buffers
// become calls into the JIT's runtime (with no clamp: -inf, +inf when no
// Clip or Relu follows); other element types keep their loops, and
// memref.copy becomes linalg.copy.
// RUN: graceful-opt %s \
// RUN:   --pass-pipeline="builtin.module(graceful-linalg-to-blas, graceful-depthwise-to-runtime, func.func(graceful-inline-copies))" | FileCheck %s

// CHECK-DAG: func.func private @graceful_sgemm(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, f32, f32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @graceful_sgemm_per_sample(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, i64, f32, f32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @graceful_depthwise_conv2d(memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, f32, f32) attributes {llvm.emit_c_interface}

// CHECK-LABEL: func.func @matmuls
// CHECK-DAG: %[[NO_LOW:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[NO_HIGH:.*]] = arith.constant 0x7F800000 : f32
// CHECK: call @graceful_sgemm({{.*}}, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %[[NO_LOW]], %[[NO_HIGH]])
// CHECK: linalg.matmul ins({{.*}} : memref<2x3xf64>, memref<3x4xf64>)
func.func @matmuls(%a: memref<2x3xf32>, %b: memref<4x3xf32>, %c: memref<2x4xf32>,
                   %d: memref<2x3xf64>, %e: memref<3x4xf64>, %f: memref<2x4xf64>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<2x3xf32>, memref<4x3xf32>) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%d, %e : memref<2x3xf64>, memref<3x4xf64>) outs(%f : memref<2x4xf64>)
  return
}

// CHECK-LABEL: func.func @per_sample
// CHECK: call @graceful_sgemm_per_sample
// CHECK-NOT: call
// CHECK: linalg.generic
#a = affine_map<(n, m, p, k) -> (m, k)>
#b = affine_map<(n, m, p, k) -> (n, k, p)>
#bt = affine_map<(n, m, p, k) -> (n, p, k)>
#c = affine_map<(n, m, p, k) -> (n, m, p)>
func.func @per_sample(%w: memref<4x6xf32>, %x: memref<2x6x9xf32>, %y: memref<2x4x9xf32>,
                      %xt: memref<2x9x6xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %x : memref<4x6xf32>, memref<2x6x9xf32>) outs(%y : memref<2x4x9xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  // Another layout of the patches is not the product the runtime computes.
  linalg.generic {indexing_maps = [#a, #bt, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %xt : memref<4x6xf32>, memref<2x9x6xf32>) outs(%y : memref<2x4x9xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func.func @depthwise
// CHECK-DAG: %[[SY:.*]] = arith.constant 2 : i64
// CHECK-DAG: %[[SX:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[DY:.*]] = arith.constant 3 : i64
// CHECK-DAG: %[[DX:.*]] = arith.constant 4 : i64
// CHECK: call @graceful_depthwise_conv2d({{.*}}, %[[SY]], %[[SX]], %[[DY]], %[[DX]], %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
func.func @depthwise(%x: memref<1x2x9x12xf32>, %w: memref<2x3x3xf32>, %y: memref<1x2x2x4xf32>) {
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<[2, 1]> : tensor<2xi64>,
                                     dilations = dense<[3, 4]> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x9x12xf32>, memref<2x3x3xf32>) outs(%y : memref<1x2x2x4xf32>)
  return
}

// A zero-padded copy read by the convolution alone folds into the call:
// the kernel reads %x and is told the padding (top 1, left 2).
// CHECK-LABEL: func.func @padded_depthwise
// CHECK: %[[X:.*]] = memref.cast %arg0
// CHECK: call @graceful_depthwise_conv2d(%[[X]], {{.*}}, %c1_i64{{[_0-9]*}}, %c2_i64, %c1_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.map
// CHECK-NOT: memref.copy
// CHECK: return
func.func @padded_depthwise(%x: memref<1x2x4x4xf32>, %w: memref<2x3x3xf32>, %y: memref<1x2x4x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %padded = memref.alloc() : memref<1x2x6x8xf32>
  linalg.map outs(%padded : memref<1x2x6x8xf32>) () {
    linalg.yield %zero : f32
  }
  %interior = memref.subview %padded[0, 0, 1, 2] [1, 2, 4, 4] [1, 1, 1, 1]
      : memref<1x2x6x8xf32> to memref<1x2x4x4xf32, strided<[96, 48, 8, 1], offset: 10>>
  memref.copy %x, %interior : memref<1x2x4x4xf32> to memref<1x2x4x4xf32, strided<[96, 48, 8, 1], offset: 10>>
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%padded, %w : memref<1x2x6x8xf32>, memref<2x3x3xf32>) outs(%y : memref<1x2x4x6xf32>)
  memref.dealloc %padded : memref<1x2x6x8xf32>
  return
}

// The padding stays when the input is overwritten before the convolution
// reads it (here, as its own output would be); the zero fill of the output
// goes, and the kernel writes instead of adding.
// CHECK-LABEL: func.func @padding_kept
// CHECK: linalg.fill
// CHECK: call @graceful_depthwise_conv2d({{.*}}, %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
func.func @padding_kept(%x: memref<1x2x4x4xf32>, %w: memref<2x3x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %padded = memref.alloc() : memref<1x2x6x6xf32>
  linalg.fill ins(%zero : f32) outs(%padded : memref<1x2x6x6xf32>)
  %interior = memref.subview %padded[0, 0, 1, 1] [1, 2, 4, 4] [1, 1, 1, 1]
      : memref<1x2x6x6xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  memref.copy %x, %interior : memref<1x2x4x4xf32> to memref<1x2x4x4xf32, strided<[72, 36, 6, 1], offset: 7>>
  linalg.fill ins(%zero : f32) outs(%x : memref<1x2x4x4xf32>)
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%padded, %w : memref<1x2x6x6xf32>, memref<2x3x3xf32>) outs(%x : memref<1x2x4x4xf32>)
  memref.dealloc %padded : memref<1x2x6x6xf32>
  return
}

// CHECK-LABEL: func.func @copies
// CHECK: linalg.copy ins(%{{.*}} : memref<2x2xf32>) outs(%{{.*}} : memref<2x2xf32, strided<[4, 1], offset: 5>>)
// CHECK-NOT: memref.copy
func.func @copies(%x: memref<2x2xf32>, %y: memref<4x4xf32>) {
  %view = memref.subview %y[1, 1] [2, 2] [1, 1] : memref<4x4xf32> to memref<2x2xf32, strided<[4, 1], offset: 5>>
  memref.copy %x, %view : memref<2x2xf32> to memref<2x2xf32, strided<[4, 1], offset: 5>>
  return
}

// A product whose output was just filled with zeros writes its result
// (accumulate = 0) and the fill goes; a fill that also covers memory the
// product does not write stays, and so does one read in between.
// CHECK-LABEL: func.func @zero_filled_outputs
// CHECK-NOT: linalg.fill
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
// CHECK: linalg.fill
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
// CHECK: linalg.fill
// CHECK: linalg.copy
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
func.func @zero_filled_outputs(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %big: memref<4x4xf32>,
                               %seen: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.fill ins(%zero : f32) outs(%big : memref<4x4xf32>)
  %half = memref.subview %big[0, 0] [2, 4] [1, 1] : memref<4x4xf32> to memref<2x4xf32, strided<[4, 1]>>
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%half : memref<2x4xf32, strided<[4, 1]>>)
  %d = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%d : memref<2x4xf32>)
  memref.copy %d, %seen : memref<2x4xf32> to memref<2x4xf32>
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%d : memref<2x4xf32>)
  return
}

// A per-sample product of im2col patches becomes one call that gathers
// each sample's patches itself: kernel 3x3, output width 4, strides 2 and
// 1, dilations 1, and the zero padding (top 1, left 1) read from %x
// directly. The patches and the padded copy go.
// CHECK-LABEL: func.func @convolution
// CHECK-NOT: linalg.generic
// CHECK: %[[X:.*]] = memref.cast %arg0
// CHECK: call @graceful_conv2d(%{{.*}}, %[[X]], %{{.*}}, %c3_i64, %c3_i64{{[_0-9]*}}, %c4_i64, %c2_i64, %c1_i64, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %c0_i64, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.copy
// CHECK: return
#im2col = affine_map<(n, c, i, j, y, x) -> (n, c, y * 2 + i, x + j)>
#id6 = affine_map<(n, c, i, j, y, x) -> (n, c, i, j, y, x)>
func.func @convolution(%x: memref<2x3x5x4xf32>, %w: memref<8x27xf32>, %y: memref<2x8x12xf32>) {
  %zero = arith.constant 0.0 : f32
  %padded = memref.alloc() : memref<2x3x7x6xf32>
  linalg.fill ins(%zero : f32) outs(%padded : memref<2x3x7x6xf32>)
  %interior = memref.subview %padded[0, 0, 1, 1] [2, 3, 5, 4] [1, 1, 1, 1]
      : memref<2x3x7x6xf32> to memref<2x3x5x4xf32, strided<[126, 42, 6, 1], offset: 7>>
  memref.copy %x, %interior : memref<2x3x5x4xf32> to memref<2x3x5x4xf32, strided<[126, 42, 6, 1], offset: 7>>
  %patches = memref.alloc() : memref<2x3x3x3x3x4xf32>
  linalg.generic {indexing_maps = [#im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%padded : memref<2x3x7x6xf32>) outs(%patches : memref<2x3x3x3x3x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<2x3x3x3x3x4xf32> into memref<2x27x12xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<2x8x12xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<8x27xf32>, memref<2x27x12xf32>) outs(%y : memref<2x8x12xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %patches : memref<2x3x3x3x3x4xf32>
  memref.dealloc %padded : memref<2x3x7x6xf32>
  return
}

// Patches read again after the product stay: the product reads them.
// CHECK-LABEL: func.func @patches_read_again
// CHECK: linalg.generic
// CHECK: call @graceful_sgemm_per_sample
// CHECK: linalg.copy
func.func @patches_read_again(%x: memref<2x3x7x6xf32>, %w: memref<8x27xf32>, %y: memref<2x8x12xf32>,
                              %seen: memref<2x3x3x3x3x4xf32>) {
  %patches = memref.alloc() : memref<2x3x3x3x3x4xf32>
  linalg.generic {indexing_maps = [#im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<2x3x7x6xf32>) outs(%patches : memref<2x3x3x3x3x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<2x3x3x3x3x4xf32> into memref<2x27x12xf32>
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<8x27xf32>, memref<2x27x12xf32>) outs(%y : memref<2x8x12xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %patches, %seen : memref<2x3x3x3x3x4xf32> to memref<2x3x3x3x3x4xf32>
  memref.dealloc %patches : memref<2x3x3x3x3x4xf32>
  return
}
