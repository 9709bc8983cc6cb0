// Clip and Relu after a kernel, and a residual Add before them, become the
// kernel's epilogue: the call writes where they wrote, starting from the
// Add's other buffer, and clamps; the kernel's own buffer goes. Each stays a
// loop when fusing would change what some op reads.
// RUN: graceful-opt %s \
// RUN:   --pass-pipeline="builtin.module(graceful-linalg-to-blas, graceful-depthwise-to-runtime, canonicalize)" | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#channel = affine_map<(d0, d1) -> (d1)>

// Clip(0, 6): the product writes the Clip's output, clamped to [0, 6].
// CHECK-LABEL: func.func @clip_after_product
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[SIX:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: %[[Y:.*]] = memref.cast %arg2
// CHECK: call @graceful_sgemm(%{{.*}}, %{{.*}}, %[[Y]], %c0_i64, %c0_i64, %[[ZERO]], %[[SIX]])
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @clip_after_product(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %y: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %above = arith.cmpf ogt, %in, %six : f32
    %high = arith.select %above, %six, %in : f32
    %clamped = arith.select %below, %zero, %high : f32
    linalg.yield %clamped : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  return
}

// A Relu writing back into the depthwise convolution's input: the kernel
// writes its own input (it reads each plane before writing it), clamped
// below at 0 with no upper bound.
// CHECK-LABEL: func.func @relu_into_depthwise_input
// CHECK-DAG: %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[X:.*]] = memref.cast %arg0
// CHECK: %[[Y:.*]] = memref.cast %arg0
// CHECK: call @graceful_depthwise_conv2d(%[[X]], %{{.*}}, %[[Y]], {{.*}}, %c0_i64, %[[ZERO]], %[[INF]])
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @relu_into_depthwise_input(%x: memref<1x2x4x4xf32>, %w: memref<2x1x1xf32>) {
  %zero = arith.constant 0.0 : f32
  %out = memref.alloc() : memref<1x2x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<1x2x4x4xf32>)
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x4x4xf32>, memref<2x1x1xf32>) outs(%out : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%out : memref<1x2x4x4xf32>) outs(%x : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %out : memref<1x2x4x4xf32>
  return
}

// The same Relu after a depthwise convolution with a bias (MobileNetV2's
// folded BatchNorm): the bias broadcast becomes the kernel's operand, so
// no base has to be written into the output before the kernel reads its
// input, and the kernel still writes over that input.
// CHECK-LABEL: func.func @biased_relu_into_depthwise_input
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.generic
// CHECK: %[[X:.*]] = memref.cast %arg0
// CHECK: %[[B:.*]] = memref.cast %arg2
// CHECK: %[[Y:.*]] = memref.cast %arg0
// CHECK: call @graceful_depthwise_conv2d_bias(%[[X]], %{{.*}}, %[[B]], %[[Y]], {{.*}}, %c0_i64, %{{.*}}, %{{.*}})
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @biased_relu_into_depthwise_input(%x: memref<1x2x4x4xf32>, %w: memref<2x1x1xf32>,
                                            %bias: memref<2xf32>) {
  %zero = arith.constant 0.0 : f32
  %out = memref.alloc() : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1)>, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%out : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x4x4xf32>, memref<2x1x1xf32>) outs(%out : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%out : memref<1x2x4x4xf32>) outs(%x : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %out : memref<1x2x4x4xf32>
  return
}

// A biased depthwise convolution, a residual Add and a Relu6: the Add's
// other buffer is copied into the Clip's output, which the kernel adds the
// bias and its sums to, clamped to [0, 6].
// CHECK-LABEL: func.func @biased_depthwise_residual_clip
// CHECK-NOT: linalg.generic
// CHECK: memref.copy %arg3, %arg4
// CHECK: call @graceful_depthwise_conv2d_bias({{.*}}, %c1_i64, %{{.*}}, %{{.*}})
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @biased_depthwise_residual_clip(%x: memref<1x2x4x4xf32>, %w: memref<2x1x1xf32>,
                                          %bias: memref<2xf32>, %skip: memref<1x2x4x4xf32>,
                                          %y: memref<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %out = memref.alloc() : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1)>, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%out : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x4x4xf32>, memref<2x1x1xf32>) outs(%out : memref<1x2x4x4xf32>)
  %sum = memref.alloc() : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%out, %skip : memref<1x2x4x4xf32>, memref<1x2x4x4xf32>) outs(%sum : memref<1x2x4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %add = arith.addf %l, %r : f32
    linalg.yield %add : f32
  }
  memref.dealloc %out : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sum : memref<1x2x4x4xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %above = arith.cmpf ogt, %in, %six : f32
    %high = arith.select %above, %six, %in : f32
    %clamped = arith.select %below, %zero, %high : f32
    linalg.yield %clamped : f32
  }
  memref.dealloc %sum : memref<1x2x4x4xf32>
  return
}

// A biased depthwise convolution whose residual Add writes back into the
// kernel's own input x, then a Relu into y: the kernel accumulates into x in
// place, so x's producer (the copy) must stay where it writes, and the Relu
// stays a loop reading x.
// CHECK-LABEL: func.func @inplace_residual_relu
// CHECK: %[[X:.*]] = memref.alloc
// CHECK: memref.copy %arg0, %[[X]] :
// CHECK: %[[IN:.*]] = memref.cast %[[X]]
// CHECK: %[[OUT:.*]] = memref.cast %[[X]]
// CHECK: call @graceful_depthwise_conv2d_bias(%[[IN]], %{{.*}}, %{{.*}}, %[[OUT]], {{.*}}, %c1_i64, %{{.*}}, %{{.*}})
// CHECK: linalg.generic {{.*}} ins(%[[X]] : memref<1x2x4x4xf32>) outs(%arg3 :
func.func @inplace_residual_relu(%a: memref<1x2x4x4xf32>, %w: memref<2x1x1xf32>,
                                 %bias: memref<2xf32>, %y: memref<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %x = memref.alloc() : memref<1x2x4x4xf32>
  memref.copy %a, %x : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  %out = memref.alloc() : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1)>, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%out : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x4x4xf32>, memref<2x1x1xf32>) outs(%out : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%out, %x : memref<1x2x4x4xf32>, memref<1x2x4x4xf32>) outs(%x : memref<1x2x4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %add = arith.addf %l, %r : f32
    linalg.yield %add : f32
  }
  memref.dealloc %out : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %x : memref<1x2x4x4xf32>
  return
}

// A bias broadcast into a [2, 8] buffer that the convolution writes through
// an expand_shape as [1, 2, 2, 4]: the writer's dim 1 is not the kernel's
// channel dim, so the broadcast stays and the kernel adds to it.
// CHECK-LABEL: func.func @bias_through_reshape
// CHECK: linalg.generic {{.*}} ins(%arg2 : memref<8xf32>) outs(%arg3 : memref<2x8xf32>)
// CHECK: call @graceful_depthwise_conv2d({{.*}}, %c1_i64, %{{.*}}, %{{.*}})
func.func @bias_through_reshape(%x: memref<1x2x2x4xf32>, %w: memref<2x1x1xf32>,
                                %bias: memref<8xf32>, %y: memref<2x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%bias : memref<8xf32>) outs(%y : memref<2x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  %e = memref.expand_shape %y [[0, 1], [2, 3]] output_shape [1, 2, 2, 4] : memref<2x8xf32> into memref<1x2x2x4xf32>
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x2x4xf32>, memref<2x1x1xf32>) outs(%e : memref<1x2x2x4xf32>)
  return
}

// A bias written before something changes it is not the bias the kernel
// would read: the broadcast stays, and the kernel adds to its output.
// CHECK-LABEL: func.func @bias_changed_before_depthwise
// CHECK: linalg.generic {{.*}} ins(%arg2 : memref<2xf32>)
// CHECK: linalg.fill
// CHECK: call @graceful_depthwise_conv2d({{.*}}, %c1_i64, %{{.*}}, %{{.*}})
// CHECK: return
func.func @bias_changed_before_depthwise(%x: memref<1x2x4x4xf32>, %w: memref<2x1x1xf32>,
                                         %bias: memref<2xf32>, %y: memref<1x2x4x4xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1)>, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.fill ins(%one : f32) outs(%bias : memref<2xf32>)
  linalg.depthwise_conv_2d_nchw_chw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%x, %w : memref<1x2x4x4xf32>, memref<2x1x1xf32>) outs(%y : memref<1x2x4x4xf32>)
  return
}

// p += a * b: the product accumulates onto the Add's other input, which is
// also where the Add writes.
// CHECK-LABEL: func.func @residual_in_place
// CHECK-DAG: %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK-DAG: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[P:.*]] = memref.cast %arg2
// CHECK: call @graceful_sgemm(%{{.*}}, %{{.*}}, %[[P]], %c0_i64, %c1_i64, %[[NEG_INF]], %[[INF]])
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @residual_in_place(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %p: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %c : memref<2x4xf32>, memref<2x4xf32>) outs(%p : memref<2x4xf32>) {
  ^bb0(%l: f32, %r: f32, %out: f32):
    %sum = arith.addf %l, %r : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  return
}

// z = relu(a * b + p): p is copied into z, the product accumulates onto
// it, and the in-place Relu becomes the clamp.
// CHECK-LABEL: func.func @residual_then_relu
// CHECK-DAG: %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: memref.copy %arg2, %arg3
// CHECK: %[[Z:.*]] = memref.cast %arg3
// CHECK: call @graceful_sgemm(%{{.*}}, %{{.*}}, %[[Z]], %c0_i64, %c1_i64, %[[ZERO]], %[[INF]])
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @residual_then_relu(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %p: memref<2x4xf32>,
                              %z: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %p : memref<2x4xf32>, memref<2x4xf32>) outs(%z : memref<2x4xf32>) {
  ^bb0(%l: f32, %r: f32, %out: f32):
    %sum = arith.addf %l, %r : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%z : memref<2x4xf32>) outs(%z : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  return
}

// z = relu(a * b + p) through a buffer of its own (ResNet's convolutions
// without a bias, BatchNorm kept): the copy of p moves to z with the
// product, and the Relu becomes the clamp.
// CHECK-LABEL: func.func @residual_copy_then_relu
// CHECK-NOT: memref.alloc
// CHECK: memref.copy %arg2, %arg3
// CHECK: %[[Z:.*]] = memref.cast %arg3
// CHECK: call @graceful_sgemm(%{{.*}}, %{{.*}}, %[[Z]], %c0_i64, %c1_i64, %{{.*}}, %{{.*}})
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @residual_copy_then_relu(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %p: memref<2x4xf32>,
                                   %z: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  %s = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %p : memref<2x4xf32>, memref<2x4xf32>) outs(%s : memref<2x4xf32>) {
  ^bb0(%l: f32, %r: f32, %out: f32):
    %sum = arith.addf %l, %r : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : memref<2x4xf32>) outs(%z : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %s : memref<2x4xf32>
  return
}

// The same with the Relu writing the Add's other buffer p: the copy of p
// cannot move onto p itself, so the Relu stays a loop.
// CHECK-LABEL: func.func @residual_copy_then_relu_into_addend
// CHECK: memref.copy %arg2, %[[S:.*]] :
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c1_i64, %{{.*}}, %{{.*}})
// CHECK: linalg.generic {{.*}} ins(%[[S]] : memref<2x4xf32>) outs(%arg2 : memref<2x4xf32>)
// CHECK: return
func.func @residual_copy_then_relu_into_addend(%a: memref<2x3xf32>, %b: memref<3x4xf32>,
                                               %p: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  %s = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %p : memref<2x4xf32>, memref<2x4xf32>) outs(%s : memref<2x4xf32>) {
  ^bb0(%l: f32, %r: f32, %out: f32):
    %sum = arith.addf %l, %r : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : memref<2x4xf32>) outs(%p : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %s : memref<2x4xf32>
  return
}

// Left as loops: a clamp whose output is read before it writes it; a
// product read again after its clamp; a bound that is not a constant. A
// product added onto a bias broadcast is fused once the broadcast writes the
// clamp's output instead.
// CHECK-LABEL: func.func @not_fused
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c0_i64, %[[NEG_INF:.*]], %[[INF:.*]])
// CHECK: memref.copy %arg2, %arg3
// CHECK: linalg.generic {{.*}} ins(%alloc : memref<2x4xf32>) outs(%arg2 : memref<2x4xf32>)
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c0_i64, %[[NEG_INF]], %[[INF]])
// CHECK: linalg.generic {{.*}} ins(%alloc_{{[0-9]+}} : memref<2x4xf32>) outs(%arg2 : memref<2x4xf32>)
// CHECK: memref.copy
// CHECK: call @graceful_sgemm({{.*}}, %c0_i64, %c0_i64, %[[NEG_INF]], %[[INF]])
// CHECK: linalg.generic {{.*}} ins(%alloc_{{[0-9]+}} : memref<2x4xf32>) outs(%arg2 : memref<2x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg4 : memref<4xf32>) outs(%arg2 : memref<2x4xf32>)
// CHECK: %[[Y:.*]] = memref.cast %arg2
// CHECK: call @graceful_sgemm({{.*}}, %[[Y]], %c0_i64, %c1_i64, %[[ZERO:.*]], %[[INF]])
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @not_fused(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %y: memref<2x4xf32>,
                     %seen: memref<2x4xf32>, %bias: memref<4xf32>, %bound: f32) {
  %zero = arith.constant 0.0 : f32
  // The clamp's output is read before the clamp writes it.
  %c1 = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c1 : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c1 : memref<2x4xf32>)
  memref.copy %y, %seen : memref<2x4xf32> to memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c1 : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  // The product is read again after the clamp.
  %c2 = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c2 : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c2 : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c2 : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.copy %c2, %seen : memref<2x4xf32> to memref<2x4xf32>
  // A bound that is not a constant.
  %c3 = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%zero : f32) outs(%c3 : memref<2x4xf32>)
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c3 : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c3 : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %bound : f32
    %clamped = arith.select %below, %bound, %in : f32
    linalg.yield %clamped : f32
  }
  // A product added onto a bias broadcast: its base lives in its own buffer.
  %c4 = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#channel, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias : memref<4xf32>) outs(%c4 : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c4 : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c4 : memref<2x4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %below = arith.cmpf olt, %in, %zero : f32
    %relu = arith.select %below, %zero, %in : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %c1 : memref<2x4xf32>
  memref.dealloc %c2 : memref<2x4xf32>
  memref.dealloc %c3 : memref<2x4xf32>
  memref.dealloc %c4 : memref<2x4xf32>
  return
}

// z = relu(bias + a * b + p), with the product added onto a bias
// broadcast: the broadcast takes the Add in (it writes bias + p into z)
// and the product accumulates onto z, clamped.
// CHECK-LABEL: func.func @bias_then_residual_relu
// CHECK-DAG: %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: linalg.generic {{.*}} ins(%arg3, %arg2 : memref<4xf32>, memref<2x4xf32>) outs(%arg4 : memref<2x4xf32>)
// CHECK: ^bb0(%[[BIAS:.*]]: f32, %[[P:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[BIAS]], %[[P]] : f32
// CHECK-NEXT: linalg.yield %[[SUM]] : f32
// CHECK: %[[Z:.*]] = memref.cast %arg4
// CHECK: call @graceful_sgemm(%{{.*}}, %{{.*}}, %[[Z]], %c0_i64, %c1_i64, %[[ZERO]], %[[INF]])
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @bias_then_residual_relu(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %p: memref<2x4xf32>,
                                   %bias: memref<4xf32>, %z: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#channel, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias : memref<4xf32>) outs(%c : memref<2x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %p : memref<2x4xf32>, memref<2x4xf32>) outs(%z : memref<2x4xf32>) {
  ^bb0(%l: f32, %r: f32, %out: f32):
    %sum = arith.addf %l, %r : f32
    %below = arith.cmpf olt, %sum, %zero : f32
    %relu = arith.select %below, %zero, %sum : f32
    linalg.yield %relu : f32
  }
  memref.dealloc %c : memref<2x4xf32>
  return
}
