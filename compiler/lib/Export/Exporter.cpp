// func.func @main of onnx.node / onnx.constant ops -> ONNX ModelProto.
#include "graceful/compiler/Exporter.h"

#include "graceful/compiler/OnnxDialect.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <set>

namespace graceful::compiler {

using namespace mlir;

namespace {

std::string describeOp(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << op->getLoc();
  if (auto node = dyn_cast<ir::NodeOp>(op))
    os << " (" << node.getOpType() << ")";
  return text;
}

llvm::Error exportError(Operation *op, const std::string &what) {
  return makeError(ErrorKind::BadInput, "export: " + describeOp(op) + ": " + what);
}

llvm::Error fillTensor(ElementsAttr value, onnx::TensorProto &tensor, Operation *op) {
  ShapedType type = value.getShapedType();
  int32_t elementType = onnxElementType(type.getElementType());
  if (elementType == onnx::TensorProto::UNDEFINED)
    return exportError(op, "element type has no ONNX counterpart");
  tensor.set_data_type(elementType);
  for (int64_t dim : type.getShape())
    tensor.add_dims(dim);
  std::optional<std::string> bytes = rawElementBytes(value);
  if (!bytes)
    return exportError(op, "constant data is not available (a resource without its blob?)");
  tensor.set_raw_data(std::move(*bytes));
  return llvm::Error::success();
}

llvm::Error fillType(Type type, ArrayAttr dimParams, onnx::TypeProto &proto, Operation *op) {
  auto shaped = dyn_cast<TensorType>(type);
  if (!shaped)
    return exportError(op, "graph inputs and outputs must be tensors");
  auto *tensor = proto.mutable_tensor_type();
  tensor->set_elem_type(onnxElementType(shaped.getElementType()));
  if (!shaped.hasRank())
    return llvm::Error::success();
  auto *shape = tensor->mutable_shape();
  for (auto [index, dim] : llvm::enumerate(shaped.getShape())) {
    auto *protoDim = shape->add_dim();
    std::string param;
    if (dimParams && index < dimParams.size())
      param = cast<StringAttr>(dimParams[index]).str();
    if (!param.empty())
      protoDim->set_dim_param(param);
    else if (!ShapedType::isDynamic(dim))
      protoDim->set_dim_value(dim);
  }
  return llvm::Error::success();
}

llvm::Error fillAttribute(StringRef name, Attribute value, onnx::AttributeProto &proto,
                          Operation *op) {
  proto.set_name(name.str());
  if (auto integer = dyn_cast<IntegerAttr>(value)) {
    proto.set_type(onnx::AttributeProto::INT);
    proto.set_i(integer.getInt());
  } else if (auto real = dyn_cast<FloatAttr>(value)) {
    proto.set_type(onnx::AttributeProto::FLOAT);
    proto.set_f(static_cast<float>(real.getValueAsDouble()));
  } else if (auto text = dyn_cast<StringAttr>(value)) {
    proto.set_type(onnx::AttributeProto::STRING);
    proto.set_s(text.str());
  } else if (auto ints = dyn_cast<DenseI64ArrayAttr>(value)) {
    proto.set_type(onnx::AttributeProto::INTS);
    for (int64_t v : ints.asArrayRef())
      proto.add_ints(v);
  } else if (auto floats = dyn_cast<DenseF32ArrayAttr>(value)) {
    proto.set_type(onnx::AttributeProto::FLOATS);
    for (float v : floats.asArrayRef())
      proto.add_floats(v);
  } else if (auto strings = dyn_cast<ArrayAttr>(value)) {
    proto.set_type(onnx::AttributeProto::STRINGS);
    for (Attribute s : strings) {
      auto string = dyn_cast<StringAttr>(s);
      if (!string)
        return exportError(op, "attribute '" + name.str() + "' mixes strings and other values");
      proto.add_strings(string.str());
    }
  } else if (auto tensor = dyn_cast<ElementsAttr>(value)) {
    proto.set_type(onnx::AttributeProto::TENSOR);
    return fillTensor(tensor, *proto.mutable_t(), op);
  } else {
    return exportError(op, "attribute '" + name.str() + "' has no ONNX counterpart");
  }
  return llvm::Error::success();
}

// Names every value once: graph inputs and initializers keep theirs, node
// outputs keep the names they were imported with, new values get fresh ones.
class ValueNames {
public:
  std::string nameOf(Value value) const {
    auto it = names_.find(value);
    return it == names_.end() ? "" : it->second;
  }
  std::string assign(Value value, std::string preferred) {
    if (preferred.empty() || used_.contains(preferred))
      preferred = fresh(preferred.empty() ? "v" : preferred);
    used_.insert(preferred);
    names_[value] = preferred;
    return preferred;
  }

private:
  std::string fresh(const std::string &stem) {
    std::string name;
    do
      name = stem + "_" + std::to_string(counter_++);
    while (used_.contains(name));
    return name;
  }
  llvm::DenseMap<Value, std::string> names_;
  std::set<std::string> used_;
  int counter_ = 0;
};

void fillModelAttributes(ModuleOp module, onnx::ModelProto &model) {
  auto string = [&](StringRef key) {
    auto value = module->getAttrOfType<StringAttr>(key);
    return value ? value.str() : std::string();
  };
  auto integer = [&](StringRef key, int64_t fallback) {
    auto value = module->getAttrOfType<IntegerAttr>(key);
    return value ? value.getInt() : fallback;
  };
  // Imports are upgraded to opset 13 or newer, which needs IR version 7;
  // older IR versions would also want every initializer listed as an input.
  constexpr int64_t kOpset13IrVersion = 7;
  model.set_ir_version(std::max<int64_t>(integer("onnx.ir_version", onnx::IR_VERSION),
                                         kOpset13IrVersion));
  model.set_producer_name(string("onnx.producer_name"));
  model.set_producer_version(string("onnx.producer_version"));
  model.set_domain(string("onnx.domain"));
  model.set_doc_string(string("onnx.doc_string"));
  model.set_model_version(integer("onnx.model_version", 0));
  model.mutable_graph()->set_name(string("onnx.graph_name"));
  if (auto opsets = module->getAttrOfType<DictionaryAttr>("onnx.opset_import"))
    for (NamedAttribute opset : opsets) {
      auto *entry = model.add_opset_import();
      entry->set_domain(opset.getName() == "ai.onnx" ? "" : opset.getName().str());
      entry->set_version(cast<IntegerAttr>(opset.getValue()).getInt());
    }
}

} // namespace

llvm::Error exportOnnxModel(ModuleOp module, onnx::ModelProto &model) {
  auto function = module.lookupSymbol<func::FuncOp>("main");
  if (!function)
    return makeError(ErrorKind::BadInput, "export: the module has no func.func @main");
  fillModelAttributes(module, model);
  onnx::GraphProto &graph = *model.mutable_graph();
  ValueNames names;
  std::set<std::string> nodeNames;
  auto attributeName = [](DictionaryAttr attributes) {
    auto name = attributes ? attributes.getAs<StringAttr>("onnx.name") : StringAttr();
    return name ? name.str() : std::string();
  };
  for (BlockArgument argument : function.getArguments()) {
    DictionaryAttr attributes = function.getArgAttrDict(argument.getArgNumber());
    auto *input = graph.add_input();
    input->set_name(names.assign(argument, attributeName(attributes)));
    ArrayAttr dims = attributes ? attributes.getAs<ArrayAttr>("onnx.dim_params") : ArrayAttr();
    if (llvm::Error error = fillType(argument.getType(), dims, *input->mutable_type(), function))
      return error;
  }
  for (Operation &op : function.getBody().front()) {
    if (auto constant = dyn_cast<ir::ConstantOp>(op)) {
      auto *tensor = graph.add_initializer();
      tensor->set_name(names.assign(constant, constant.getName().str()));
      if (llvm::Error error = fillTensor(constant.getValue(), *tensor, &op))
        return error;
    } else if (auto node = dyn_cast<ir::NodeOp>(op)) {
      auto *proto = graph.add_node();
      // Decompositions give every node they emit the location of the node
      // they replace; ONNX wants node names unique.
      if (std::string name = node.nodeName(); !name.empty()) {
        std::string unique = name;
        for (int suffix = 1; !nodeNames.insert(unique).second; ++suffix)
          unique = name + "_" + std::to_string(suffix);
        proto->set_name(unique);
      }
      proto->set_op_type(node.getOpType().str());
      if (!node.getDomain().empty())
        proto->set_domain(node.getDomain().str());
      for (Value input : node.getInputs())
        proto->add_input(isa<NoneType>(input.getType()) ? "" : names.nameOf(input));
      ArrayAttr outputNames = node.getNamesAttr();
      for (auto [index, result] : llvm::enumerate(node.getResults())) {
        std::string preferred;
        if (outputNames && index < outputNames.size())
          preferred = cast<StringAttr>(outputNames[index]).str();
        bool omitted = isa<NoneType>(result.getType()) && preferred.empty();
        proto->add_output(omitted ? "" : names.assign(result, preferred));
      }
      for (NamedAttribute attribute : node.getOnnxAttrs())
        if (llvm::Error error = fillAttribute(attribute.getName(), attribute.getValue(),
                                              *proto->add_attribute(), &op))
          return error;
    } else if (auto returned = dyn_cast<func::ReturnOp>(op)) {
      for (auto [index, value] : llvm::enumerate(returned.getOperands())) {
        DictionaryAttr attributes = function.getResultAttrDict(index);
        std::string wanted = attributeName(attributes);
        std::string have = names.nameOf(value);
        // A rewrite may return a value under another name: bridge it.
        if (!wanted.empty() && wanted != have) {
          auto *identity = graph.add_node();
          identity->set_op_type("Identity");
          identity->add_input(have);
          identity->add_output(wanted);
          have = wanted;
        }
        auto *output = graph.add_output();
        output->set_name(have);
        ArrayAttr dims = attributes ? attributes.getAs<ArrayAttr>("onnx.dim_params") : ArrayAttr();
        if (llvm::Error error = fillType(value.getType(), dims, *output->mutable_type(), &op))
          return error;
      }
    } else if (!isa<ir::NoneOp>(op)) {
      return exportError(&op,
                         "op '" + op.getName().getStringRef().str() + "' is not at the ONNX level");
    }
  }
  return llvm::Error::success();
}

llvm::Error exportOnnxFile(ModuleOp module, const std::string &path) {
  onnx::ModelProto model;
  if (llvm::Error error = exportOnnxModel(module, model))
    return error;
  // Nothing is written that the ONNX checker would refuse.
  try {
    ::onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    return makeError(ErrorKind::BadInput,
                     path + ": the exported model fails the ONNX checker: " + foldLines(e.what()));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    return makeError(ErrorKind::BadInput, path + ": cannot serialise the model");
  return writeFileAtomically(path, bytes);
}

} // namespace graceful::compiler
