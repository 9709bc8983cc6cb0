// Internal: constant folding of the small int64 computations exporters
// write to derive shapes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
// as torch exports ShuffleNet's channel shuffle).
#pragma once

#include <functional>
#include <onnx/onnx_pb.h>

namespace graceful::compiler {

// Replaces Shape nodes whose input shape is fully static, and int64 Gather,
// Unsqueeze, Squeeze, Concat, Cast, Add, Sub, Mul, Div, Mod, Equal, Where,
// Reshape, Transpose, ConstantOfShape, Range, Slice and
// Identity nodes whose inputs are all
// constants (booleans for Equal and Where), by initializers, calling
// `inferShapes` after each round that folded something (its new shapes let
// the next round fold more), until nothing folds. Intermediate values no
// node reads any more are dropped. Models before IR version 4, whose
// initializers must be graph inputs, are left alone.
void foldShapeComputations(onnx::ModelProto &model, const std::function<void()> &inferShapes);

} // namespace graceful::compiler
