// Internal: constant folding of the small int64 computations exporters
// write to derive shapes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
// as torch exports ShuffleNet's channel shuffle).
#pragma once

#include <functional>
#include <onnx/onnx_pb.h>
#include <optional>

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

// The value of a one-element tensor of any numeric type.
std::optional<double> scalarOf(const onnx::TensorProto &tensor);

// ONNX 1.12's STFT inference reads onesided as 0 when it is absent (the
// spec's default is 1), and for a onesided output counts frames with the
// bins' count as the frame's length. Its registry cannot replace a schema,
// so the registered function is wrapped, once per process, to give the
// spec's [batch, frames, bins, 2] (as ONNX Runtime and the backend tests'
// data do). Call before inferring shapes.
void correctStftInference();

} // namespace graceful::compiler
