// Det reduces each matrix by Gaussian elimination with partial pivoting:
// the row of largest magnitude is found, swapped into place (flipping the
// determinant's sign when it moves), and multiplied in; a zero pivot skips
// the elimination that would divide by it.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @det
// CHECK: scf.for {{.*}} -> (tensor<2xf32>)
// CHECK: tensor.extract_slice %{{.*}} [1, 3, 3] [1, 1, 1] : tensor<2x3x3xf32> to tensor<3x3xf32>
// CHECK: scf.for {{.*}} -> (tensor<3x3xf32>, f32)
// CHECK: math.absf
// CHECK: scf.for {{.*}} -> (index, f32)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpi ne
// CHECK: arith.negf
// CHECK: arith.mulf
// CHECK: arith.cmpf oeq
// CHECK: scf.if
// CHECK: } else {
// CHECK: arith.divf
// CHECK: arith.subf
// CHECK: tensor.insert %{{.*}}#1 into
func.func @det(%x: tensor<2x3x3xf32>) -> tensor<2xf32> {
  %d = onnx.node "Det"(%x) {onnx_attrs = {}} : (tensor<2x3x3xf32>) -> tensor<2xf32>
  return %d : tensor<2xf32>
}
