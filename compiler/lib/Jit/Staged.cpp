// Models whose shapes depend on values they compute run in stages. Each
// stage prepares the model as the import does (inference, folding), finds
// the first node whose output shape is unknown while its inputs' are
// known, and runs the part of the model that computes that node's inputs.
// A node with a host kernel (NonZero, Compress, Unique, NonMaxSuppression)
// is then replaced by its computed outputs; any other (a Reshape, Range or
// Expand fed by data) gets its small inputs as constants, from which
// inference finds its shape. The model, now knowing more, goes to the next
// stage, until it compiles whole.
#include "../Import/OnnxProto.h"
#include "HostKernels.h"
#include "Prepare.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Jit.h"
#include "graceful/support/error.h"

#include <algorithm>
#include <map>
#include <onnx/onnx_pb.h>
#include <optional>
#include <set>

namespace graceful::compiler {

namespace {

// Each stage resolves one node; a model needing more is refused.
constexpr int kMaxStages = 64;
// Inputs of a node without a host kernel become constants up to this size
// (shape operands are small; a large one is data the node reshapes).
constexpr int64_t kMaxConstantElements = 4096;

bool hasStaticShape(const onnx::ValueInfoProto &value) {
  if (!value.type().has_tensor_type() || !value.type().tensor_type().has_shape())
    return false;
  for (const auto &dim : value.type().tensor_type().shape().dim())
    if (!dim.has_dim_value())
      return false;
  return true;
}

// The names of the values whose shapes the prepared graph knows.
std::set<std::string> staticValues(const onnx::GraphProto &graph) {
  std::set<std::string> known;
  for (const auto &tensor : graph.initializer())
    known.insert(tensor.name());
  for (const auto *values : {&graph.input(), &graph.value_info(), &graph.output()})
    for (const auto &value : *values)
      if (hasStaticShape(value))
        known.insert(value.name());
  return known;
}

// The index of the first node whose inputs' shapes are known and the
// shape of an output something reads is not, or nullopt (an output nothing
// reads, such as a GRU's unused one, may stay open: the compiler drops it).
std::optional<int> firstUnresolved(const onnx::GraphProto &graph) {
  std::set<std::string> known = staticValues(graph), read;
  for (const auto &node : graph.node())
    read.insert(node.input().begin(), node.input().end());
  for (const auto &output : graph.output())
    read.insert(output.name());
  for (int index = 0; index < graph.node_size(); ++index) {
    const onnx::NodeProto &node = graph.node(index);
    bool inputsKnown =
        std::all_of(node.input().begin(), node.input().end(),
                    [&](const std::string &name) { return name.empty() || known.count(name); });
    bool outputsKnown =
        std::all_of(node.output().begin(), node.output().end(), [&](const std::string &name) {
          return name.empty() || known.count(name) || !read.count(name);
        });
    if (inputsKnown && !outputsKnown)
      return index;
  }
  return std::nullopt;
}

const onnx::ValueInfoProto *valueInfoOf(const onnx::GraphProto &graph, const std::string &name) {
  for (const auto *values : {&graph.value_info(), &graph.input(), &graph.output()})
    for (const auto &value : *values)
      if (value.name() == name)
        return &value;
  return nullptr;
}

// The prepared model cut down to what computes `wanted` (its outputs now).
llvm::Expected<onnx::ModelProto> prefixComputing(const onnx::ModelProto &prepared,
                                                 const std::vector<std::string> &wanted) {
  onnx::ModelProto prefix = prepared;
  onnx::GraphProto &graph = *prefix.mutable_graph();
  graph.clear_output();
  for (const std::string &name : wanted) {
    const onnx::ValueInfoProto *info = valueInfoOf(prepared.graph(), name);
    if (!info)
      return makeError(ErrorKind::BadInput, "value '" + name + "' has no inferred type");
    *graph.add_output() = *info;
  }
  std::set<std::string> needed(wanted.begin(), wanted.end());
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int i = graph.node_size(); i-- > 0;) {
    const onnx::NodeProto &node = graph.node(i);
    if (std::none_of(node.output().begin(), node.output().end(),
                     [&](const std::string &name) { return needed.count(name); }))
      continue;
    needed.insert(node.input().begin(), node.input().end());
    *kept.Add() = node;
  }
  std::reverse(kept.begin(), kept.end());
  graph.mutable_node()->Swap(&kept);
  return prefix;
}

// The values of `names` for `inputs`: graph inputs as given, initializers
// as they hold, the rest computed by the model's prefix.
llvm::Expected<std::map<std::string, Tensor>> computeValues(const onnx::ModelProto &prepared,
                                                            std::vector<std::string> names,
                                                            const std::vector<Tensor> &inputs,
                                                            const std::string &source) {
  std::map<std::string, Tensor> values;
  auto signature = signatureOf(prepared, source);
  if (!signature)
    return signature.takeError();
  for (size_t i = 0; i < signature->inputs.size() && i < inputs.size(); ++i)
    if (std::erase(names, signature->inputs[i].name))
      values[signature->inputs[i].name] = inputs[i];
  for (const onnx::TensorProto &initializer : prepared.graph().initializer())
    if (std::erase(names, initializer.name())) {
      auto tensor = tensorOfProto(initializer, source);
      if (!tensor)
        return tensor.takeError();
      values[initializer.name()] = std::move(*tensor);
    }
  if (names.empty())
    return values;
  auto prefix = prefixComputing(prepared, names);
  if (!prefix)
    return prefix.takeError();
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor &tensor : inputs)
    shapes.push_back(tensor.shape);
  auto compiled = CompiledModel::compileModel(std::move(*prefix), source, shapes,
                                              CompileOptions::withCacheDirectory(""));
  if (!compiled)
    return compiled.takeError();
  auto outputs = (*compiled)->run(inputs);
  if (!outputs)
    return outputs.takeError();
  for (size_t i = 0; i < names.size(); ++i)
    values[names[i]] = std::move((*outputs)[i]);
  return values;
}

// Replaces node `index` of the prepared graph by Constant nodes of its
// outputs (a graph output gets its shape from them by inference).
llvm::Error replaceByOutputs(onnx::ModelProto &model, int index,
                             const std::map<std::string, Tensor> &values) {
  onnx::GraphProto &graph = *model.mutable_graph();
  onnx::NodeProto node = graph.node(index);
  std::vector<std::optional<Tensor>> inputs;
  for (const std::string &name : node.input())
    inputs.push_back(name.empty() ? std::nullopt : std::optional<Tensor>(values.at(name)));
  auto outputs = evaluateOnHost(node, inputs);
  if (!outputs)
    return outputs.takeError();
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (i != index) {
      *nodes.Add() = graph.node(i);
      continue;
    }
    for (int o = 0; o < node.output_size() && o < static_cast<int>(outputs->size()); ++o) {
      if (node.output(o).empty())
        continue;
      onnx::NodeProto &constant = *nodes.Add();
      constant.set_op_type("Constant");
      constant.set_name(node.name()); // errors about it name the model's node
      constant.add_output(node.output(o));
      onnx::AttributeProto &value = *constant.add_attribute();
      value.set_name("value");
      value.set_type(onnx::AttributeProto::TENSOR);
      *value.mutable_t() = initializerOf("", (*outputs)[static_cast<size_t>(o)]);
    }
  }
  graph.mutable_node()->Swap(&nodes);
  return llvm::Error::success();
}

// Gives node `index` its computed inputs as new constants.
void feedConstants(onnx::ModelProto &model, int index, int stage,
                   const std::map<std::string, Tensor> &values) {
  onnx::GraphProto &graph = *model.mutable_graph();
  onnx::NodeProto &node = *graph.mutable_node(index);
  for (int i = 0; i < node.input_size(); ++i) {
    auto value = values.find(node.input(i));
    if (value == values.end())
      continue;
    std::string name = "graceful.stage" + std::to_string(stage) + "." + std::to_string(i);
    *graph.add_initializer() = initializerOf(name, value->second);
    node.set_input(i, name);
  }
}

// The inputs a stage needs for `node`: all of them for a host kernel, else
// the small ones not constant yet (none: the node cannot be resolved).
std::vector<std::string> inputsToCompute(const onnx::ModelProto &prepared,
                                         const onnx::NodeProto &node) {
  std::set<std::string> constants;
  for (const auto &tensor : prepared.graph().initializer())
    constants.insert(tensor.name());
  std::vector<std::string> names;
  for (const std::string &name : node.input()) {
    if (name.empty() || (constants.count(name) && !hasHostKernel(node)) ||
        std::find(names.begin(), names.end(), name) != names.end())
      continue;
    const onnx::ValueInfoProto *info = valueInfoOf(prepared.graph(), name);
    int64_t count = 1;
    for (const auto &dim :
         info ? info->type().tensor_type().shape().dim()
              : google::protobuf::RepeatedPtrField<onnx::TensorShapeProto_Dimension>())
      count *= dim.dim_value();
    if (hasHostKernel(node) || (info && count <= kMaxConstantElements))
      names.push_back(name);
  }
  return names;
}

// `model` comes prepared, with a node whose shape depends on computed
// values; each stage resolves the first such node and prepares it anew.
llvm::Expected<std::vector<Tensor>> runInStages(onnx::ModelProto model, const std::string &source,
                                                const std::vector<Tensor> &inputs) {
  for (int stage = 0;; ++stage) {
    std::optional<int> unresolved = firstUnresolved(model.graph());
    if (!unresolved) {
      std::vector<std::vector<int64_t>> shapes;
      for (const Tensor &tensor : inputs)
        shapes.push_back(tensor.shape);
      auto compiled = CompiledModel::compileModel(std::move(model), source, shapes,
                                                  CompileOptions::withCacheDirectory(""));
      if (!compiled)
        return compiled.takeError();
      return (*compiled)->run(inputs);
    }
    if (stage == kMaxStages)
      return makeError(ErrorKind::BadInput, source + ": more than " + std::to_string(kMaxStages) +
                                                " nodes whose shapes depend on computed values");
    // A node given its constants that stays unresolved has none left to
    // take, so each stage makes progress or ends here.
    int index = *unresolved;
    const onnx::NodeProto &node = model.graph().node(index);
    std::vector<std::string> names = inputsToCompute(model, node);
    if (names.empty() && !hasHostKernel(node))
      return makeError(ErrorKind::BadInput,
                       source + ": " + labelOf(node) +
                           ": no output shape follows from its inputs' values, computed at run "
                           "time (a value invalid for the op, or an operand the compiler cannot "
                           "take as a constant)");
    auto values = computeValues(model, names, inputs, source);
    if (!values)
      return values.takeError();
    if (hasHostKernel(model.graph().node(index))) {
      if (llvm::Error error = replaceByOutputs(model, index, *values))
        return error;
    } else {
      feedConstants(model, index, stage, *values);
    }
    forgetInferredShapes(*model.mutable_graph());
    if (llvm::Error error = prepareOnnxModel(model, source))
      return error;
  }
}

} // namespace

llvm::Expected<std::vector<Tensor>> runModel(const std::string &onnxPath,
                                             const std::vector<Tensor> &inputs,
                                             const CompileOptions &options) {
  auto loaded = loadModel(onnxPath);
  if (!loaded)
    return loaded.takeError();
  return runModel(*loaded, inputs, options);
}

llvm::Expected<std::vector<Tensor>> runModel(const LoadedModel &loaded,
                                             const std::vector<Tensor> &inputs,
                                             const CompileOptions &options) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor &tensor : inputs)
    shapes.push_back(tensor.shape);
  auto compiled = CompiledModel::compile(loaded, shapes, options);
  if (compiled)
    return (*compiled)->run(inputs);
  // Stages only for a model a node of which has a shape that depends on
  // computed values; any other failure stands.
  const std::string &onnxPath = loaded.path;
  const ModelSignature &signature = loaded.signature;
  onnx::ModelProto model = *loaded.proto;
  auto succeeded = [](llvm::Error error) {
    bool ok = !error;
    llvm::consumeError(std::move(error));
    return ok;
  };
  if (!succeeded(specialize(model, signature.inputs, shapes, onnxPath)) ||
      !succeeded(fixInputs(model, options.fixedInputs, onnxPath)))
    return compiled.takeError();
  if (!succeeded(prepareOnnxModel(model, onnxPath)) || !firstUnresolved(model.graph()))
    return compiled.takeError();
  llvm::consumeError(compiled.takeError());
  std::vector<Tensor> runInputs;
  for (size_t i = 0; i < inputs.size() && i < signature.inputs.size(); ++i)
    if (!options.fixedInputs.count(signature.inputs[i].name))
      runInputs.push_back(inputs[i]);
  return runInStages(std::move(model), onnxPath, runInputs);
}

} // namespace graceful::compiler
