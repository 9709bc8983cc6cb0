// A 3x3 convolution at stride and dilation 1 whose filters are a constant
// global becomes a call computing it by Winograd's F(4x4, 3x3), on a new
// constant global holding the filters' transform [36, M, C] (beside the
// filters themselves, for the runtime's direct path); filters that are not
// a constant, that the transform could overflow on, or convolutions too
// small in pixels keep the direct call.
// RUN: graceful-opt %s --graceful-linalg-to-blas | FileCheck %s

// CHECK-DAG: memref.global "private" constant @filters_winograd : memref<36x16x16xf32> = dense_resource<filters_winograd> {alignment = 64 : i64}
// CHECK-NOT: @huge_winograd
// CHECK-NOT: @small_winograd

#a = affine_map<(n, m, p, k) -> (m, k)>
#b = affine_map<(n, m, p, k) -> (n, k, p)>
#c = affine_map<(n, m, p, k) -> (n, m, p)>
#unit_im2col = affine_map<(n, c, i, j, y, x) -> (n, c, y + i, x + j)>
#id6 = affine_map<(n, c, i, j, y, x) -> (n, c, i, j, y, x)>
memref.global "private" constant @filters : memref<16x16x3x3xf32> = dense<0.25>
memref.global "private" constant @huge : memref<16x16x3x3xf32> = dense<1.0e13>
memref.global "private" constant @small : memref<16x16x3x3xf32> = dense<0.25>

// Output width 8, no padding offsets: the fill before goes (the call
// writes rather than adds).
// CHECK-LABEL: func.func @constant_filters
// CHECK: %[[U:.*]] = memref.get_global @filters_winograd : memref<36x16x16xf32>
// CHECK: call @graceful_winograd_conv2d(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64, %c0_i64, %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %cst{{[_0-9]*}}, %cst{{[_0-9]*}})
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @constant_filters(%x: memref<1x16x10x10xf32>, %y: memref<1x16x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %w4 = memref.get_global @filters : memref<16x16x3x3xf32>
  %w = memref.collapse_shape %w4 [[0], [1, 2, 3]] : memref<16x16x3x3xf32> into memref<16x144xf32>
  %patches = memref.alloc() : memref<1x16x3x3x8x8xf32>
  linalg.generic {indexing_maps = [#unit_im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x16x10x10xf32>) outs(%patches : memref<1x16x3x3x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<1x16x3x3x8x8xf32> into memref<1x144x64xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x16x64xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<16x144xf32>, memref<1x144x64xf32>) outs(%y : memref<1x16x64xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %patches : memref<1x16x3x3x8x8xf32>
  return
}

// CHECK-LABEL: func.func @filters_argument
// CHECK: call @graceful_conv2d(
func.func @filters_argument(%x: memref<1x16x10x10xf32>, %arg: memref<16x16x3x3xf32>, %y: memref<1x16x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %w4 = memref.cast %arg : memref<16x16x3x3xf32> to memref<16x16x3x3xf32>
  %w = memref.collapse_shape %w4 [[0], [1, 2, 3]] : memref<16x16x3x3xf32> into memref<16x144xf32>
  %patches = memref.alloc() : memref<1x16x3x3x8x8xf32>
  linalg.generic {indexing_maps = [#unit_im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x16x10x10xf32>) outs(%patches : memref<1x16x3x3x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<1x16x3x3x8x8xf32> into memref<1x144x64xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x16x64xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<16x144xf32>, memref<1x144x64xf32>) outs(%y : memref<1x16x64xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %patches : memref<1x16x3x3x8x8xf32>
  return
}

// CHECK-LABEL: func.func @filters_too_large
// CHECK: call @graceful_conv2d(
func.func @filters_too_large(%x: memref<1x16x10x10xf32>, %y: memref<1x16x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %w4 = memref.get_global @huge : memref<16x16x3x3xf32>
  %w = memref.collapse_shape %w4 [[0], [1, 2, 3]] : memref<16x16x3x3xf32> into memref<16x144xf32>
  %patches = memref.alloc() : memref<1x16x3x3x8x8xf32>
  linalg.generic {indexing_maps = [#unit_im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x16x10x10xf32>) outs(%patches : memref<1x16x3x3x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<1x16x3x3x8x8xf32> into memref<1x144x64xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x16x64xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<16x144xf32>, memref<1x144x64xf32>) outs(%y : memref<1x16x64xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %patches : memref<1x16x3x3x8x8xf32>
  return
}

// CHECK-LABEL: func.func @output_too_small
// CHECK: call @graceful_conv2d(
func.func @output_too_small(%x: memref<1x16x9x9xf32>, %y: memref<1x16x49xf32>) {
  %zero = arith.constant 0.0 : f32
  %w4 = memref.get_global @small : memref<16x16x3x3xf32>
  %w = memref.collapse_shape %w4 [[0], [1, 2, 3]] : memref<16x16x3x3xf32> into memref<16x144xf32>
  %patches = memref.alloc() : memref<1x16x3x3x7x7xf32>
  linalg.generic {indexing_maps = [#unit_im2col, #id6],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x16x9x9xf32>) outs(%patches : memref<1x16x3x3x7x7xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.collapse_shape %patches [[0], [1, 2, 3], [4, 5]] : memref<1x16x3x3x7x7xf32> into memref<1x144x49xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x16x49xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %b : memref<16x144xf32>, memref<1x144x49xf32>) outs(%y : memref<1x16x49xf32>) {
  ^bb0(%wv: f32, %xv: f32, %acc: f32):
    %p = arith.mulf %wv, %xv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %patches : memref<1x16x3x3x7x7xf32>
  return
}
