// Rewrites ops a device profile does not allow into exact decompositions
// made of allowed ops; what cannot be legalized is reported, not dropped.
#include "RewriteUtils.h"
#include "graceful/compiler/Passes.h"
#include "graceful/compiler/Profile.h"
#include "graceful/support/error.h"

#include <cmath>
#include <functional>
#include <set>

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULLEGALIZE
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

// One exact decomposition: the ops it emits, and how. `build` returns the
// value replacing the node's result, or null when the node's attributes or
// shapes are outside what the decomposition covers.
struct Decomposition {
  std::string opType;
  std::vector<std::string> emits;
  std::function<Value(ir::NodeOp, OpBuilder &)> build;
};

Type resultTypeOf(ir::NodeOp node) { return node->getResult(0).getType(); }

Value scalar(OpBuilder &b, ir::NodeOp node, StringRef what, float value) {
  return makeFloatConstant(b, node.getLoc(), node.nodeName() + "." + what.str(), {}, {value});
}

bool isFloat32(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.getElementType().isF32();
}

// Y = alpha * op(A) @ op(B) + beta * C.
Value decomposeGemm(ir::NodeOp node, OpBuilder &b) {
  auto inputs = node.getInputs();
  if (!isFloat32(inputs[0]) || !isFloat32(inputs[1]))
    return {};
  Location loc = node.getLoc();
  auto transposed = [&](Value value) -> Value {
    auto type = cast<RankedTensorType>(value.getType());
    auto result = RankedTensorType::get({type.getDimSize(1), type.getDimSize(0)},
                                        type.getElementType());
    return makeNode(b, loc, "Transpose", {value}, result,
                    {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 0}))})
        ->getResult(0);
  };
  Value a = node.intAttr("transA", 0) ? transposed(inputs[0]) : inputs[0];
  Value w = node.intAttr("transB", 0) ? transposed(inputs[1]) : inputs[1];
  Type type = resultTypeOf(node);
  Value product = makeNode(b, loc, "MatMul", {a, w}, type)->getResult(0);
  if (float alpha = node.floatAttr("alpha", 1.0f); alpha != 1.0f)
    product = makeNode(b, loc, "Mul", {product, scalar(b, node, "alpha", alpha)}, type)
                  ->getResult(0);
  if (inputs.size() < 3 || isa<NoneType>(inputs[2].getType()))
    return product;
  Value bias = inputs[2];
  if (float beta = node.floatAttr("beta", 1.0f); beta != 1.0f)
    bias = makeNode(b, loc, "Mul", {bias, scalar(b, node, "beta", beta)}, bias.getType())
               ->getResult(0);
  return makeNode(b, loc, "Add", {product, bias}, type)->getResult(0);
}

// HardSwish(x) = x * HardSigmoid(x; alpha = 1/6, beta = 1/2).
Value decomposeHardSwish(ir::NodeOp node, OpBuilder &b) {
  Value x = node.getInputs()[0];
  Value gate = makeNode(b, node.getLoc(), "HardSigmoid", {x}, x.getType(),
                        {b.getNamedAttr("alpha", b.getF32FloatAttr(1.0f / 6.0f)),
                         b.getNamedAttr("beta", b.getF32FloatAttr(0.5f))})
                   ->getResult(0);
  return makeNode(b, node.getLoc(), "Mul", {x, gate}, x.getType())->getResult(0);
}

// Gelu(x) = x * (1 + erf(x / sqrt 2)) / 2 (the exact form, approximate = none).
Value decomposeGelu(ir::NodeOp node, OpBuilder &b) {
  auto approximate = dyn_cast_or_null<StringAttr>(node.attr("approximate"));
  Value x = node.getInputs()[0];
  if ((approximate && approximate.getValue() != "none") || !isFloat32(x))
    return {};
  Location loc = node.getLoc();
  Type type = x.getType();
  Value scaled =
      makeNode(b, loc, "Div", {x, scalar(b, node, "sqrt2", std::sqrt(2.0f))}, type)->getResult(0);
  Value erf = makeNode(b, loc, "Erf", {scaled}, type)->getResult(0);
  Value shifted = makeNode(b, loc, "Add", {erf, scalar(b, node, "one", 1.0f)}, type)->getResult(0);
  Value half = makeNode(b, loc, "Mul", {x, scalar(b, node, "half", 0.5f)}, type)->getResult(0);
  return makeNode(b, loc, "Mul", {half, shifted}, type)->getResult(0);
}

// Flatten(x, axis) = Reshape(x, [d0 * .. * d(axis-1), -1]); 0 copies d0.
Value decomposeFlatten(ir::NodeOp node, OpBuilder &b) {
  auto type = cast<RankedTensorType>(node.getInputs()[0].getType());
  int64_t axis = node.intAttr("axis", 1);
  axis = axis < 0 ? axis + type.getRank() : axis;
  SmallVector<int64_t> shape;
  if (axis == 1) {
    shape = {0, -1};
  } else {
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) {
      if (type.isDynamicDim(d))
        return {};
      outer *= type.getDimSize(d);
    }
    shape = {outer, -1};
  }
  Value target = makeIntConstant(b, node.getLoc(), node.nodeName() + ".shape", shape);
  return makeNode(b, node.getLoc(), "Reshape", {node.getInputs()[0], target}, resultTypeOf(node))
      ->getResult(0);
}

// Relu(x) = Clip(x, 0): an omitted max means no upper bound.
Value decomposeReluToClip(ir::NodeOp node, OpBuilder &b) {
  Value x = node.getInputs()[0];
  if (!isFloat32(x))
    return {};
  return makeNode(b, node.getLoc(), "Clip", {x, scalar(b, node, "min", 0.0f)}, x.getType())
      ->getResult(0);
}

// Clip(x, lo, hi) = Min(Max(x, lo), hi), for the bounds that are given.
Value decomposeClip(ir::NodeOp node, OpBuilder &b) {
  auto inputs = node.getInputs();
  Value x = inputs[0];
  for (unsigned i = 1; i < inputs.size(); ++i)
    if (!isa<NoneType>(inputs[i].getType())) {
      const char *op = i == 1 ? "Max" : "Min";
      x = makeNode(b, node.getLoc(), op, {x, inputs[i]}, x.getType())->getResult(0);
    }
  return x;
}

// LeakyRelu(x) = Max(x, alpha * x) for 0 <= alpha <= 1.
Value decomposeLeakyRelu(ir::NodeOp node, OpBuilder &b) {
  Value x = node.getInputs()[0];
  float alpha = node.floatAttr("alpha", 0.01f);
  if (!isFloat32(x) || alpha < 0 || alpha > 1)
    return {};
  Value scaled =
      makeNode(b, node.getLoc(), "Mul", {x, scalar(b, node, "alpha", alpha)}, x.getType())
          ->getResult(0);
  return makeNode(b, node.getLoc(), "Max", {x, scaled}, x.getType())->getResult(0);
}

const std::vector<Decomposition> &decompositions() {
  static const std::vector<Decomposition> table = {
      {"Gemm", {"Transpose", "MatMul", "Mul", "Add"}, decomposeGemm},
      {"HardSwish", {"HardSigmoid", "Mul"}, decomposeHardSwish},
      {"Gelu", {"Div", "Erf", "Add", "Mul"}, decomposeGelu},
      {"Flatten", {"Reshape"}, decomposeFlatten},
      {"Relu", {"Clip"}, decomposeReluToClip},
      {"Clip", {"Max", "Min"}, decomposeClip},
      {"LeakyRelu", {"Mul", "Max"}, decomposeLeakyRelu},
  };
  return table;
}

struct LegalizePass : impl::GracefulLegalizeBase<LegalizePass> {
  using GracefulLegalizeBase::GracefulLegalizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto profile = loadDeviceProfile(profile_path());
    if (!profile) {
      module.emitError(describeError(profile.takeError()).message);
      return signalPassFailure();
    }
    std::set<std::string> allowed(profile->allowed_ops().begin(), profile->allowed_ops().end());
    if (allowed.empty()) {
      report(module, {}, {});
      return;
    }
    std::map<std::string, int64_t> rewritten, violations;
    SmallVector<ir::NodeOp> nodes;
    module.walk([&](ir::NodeOp node) { nodes.push_back(node); });
    for (ir::NodeOp node : nodes) {
      std::string op = node.getOpType().str();
      if (allowed.count(op))
        continue;
      if (legalize(node, allowed))
        rewritten[op]++;
      else
        violations[op]++;
    }
    eraseUnusedConstants(module);
    report(module, rewritten, violations);
  }

  std::string profile_path() const { return profile.getValue(); }

  // Applies the first decomposition for the node whose ops are all allowed.
  static bool legalize(ir::NodeOp node, const std::set<std::string> &allowed) {
    for (const Decomposition &decomposition : decompositions()) {
      if (decomposition.opType != node.getOpType() || node.getNumResults() != 1)
        continue;
      bool fits = llvm::all_of(decomposition.emits,
                               [&](const std::string &op) { return allowed.count(op) > 0; });
      if (!fits)
        continue;
      OpBuilder builder(node);
      Value replacement = decomposition.build(node, builder);
      if (!replacement)
        continue;
      // The replacement keeps the node's ONNX output name (unless it is
      // one of the node's own inputs, which has a name already).
      auto producer = replacement.getDefiningOp<ir::NodeOp>();
      if (producer && node.getNamesAttr() && !llvm::is_contained(node.getInputs(), replacement))
        producer.setNamesAttr(node.getNamesAttr());
      node->getResult(0).replaceAllUsesWith(replacement);
      node->erase();
      return true;
    }
    return false;
  }

  void report(ModuleOp module, const std::map<std::string, int64_t> &rewritten,
              const std::map<std::string, int64_t> &violations) {
    Builder builder(&getContext());
    module->setAttr("graceful.legalize",
                    builder.getDictionaryAttr(
                        {builder.getNamedAttr("rewritten", countsAttribute(builder, rewritten)),
                         builder.getNamedAttr("violations", countsAttribute(builder, violations))}));
    auto remark = module.emitRemark() << "graceful-legalize: rewrote "
                                      << (rewritten.empty() ? "nothing" : describeCounts(rewritten));
    if (!violations.empty())
      remark << "; cannot legalize: " << describeCounts(violations);
  }
};

} // namespace
} // namespace graceful::compiler
