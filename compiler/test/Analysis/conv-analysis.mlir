// The analysis of a small conv net, checked by hand:
//   params  = conv 4*3*3*3 + bn scale/bias 2*4 + fc 10*64 + 10 = 766
//   buffers = bn running mean/var 2*4 = 8
//   macs    = conv (1*4*8*8 outputs * 3*3*3) 6912 + fc (10 outputs * 64) 640 = 7552
//   peak    = image 768 B + conv out 1024 B alive at the conv = 1792 B;
//             at bn: conv out 1024 + bn out 1024 = 2048 B (the image died at the conv)
// RUN: graceful-translate --import-onnx %inputs/conv.onnxtxt | graceful-opt --graceful-analyze | FileCheck %s

// CHECK: graceful.analysis = {
// CHECK-SAME: buffers = 8 : i64
// CHECK-SAME: dtypes = ["f32"]
// CHECK-SAME: dynamic_dims = ["input 'image' dim 0 (N)"]
// CHECK-SAME: macs = 7552 : i64
// CHECK-SAME: macs_by_op = {Conv = 6912 : i64, Gemm = 640 : i64}
// CHECK-SAME: ops = {BatchNormalization = 1 : i64, Conv = 1 : i64, Flatten = 1 : i64, Gemm = 1 : i64, MaxPool = 1 : i64, Relu = 1 : i64}
// CHECK-SAME: params = 766 : i64
// CHECK-SAME: peak_activation_bytes = 2048 : i64
