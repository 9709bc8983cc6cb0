#include "graceful/compiler/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULFLATTENGLOBALS
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// `value` with the same elements in `type`'s shape, for the attributes a
// global's initial value can be; null for any other.
ElementsAttr reshaped(Attribute value, ShapedType type) {
  if (auto dense = dyn_cast<DenseElementsAttr>(value))
    return dense.reshape(type);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    return DenseResourceElementsAttr::get(type, resource.getRawHandle());
  return {};
}

// Replaces `global` by a rank-1 global of the same data, each
// memref.get_global of it by one of the flat global expanded back to the
// old shape. Returns false, changing nothing, when some use of its symbol
// is not a get_global or its initial value is not dense.
bool flatten(memref::GlobalOp global, ModuleOp module, SymbolTable &symbols) {
  MemRefType type = global.getType();
  std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(global, module);
  if (!uses || llvm::any_of(*uses, [](const SymbolTable::SymbolUse &use) {
        return !isa<memref::GetGlobalOp>(use.getUser());
      }))
    return false;
  auto flatType = MemRefType::get({type.getNumElements()}, type.getElementType(), AffineMap(),
                                  type.getMemorySpace());
  ElementsAttr flatValue =
      reshaped(global.getInitialValueAttr(),
               RankedTensorType::get(flatType.getShape(), flatType.getElementType()));
  if (!flatValue)
    return false;
  OpBuilder builder(global);
  auto flat = builder.create<memref::GlobalOp>(
      global.getLoc(), (global.getSymName() + "_flat").str(), global.getSymVisibilityAttr(),
      flatType, flatValue, global.getConstant(), global.getAlignmentAttr());
  symbols.insert(flat);
  SmallVector<ReassociationIndices> allDims{llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()))};
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto get = cast<memref::GetGlobalOp>(use.getUser());
    builder.setInsertionPoint(get);
    Value flatValueRef =
        builder.create<memref::GetGlobalOp>(get.getLoc(), flatType, flat.getSymName());
    Value expanded =
        builder.create<memref::ExpandShapeOp>(get.getLoc(), type, flatValueRef, allDims);
    get.replaceAllUsesWith(expanded);
    get->erase();
  }
  symbols.erase(global);
  return true;
}

struct FlattenGlobalsPass : impl::GracefulFlattenGlobalsBase<FlattenGlobalsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<memref::GlobalOp> globals;
    for (auto global : module.getOps<memref::GlobalOp>()) {
      MemRefType type = global.getType();
      if (type.getRank() > 1 && type.hasStaticShape() && type.getLayout().isIdentity() &&
          !global.isExternal() && !global.isUninitialized())
        globals.push_back(global);
    }
    for (memref::GlobalOp global : globals)
      flatten(global, module, symbols);
  }
};

} // namespace
} // namespace graceful::compiler
