// RUN: graceful-opt --pass-pipeline='builtin.module(func.func(graceful-split-empty-tensors))' %s | FileCheck %s

// A tensor.empty shared by two writers becomes one each, placed right
// before its user.

// CHECK-LABEL: func.func @shared
// CHECK-NEXT: %[[FIRST:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[FIRST]] : tensor<4xf32>)
// CHECK: %[[SECOND:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[SECOND]] : tensor<4xf32>)
#map = affine_map<(d0) -> (d0)>
func.func @shared(%x: tensor<4xf32>) -> tensor<4xf32> {
  %empty = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%empty : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %b = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%empty : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  return %b : tensor<4xf32>
}

// CHECK-LABEL: func.func @dynamic
// CHECK: %[[N:.*]] = tensor.dim
// CHECK-NEXT: %[[A:.*]] = tensor.empty(%[[N]])
// CHECK-NEXT: linalg.copy {{.*}} outs(%[[A]]
// CHECK-NEXT: %[[B:.*]] = tensor.empty(%[[N]])
// CHECK-NEXT: linalg.copy {{.*}} outs(%[[B]]
// CHECK-NOT: tensor.empty
func.func @dynamic(%x: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?xf32>
  %empty = tensor.empty(%n) : tensor<?xf32>
  %a = linalg.copy ins(%x : tensor<?xf32>) outs(%empty : tensor<?xf32>) -> tensor<?xf32>
  %b = linalg.copy ins(%x : tensor<?xf32>) outs(%empty : tensor<?xf32>) -> tensor<?xf32>
  return %a, %b : tensor<?xf32>, tensor<?xf32>
}
