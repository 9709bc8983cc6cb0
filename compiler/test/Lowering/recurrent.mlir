// Recurrent layers: per direction, the input's share of every step is one
// product over the whole sequence (X [S*B, I] by W^T); an scf.for over the
// steps carries the hidden state and the output sequence, multiplies the
// state by R^T and applies the gates. GRU without linear_before_reset
// multiplies the reset state by its own slice of R. An omitted output is
// onnx.none.
// RUN: graceful-opt %s --graceful-lower-onnx | FileCheck %s

// CHECK-LABEL: func.func @gru
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} output_shape [10, 3] : tensor<30xf32> into tensor<10x3xf32>
// CHECK: %[[W:.*]] = tensor.extract_slice %arg1[0, 0, 0] [1, 12, 3] [1, 1, 1] : tensor<1x12x3xf32> to tensor<12x3xf32>
// CHECK: %[[SHARE:.*]] = linalg.matmul_transpose_b ins(%[[X]], %[[W]] : tensor<10x3xf32>, tensor<12x3xf32>)
// CHECK: %[[R:.*]] = tensor.extract_slice %arg2[0, 0, 0] [1, 12, 4]
// CHECK: %[[RZR:.*]] = tensor.extract_slice %[[R]][0, 0] [8, 4]
// CHECK: %[[RH:.*]] = tensor.extract_slice %[[R]][8, 0] [4, 4]
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[H:.*]] = %{{.*}}, %[[Y:.*]] = %{{.*}}) -> (tensor<2x4xf32>, tensor<5x2x4xf32>)
// CHECK: %[[ROW:.*]] = arith.muli %[[T]], %{{.*}} : index
// CHECK: tensor.extract_slice %[[SHARE]][%[[ROW]], 0] [2, 12]
// CHECK: linalg.matmul_transpose_b ins(%[[H]], %[[RZR]] : tensor<2x4xf32>, tensor<8x4xf32>)
// CHECK: math.exp
// CHECK: linalg.matmul_transpose_b ins(%{{.*}}, %[[RH]] : tensor<2x4xf32>, tensor<4x4xf32>)
// CHECK: math.tanh
// CHECK: tensor.insert_slice %{{.*}} into %[[Y]][%[[T]], 0, 0] [1, 2, 4]
// CHECK: scf.yield
// CHECK: tensor.insert_slice %[[LOOP]]#0 into %{{.*}}[0, 0, 0] [1, 2, 4] [1, 1, 1] : tensor<2x4xf32> into tensor<1x2x4xf32>
// CHECK-NOT: onnx.node
func.func @gru(%x: tensor<5x2x3xf32>, %w: tensor<1x12x3xf32>, %r: tensor<1x12x4xf32>) -> tensor<1x2x4xf32> {
  %y, %h = onnx.node "GRU"(%x, %w, %r) {names = ["", "h"], onnx_attrs = {hidden_size = 4 : i64}} : (tensor<5x2x3xf32>, tensor<1x12x3xf32>, tensor<1x12x4xf32>) -> (none, tensor<1x2x4xf32>)
  return %h : tensor<1x2x4xf32>
}

// The reverse direction reads step S - 1 - t.
// CHECK-LABEL: func.func @reverse_rnn
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[LAST:.*]] = arith.constant 4 : index
// CHECK: %[[AT:.*]] = arith.subi %[[LAST]], %[[T]] : index
// CHECK: arith.muli %[[AT]]
// CHECK: math.tanh
func.func @reverse_rnn(%x: tensor<5x2x3xf32>, %w: tensor<1x4x3xf32>, %r: tensor<1x4x4xf32>) -> tensor<5x1x2x4xf32> {
  %y, %h = onnx.node "RNN"(%x, %w, %r) {names = ["y", "h"], onnx_attrs = {hidden_size = 4 : i64, direction = "reverse"}} : (tensor<5x2x3xf32>, tensor<1x4x3xf32>, tensor<1x4x4xf32>) -> (tensor<5x1x2x4xf32>, tensor<1x2x4xf32>)
  return %y : tensor<5x1x2x4xf32>
}
