// Multi-dimensional constants become flat arrays that each use expands
// back to its shape; rank-1 globals, and globals some other op names, stay.
// RUN: graceful-opt %s --graceful-flatten-globals | FileCheck %s

// CHECK-DAG: memref.global "private" constant @weights_flat : memref<12xf32> = dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00, 8.000000e+00, 9.000000e+00, 1.000000e+01, 1.100000e+01]> {alignment = 64 : i64}
// CHECK-DAG: memref.global "private" constant @bias : memref<3xf32>
// CHECK-DAG: memref.global "private" constant @named : memref<2x2xf32>
// CHECK-NOT: memref.global "private" constant @weights :
memref.global "private" constant @weights : memref<2x3x2xf32> =
    dense<[[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [[6.0, 7.0], [8.0, 9.0], [10.0, 11.0]]]>
    {alignment = 64 : i64}
memref.global "private" constant @bias : memref<3xf32> = dense<[1.0, 2.0, 3.0]>
memref.global "private" constant @named : memref<2x2xf32> = dense<1.0>

// CHECK-LABEL: func.func @uses
// CHECK: %[[FLAT:.*]] = memref.get_global @weights_flat : memref<12xf32>
// CHECK: %[[W:.*]] = memref.expand_shape %[[FLAT]] {{\[}}[0, 1, 2]] output_shape [2, 3, 2] : memref<12xf32> into memref<2x3x2xf32>
// CHECK: memref.copy %[[W]], %arg0
// CHECK: memref.get_global @bias : memref<3xf32>
func.func @uses(%out: memref<2x3x2xf32>, %b: memref<3xf32>) {
  %w = memref.get_global @weights : memref<2x3x2xf32>
  memref.copy %w, %out : memref<2x3x2xf32> to memref<2x3x2xf32>
  %c = memref.get_global @bias : memref<3xf32>
  memref.copy %c, %b : memref<3xf32> to memref<3xf32>
  return
}

// A symbol use other than get_global keeps @named as it is.
func.func @names() attributes {refers = @named} {
  return
}
