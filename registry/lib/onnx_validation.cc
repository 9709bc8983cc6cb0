#include "graceful/registry/onnx_validation.h"

#include "graceful/support/error.h"

#include <fstream>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

namespace graceful::registry {
namespace {

const onnx::TensorProto *firstExternalTensor(const onnx::GraphProto &graph);

const onnx::TensorProto *firstExternalTensor(const onnx::AttributeProto &attribute) {
  if (attribute.has_t() && attribute.t().data_location() == onnx::TensorProto::EXTERNAL)
    return &attribute.t();
  for (const onnx::TensorProto &tensor : attribute.tensors())
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
      return &tensor;
  if (attribute.has_g())
    if (const onnx::TensorProto *found = firstExternalTensor(attribute.g()))
      return found;
  for (const onnx::GraphProto &graph : attribute.graphs())
    if (const onnx::TensorProto *found = firstExternalTensor(graph))
      return found;
  return nullptr;
}

// Initializers, sparse initializers' values, Constant nodes' tensors and
// the same inside subgraphs (If, Loop, Scan bodies).
const onnx::TensorProto *firstExternalTensor(const onnx::GraphProto &graph) {
  for (const onnx::TensorProto &tensor : graph.initializer())
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
      return &tensor;
  for (const onnx::SparseTensorProto &sparse : graph.sparse_initializer())
    for (const onnx::TensorProto *part : {&sparse.values(), &sparse.indices()})
      if (part->data_location() == onnx::TensorProto::EXTERNAL)
        return part;
  for (const onnx::NodeProto &node : graph.node())
    for (const onnx::AttributeProto &attribute : node.attribute())
      if (const onnx::TensorProto *found = firstExternalTensor(attribute))
        return found;
  return nullptr;
}

std::string externalLocation(const onnx::TensorProto &tensor) {
  for (const onnx::StringStringEntryProto &entry : tensor.external_data())
    if (entry.key() == "location")
      return foldLines(entry.value());
  return "";
}

} // namespace

llvm::Error validateOnnxFile(const std::string &path, const std::string &shownAs) {
  const std::string &shown = shownAs.empty() ? path : shownAs;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorKind::NotFound, shown + ": cannot open ONNX file");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in))
    return makeError(ErrorKind::BadInput,
                     shown + ": not an ONNX model (the protobuf does not parse; truncated or "
                             "another format?)");
  if (!model.has_graph() || model.ir_version() == 0)
    return makeError(ErrorKind::BadInput, shown + ": not an ONNX model (no graph or IR version)");
  // A version's artifact is one file: weights kept beside it would not be
  // stored, digested or reproducible (and checking them would open paths
  // the model chooses). Refused before the checker, which stats them.
  if (const onnx::TensorProto *tensor = firstExternalTensor(model.graph()))
    return makeError(ErrorKind::BadInput,
                     shown + ": tensor '" + foldLines(tensor->name()) +
                         "' keeps its data in an external file ('" + externalLocation(*tensor) +
                         "'); the registry stores self-contained models only: inline the data "
                         "(onnx.save(onnx.load(path), path), for models under 2 GiB)");
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    return makeError(ErrorKind::BadInput, shown + ": ONNX checker: " + foldLines(e.what()));
  }
  return llvm::Error::success();
}

} // namespace graceful::registry
