// ONNX ModelProto -> func.func @main of onnx.node / onnx.constant ops.
#include "graceful/compiler/Importer.h"

#include "CeilModePooling.h"
#include "FoldShapes.h"
#include "OnnxProto.h"
#include "graceful/compiler/OnnxDialect.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"

#include <google/protobuf/text_format.h>
#include <map>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
#include <set>

namespace graceful::compiler {

using namespace mlir;

namespace {

// Initializers with more elements than this become dense resource blobs
// (stored once, printed as one hex blob); smaller ones stay dense attributes
// that are easy to read and to fold.
constexpr int64_t kInlineElementLimit = 16;

constexpr llvm::StringLiteral kDefaultDomainKey = "ai.onnx";

llvm::Error importError(const std::string &where, const std::string &what) {
  return makeError(ErrorKind::BadInput, where + ": " + what);
}

int64_t defaultOpset(const onnx::ModelProto &model) {
  for (const auto &opset : model.opset_import())
    if (opset.domain().empty() || opset.domain() == kDefaultDomainKey)
      return opset.version();
  return 0;
}

// Resource keys must be identifiers; ONNX names ("0.weight", "conv/w:0")
// often are not. The constant op keeps the real name.
std::string resourceKey(const std::string &name) {
  std::string key = "w_";
  for (char c : name)
    key.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return key;
}

class ModelImporter {
public:
  ModelImporter(MLIRContext &context, std::string source)
      : context_(context), builder_(&context), source_(std::move(source)) {}

  llvm::Expected<OwningOpRef<ModuleOp>> run(const onnx::ModelProto &model);

private:
  llvm::Expected<Type> tensorType(const onnx::TypeProto &type, const std::string &where);
  llvm::Expected<ElementsAttr> tensorValue(const onnx::TensorProto &tensor,
                                           const std::string &where);
  llvm::Expected<Attribute> attribute(const onnx::AttributeProto &attribute,
                                      const std::string &where);
  llvm::Error importNode(const onnx::NodeProto &node, int index);
  llvm::Error importGraph(const onnx::GraphProto &graph, ModuleOp module);
  void setModelAttributes(const onnx::ModelProto &model, ModuleOp module);
  Value noneValue();
  std::string nodeWhere(const onnx::NodeProto &node, int index) const;
  Location nodeLocation(const onnx::NodeProto &node, int index);

  MLIRContext &context_;
  OpBuilder builder_;
  std::string source_;
  llvm::StringMap<Value> values_;
  std::map<std::string, const onnx::TypeProto *> declaredTypes_;
  Value none_;
};

std::string ModelImporter::nodeWhere(const onnx::NodeProto &node, int index) const {
  std::string name = node.name().empty() ? "#" + std::to_string(index) : "'" + node.name() + "'";
  return source_ + ": node " + name + " (" + node.op_type() + ")";
}

Location ModelImporter::nodeLocation(const onnx::NodeProto &node, int index) {
  Location file = FileLineColLoc::get(&context_, source_, static_cast<unsigned>(index + 1), 0);
  if (node.name().empty())
    return file;
  return NameLoc::get(StringAttr::get(&context_, node.name()), file);
}

Value ModelImporter::noneValue() {
  if (!none_)
    none_ = builder_.create<ir::NoneOp>(builder_.getUnknownLoc(), builder_.getNoneType());
  return none_;
}

llvm::Expected<Type> ModelImporter::tensorType(const onnx::TypeProto &type,
                                               const std::string &where) {
  if (!type.has_tensor_type())
    return importError(where, "only tensor values are supported (not sequences, maps or "
                              "optionals)");
  const auto &tensor = type.tensor_type();
  std::optional<Type> element = mlirElementType(tensor.elem_type(), context_);
  if (!element)
    return importError(where, "element type " + onnxElementTypeName(tensor.elem_type()) +
                                  " is not supported");
  if (!tensor.has_shape())
    return UnrankedTensorType::get(*element);
  SmallVector<int64_t> shape;
  for (const auto &dim : tensor.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() < 0)
      return importError(where, "dimension " + std::to_string(dim.dim_value()) + " is negative");
    shape.push_back(dim.has_dim_value() ? dim.dim_value() : ShapedType::kDynamic);
  }
  return RankedTensorType::get(shape, *element);
}

llvm::Expected<ElementsAttr> ModelImporter::tensorValue(const onnx::TensorProto &tensor,
                                                        const std::string &where) {
  std::optional<Type> element = mlirElementType(tensor.data_type(), context_);
  if (!element)
    return importError(where, "tensor '" + tensor.name() + "' has element type " +
                                  onnxElementTypeName(tensor.data_type()) +
                                  ", which is not supported");
  // Dims are checked before MLIR sees them: its types assume element
  // counts that fit int64.
  auto width = static_cast<size_t>(elementByteWidth(*element));
  auto count = elementCountOf(tensor, width, where);
  if (!count)
    return count.takeError();
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  auto type = RankedTensorType::get(shape, *element);
  auto data = tensorProtoBytes(tensor, *count, width, where);
  if (!data)
    return data.takeError();
  if (element->isInteger(1)) {
    SmallVector<bool> bits;
    for (char byte : *data)
      bits.push_back(byte != 0);
    return cast<ElementsAttr>(DenseElementsAttr::get(type, ArrayRef<bool>(bits)));
  }
  if (type.getNumElements() <= kInlineElementLimit)
    return cast<ElementsAttr>(
        DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(data->data(), data->size())));
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(data->data(), data->size()), alignof(std::max_align_t));
  std::string blobName = resourceKey(tensor.name());
  return cast<ElementsAttr>(DenseResourceElementsAttr::get(type, blobName, std::move(blob)));
}

llvm::Expected<Attribute> ModelImporter::attribute(const onnx::AttributeProto &attribute,
                                                   const std::string &where) {
  std::string what = where + " attribute '" + attribute.name() + "'";
  if (!attribute.ref_attr_name().empty())
    return importError(what, "references a function attribute, which is not supported");
  switch (attribute.type()) {
  case onnx::AttributeProto::FLOAT:
    return builder_.getF32FloatAttr(attribute.f());
  case onnx::AttributeProto::INT:
    return builder_.getI64IntegerAttr(attribute.i());
  case onnx::AttributeProto::STRING:
    return builder_.getStringAttr(attribute.s());
  case onnx::AttributeProto::FLOATS:
    return builder_.getDenseF32ArrayAttr(
        SmallVector<float>(attribute.floats().begin(), attribute.floats().end()));
  case onnx::AttributeProto::INTS:
    return builder_.getDenseI64ArrayAttr(
        SmallVector<int64_t>(attribute.ints().begin(), attribute.ints().end()));
  case onnx::AttributeProto::STRINGS: {
    SmallVector<Attribute> strings;
    for (const std::string &s : attribute.strings())
      strings.push_back(builder_.getStringAttr(s));
    return builder_.getArrayAttr(strings);
  }
  case onnx::AttributeProto::TENSOR: {
    auto value = tensorValue(attribute.t(), what);
    if (!value)
      return value.takeError();
    return Attribute(*value);
  }
  case onnx::AttributeProto::GRAPH:
  case onnx::AttributeProto::GRAPHS:
    return importError(what, "is a subgraph; control flow (If, Loop, Scan) is not supported");
  default:
    return importError(what, "has type " +
                                 onnx::AttributeProto::AttributeType_Name(attribute.type()) +
                                 ", which is not supported");
  }
}

llvm::Error ModelImporter::importNode(const onnx::NodeProto &node, int index) {
  std::string where = nodeWhere(node, index);
  SmallVector<Value> inputs;
  for (const std::string &name : node.input()) {
    if (name.empty()) {
      inputs.push_back(noneValue());
      continue;
    }
    auto it = values_.find(name);
    if (it == values_.end())
      return importError(where, "input '" + name + "' is not produced before this node");
    inputs.push_back(it->second);
  }
  SmallVector<Type> resultTypes;
  SmallVector<Attribute> names;
  for (const std::string &name : node.output()) {
    names.push_back(builder_.getStringAttr(name));
    if (name.empty()) {
      resultTypes.push_back(builder_.getNoneType());
      continue;
    }
    auto declared = declaredTypes_.find(name);
    if (declared == declaredTypes_.end())
      return importError(where, "ONNX shape inference found no type for output '" + name + "'");
    auto type = tensorType(*declared->second, where + " output '" + name + "'");
    if (!type)
      return type.takeError();
    resultTypes.push_back(*type);
  }
  SmallVector<NamedAttribute> attributes;
  for (const onnx::AttributeProto &proto : node.attribute()) {
    auto value = attribute(proto, where);
    if (!value)
      return value.takeError();
    attributes.push_back(builder_.getNamedAttr(proto.name(), *value));
  }
  auto op = builder_.create<ir::NodeOp>(
      nodeLocation(node, index), resultTypes, inputs, builder_.getStringAttr(node.op_type()),
      builder_.getStringAttr(node.domain()), builder_.getDictionaryAttr(attributes),
      builder_.getArrayAttr(names));
  for (auto [name, result] : llvm::zip(node.output(), op.getResults()))
    if (!name.empty())
      values_[name] = result;
  return llvm::Error::success();
}

void ModelImporter::setModelAttributes(const onnx::ModelProto &model, ModuleOp module) {
  SmallVector<NamedAttribute> opsets;
  for (const auto &opset : model.opset_import())
    opsets.push_back(builder_.getNamedAttr(opset.domain().empty() ? StringRef(kDefaultDomainKey)
                                                                  : StringRef(opset.domain()),
                                           builder_.getI64IntegerAttr(opset.version())));
  module->setAttr("onnx.opset_import", builder_.getDictionaryAttr(opsets));
  module->setAttr("onnx.ir_version", builder_.getI64IntegerAttr(model.ir_version()));
  auto setString = [&](StringRef key, const std::string &value) {
    if (!value.empty())
      module->setAttr(key, builder_.getStringAttr(value));
  };
  setString("onnx.producer_name", model.producer_name());
  setString("onnx.producer_version", model.producer_version());
  setString("onnx.domain", model.domain());
  setString("onnx.doc_string", model.doc_string());
  setString("onnx.graph_name", model.graph().name());
  if (model.model_version() != 0)
    module->setAttr("onnx.model_version", builder_.getI64IntegerAttr(model.model_version()));
}

// Symbolic dimension names of a graph input or output ("" where static).
ArrayAttr dimParams(Builder &builder, const onnx::TypeProto &type) {
  SmallVector<Attribute> names;
  bool any = false;
  if (type.has_tensor_type() && type.tensor_type().has_shape())
    for (const auto &dim : type.tensor_type().shape().dim()) {
      names.push_back(builder.getStringAttr(dim.dim_param()));
      any = any || !dim.dim_param().empty();
    }
  return any ? builder.getArrayAttr(names) : ArrayAttr();
}

llvm::Error ModelImporter::importGraph(const onnx::GraphProto &graph, ModuleOp module) {
  for (const auto &value : graph.input())
    declaredTypes_[value.name()] = &value.type();
  for (const auto &value : graph.value_info())
    declaredTypes_[value.name()] = &value.type();
  for (const auto &value : graph.output())
    declaredTypes_[value.name()] = &value.type();

  std::set<std::string> initializers;
  for (const auto &tensor : graph.initializer())
    initializers.insert(tensor.name());
  SmallVector<const onnx::ValueInfoProto *> inputs;
  for (const auto &value : graph.input())
    if (!initializers.contains(value.name()))
      inputs.push_back(&value);

  SmallVector<Type> inputTypes, outputTypes;
  for (const auto *value : inputs) {
    auto type = tensorType(value->type(), source_ + ": graph input '" + value->name() + "'");
    if (!type)
      return type.takeError();
    inputTypes.push_back(*type);
  }
  for (const auto &value : graph.output()) {
    auto type = tensorType(value.type(), source_ + ": graph output '" + value.name() + "'");
    if (!type)
      return type.takeError();
    outputTypes.push_back(*type);
  }
  builder_.setInsertionPointToEnd(module.getBody());
  auto function =
      builder_.create<func::FuncOp>(FileLineColLoc::get(&context_, source_, 0, 0), "main",
                                    builder_.getFunctionType(inputTypes, outputTypes));
  auto argumentAttributes = [&](const onnx::ValueInfoProto &value) {
    SmallVector<NamedAttribute> attributes{
        builder_.getNamedAttr("onnx.name", builder_.getStringAttr(value.name()))};
    if (ArrayAttr dims = dimParams(builder_, value.type()))
      attributes.push_back(builder_.getNamedAttr("onnx.dim_params", dims));
    return builder_.getDictionaryAttr(attributes);
  };
  for (auto [index, value] : llvm::enumerate(inputs))
    function.setArgAttrs(index, argumentAttributes(*value));
  for (auto [index, value] : llvm::enumerate(graph.output()))
    function.setResultAttrs(index, argumentAttributes(value));

  Block *body = function.addEntryBlock();
  builder_.setInsertionPointToStart(body);
  for (auto [index, value] : llvm::enumerate(inputs))
    values_[value->name()] = body->getArgument(index);
  for (const auto &tensor : graph.initializer()) {
    auto value = tensorValue(tensor, source_ + ": initializer '" + tensor.name() + "'");
    if (!value)
      return value.takeError();
    auto constant =
        builder_.create<ir::ConstantOp>(NameLoc::get(builder_.getStringAttr(tensor.name())),
                                        builder_.getStringAttr(tensor.name()), *value);
    values_[tensor.name()] = constant;
  }
  for (auto [index, node] : llvm::enumerate(graph.node()))
    if (llvm::Error error = importNode(node, static_cast<int>(index)))
      return error;
  SmallVector<Value> results;
  for (const auto &value : graph.output()) {
    auto it = values_.find(value.name());
    if (it == values_.end())
      return importError(source_, "graph output '" + value.name() + "' is never produced");
    results.push_back(it->second);
  }
  builder_.create<func::ReturnOp>(function.getLoc(), results);
  return llvm::Error::success();
}

llvm::Expected<OwningOpRef<ModuleOp>> ModelImporter::run(const onnx::ModelProto &model) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(FileLineColLoc::get(&context_, source_, 0, 0));
  setModelAttributes(model, *module);
  if (llvm::Error error = importGraph(model.graph(), *module))
    return error;
  if (failed(verify(*module)))
    return importError(source_, "the imported module does not verify");
  return module;
}

// Attribute values ONNX's checker accepts but its shape inference divides
// by or allocates from: a zero stride raised SIGFPE in Conv's inference
// (found by fuzz/onnx_import_fuzzer).
llvm::Error checkAttributeRanges(const onnx::NodeProto &node, const std::string &where) {
  static const std::map<std::string, int64_t> kMinimum = {
      {"strides", 1}, {"dilations", 1}, {"kernel_shape", 1}, {"group", 1}, {"pads", 0}};
  for (const onnx::AttributeProto &attribute : node.attribute()) {
    auto minimum = kMinimum.find(attribute.name());
    // Pad's own pads may be negative: they crop.
    if (minimum == kMinimum.end() || (attribute.name() == "pads" && node.op_type() == "Pad"))
      continue;
    bool below = attribute.i() < minimum->second && attribute.type() == onnx::AttributeProto::INT;
    for (int64_t value : attribute.ints())
      below = below || value < minimum->second;
    if (below)
      return importError(where, "attribute '" + attribute.name() + "' has a value below " +
                                    std::to_string(minimum->second));
  }
  return llvm::Error::success();
}

// What ONNX's checker leaves unchecked and its shape inference or version
// converter then crashes on: attribute ranges (above), and values read
// before they are defined or never defined (the converter dereferences a
// null node for an output nothing produces; fuzz/onnx_import_fuzzer).
// Subgraphs also see their enclosing scopes.
llvm::Error checkGraphBeforeInference(const onnx::GraphProto &graph, const std::string &source,
                                      std::set<std::string> defined) {
  auto define = [&](const std::string &name, const std::string &what) -> llvm::Error {
    if (!name.empty() && !defined.insert(name).second)
      return importError(source, what + " defines '" + name + "', which is already defined");
    return llvm::Error::success();
  };
  // Models before IR 4 list their initializers among the inputs too.
  std::set<std::string> initializers;
  for (const onnx::TensorProto &initializer : graph.initializer())
    initializers.insert(initializer.name());
  for (const onnx::ValueInfoProto &input : graph.input())
    if (!initializers.count(input.name()))
      if (llvm::Error error = define(input.name(), "graph input"))
        return error;
  for (const onnx::TensorProto &initializer : graph.initializer())
    if (llvm::Error error = define(initializer.name(), "initializer"))
      return error;
  for (const onnx::NodeProto &node : graph.node()) {
    std::string where = labelOf(node);
    if (llvm::Error error = checkAttributeRanges(node, source + ": " + where))
      return error;
    for (const std::string &input : node.input())
      if (!input.empty() && !defined.count(input))
        return importError(source,
                           where + " reads '" + input + "', which nothing defines before it");
    for (const onnx::AttributeProto &attribute : node.attribute()) {
      if (attribute.has_g())
        if (llvm::Error error = checkGraphBeforeInference(attribute.g(), source, defined))
          return error;
      for (const onnx::GraphProto &subgraph : attribute.graphs())
        if (llvm::Error error = checkGraphBeforeInference(subgraph, source, defined))
          return error;
    }
    for (const std::string &output : node.output())
      if (llvm::Error error = define(output, where))
        return error;
  }
  for (const onnx::ValueInfoProto &output : graph.output())
    if (!defined.count(output.name()))
      return importError(source, "graph output '" + output.name() + "' is produced by no node");
  return llvm::Error::success();
}

} // namespace

void registerCompilerDialects(DialectRegistry &registry) {
  registry.insert<ir::OnnxDialect, func::FuncDialect>();
}

void forgetInferredShapes(onnx::GraphProto &graph) {
  graph.clear_value_info();
  for (auto &output : *graph.mutable_output())
    if (output.type().tensor_type().has_shape())
      for (auto &dim :
           *output.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
        dim.Clear();
}

llvm::Error readOnnxModel(const std::string &path, onnx::ModelProto &model) {
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  return parseOnnxModel(*bytes, path, model);
}

llvm::Error parseOnnxModel(const std::string &bytes, const std::string &path,
                           onnx::ModelProto &model) {
  bool parsed = StringRef(path).ends_with(".onnxtxt")
                    ? google::protobuf::TextFormat::ParseFromString(bytes, &model)
                    : model.ParseFromString(bytes);
  if (!parsed || !model.has_graph())
    return importError(path, "not an ONNX model (the protobuf does not parse; truncated or "
                             "another format?)");
  return llvm::Error::success();
}

llvm::Error prepareOnnxModel(onnx::ModelProto &model, const std::string &sourceName,
                             ImportOptions options) {
  correctStftInference();
  // ONNX reports problems by throwing; they stop here.
  try {
    ::onnx::checker::check_model(model);
    if (llvm::Error error = checkGraphBeforeInference(model.graph(), sourceName, {}))
      return error;
    int64_t opset = defaultOpset(model);
    if (opset == 0)
      return importError(sourceName,
                         "models without the default ONNX domain (opset import) are not supported");
    ::onnx::ShapeInferenceOptions inference{/*check_type=*/false, /*error_mode=*/0,
                                            /*enable_data_propagation=*/true};
    // The version converter's adapters read shapes: infer them first.
    if (opset < options.minimumOpset) {
      ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), inference);
      model = ::onnx::version_conversion::ConvertVersion(model, options.minimumOpset);
    }
    ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), inference);
    // Shapes computed from shapes (Shape -> Gather -> Concat -> Reshape) are
    // constants once the input shapes are.
    // Each round infers afresh: shapes inferred before a fold keep their
    // unknown dims otherwise (Swin's attention mask, an Add of two folded
    // Ranges, stayed ?x?).
    foldShapeComputations(model, [&] {
      forgetInferredShapes(*model.mutable_graph());
      ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), inference);
    });
    // A changed pool changes the shapes after it, which may make another
    // pool's last window start in its padding; each round fixes a pool for
    // good (its ceil_mode is off), so this ends.
    while (true) {
      auto poolsChanged = dropCeilModeWindowsInPadding(model, sourceName);
      if (!poolsChanged)
        return poolsChanged.takeError();
      if (!*poolsChanged)
        break;
      forgetInferredShapes(*model.mutable_graph());
      ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), inference);
    }
  } catch (const std::exception &e) {
    return importError(sourceName, foldLines(e.what()));
  }
  return llvm::Error::success();
}

llvm::Expected<OwningOpRef<ModuleOp>> importOnnxModel(onnx::ModelProto model,
                                                      const std::string &sourceName,
                                                      MLIRContext &context, ImportOptions options) {
  context.loadDialect<ir::OnnxDialect, func::FuncDialect>();
  if (llvm::Error error = prepareOnnxModel(model, sourceName, options))
    return error;
  ModelImporter importer(context, sourceName);
  return importer.run(model);
}

llvm::Expected<OwningOpRef<ModuleOp>> importOnnxFile(const std::string &path, MLIRContext &context,
                                                     ImportOptions options) {
  onnx::ModelProto model;
  if (llvm::Error error = readOnnxModel(path, model))
    return error;
  return importOnnxModel(std::move(model), path, context, options);
}

} // namespace graceful::compiler
