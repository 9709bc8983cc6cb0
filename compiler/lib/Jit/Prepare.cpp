#include "Prepare.h"

#include "graceful/compiler/Importer.h"
#include "graceful/support/error.h"

#include <algorithm>

namespace graceful::compiler {

llvm::Error specialize(onnx::ModelProto &model, const std::vector<TensorSpec> &inputs,
                       const std::vector<std::vector<int64_t>> &shapes, const std::string &source) {
  if (shapes.size() != inputs.size())
    return makeError(ErrorKind::BadInput, source + ": the model has " +
                                              std::to_string(inputs.size()) + " inputs, " +
                                              std::to_string(shapes.size()) + " were given");
  auto *graph = model.mutable_graph();
  for (auto &value : *graph->mutable_input()) {
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const TensorSpec &spec) { return spec.name == value.name(); });
    if (it == inputs.end())
      continue;
    const std::vector<int64_t> &shape = shapes[static_cast<size_t>(it - inputs.begin())];
    if (shape.size() != it->shape.size())
      return makeError(ErrorKind::BadInput, source + ": input '" + it->name + "' has rank " +
                                                std::to_string(it->shape.size()) +
                                                ", got an array of rank " +
                                                std::to_string(shape.size()));
    auto *dims = value.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (size_t d = 0; d < shape.size(); ++d) {
      if (it->shape[d] >= 0 && it->shape[d] != shape[d])
        return makeError(ErrorKind::BadInput, source + ": input '" + it->name + "' dim " +
                                                  std::to_string(d) + " must be " +
                                                  std::to_string(it->shape[d]) + ", got " +
                                                  std::to_string(shape[d]));
      dims->mutable_dim(static_cast<int>(d))->set_dim_value(shape[d]);
    }
  }
  forgetInferredShapes(*graph);
  return llvm::Error::success();
}

llvm::Error fixInputs(onnx::ModelProto &model, const std::map<std::string, Tensor> &fixed,
                      const std::string &source) {
  auto *graph = model.mutable_graph();
  for (const auto &[name, tensor] : fixed) {
    auto input =
        std::find_if(graph->input().begin(), graph->input().end(),
                     [&](const onnx::ValueInfoProto &value) { return value.name() == name; });
    if (input == graph->input().end())
      return makeError(ErrorKind::BadInput, source + ": no graph input '" + name + "' to fix");
    *graph->add_initializer() = initializerOf(name, tensor);
    if (model.ir_version() >= 4)
      graph->mutable_input()->erase(input);
  }
  return llvm::Error::success();
}

onnx::TensorProto initializerOf(const std::string &name, const Tensor &tensor) {
  onnx::TensorProto initializer;
  initializer.set_name(name);
  initializer.set_data_type(static_cast<int32_t>(tensor.dtype));
  for (int64_t dim : tensor.shape)
    initializer.add_dims(dim);
  initializer.set_raw_data(tensor.bytes.data(), tensor.bytes.size());
  return initializer;
}

} // namespace graceful::compiler
