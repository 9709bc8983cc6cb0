#include "graceful/compiler/OnnxDialect.h"

#include "../Import/OnnxProto.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace graceful::compiler::ir;

#include "graceful/compiler/OnnxOpsDialect.cpp.inc"

void OnnxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "graceful/compiler/OnnxOps.cpp.inc"
      >();
}

std::string NodeOp::nodeName() {
  Location location = getLoc();
  if (auto fused = dyn_cast<FusedLoc>(location); fused && !fused.getLocations().empty())
    location = fused.getLocations().front();
  if (auto named = dyn_cast<NameLoc>(location))
    return named.getName().str();
  return "";
}

std::string NodeOp::label() { return graceful::compiler::nodeLabel(nodeName(), getOpType()); }

int64_t NodeOp::intAttr(llvm::StringRef name, int64_t fallback) {
  if (auto value = dyn_cast_or_null<IntegerAttr>(attr(name)))
    return value.getInt();
  return fallback;
}

float NodeOp::floatAttr(llvm::StringRef name, float fallback) {
  if (auto value = dyn_cast_or_null<FloatAttr>(attr(name)))
    return static_cast<float>(value.getValueAsDouble());
  return fallback;
}

llvm::SmallVector<int64_t> NodeOp::intsAttr(llvm::StringRef name) {
  if (auto value = dyn_cast_or_null<DenseI64ArrayAttr>(attr(name)))
    return llvm::SmallVector<int64_t>(value.asArrayRef());
  return {};
}

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *, std::optional<Location>, Adaptor adaptor,
                                           SmallVectorImpl<Type> &inferredReturnTypes) {
  inferredReturnTypes.push_back(adaptor.getValue().getShapedType());
  return success();
}

#define GET_OP_CLASSES
#include "graceful/compiler/OnnxOps.cpp.inc"
