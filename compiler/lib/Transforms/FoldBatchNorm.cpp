// Folds inference BatchNormalization into the Conv or Gemm before it.
#include "RewriteUtils.h"
#include "graceful/compiler/Passes.h"

#include <cmath>

namespace graceful::compiler {

#define GEN_PASS_DEF_GRACEFULFOLDBATCHNORM
#include "graceful/compiler/Passes.h.inc"

namespace {

using namespace mlir;

struct BatchNormParameters {
  std::vector<float> factor; // gamma / sqrt(var + eps), per channel
  std::vector<float> shift;  // beta - mean * factor
};

std::optional<BatchNormParameters> parametersOf(ir::NodeOp bn) {
  auto inputs = bn.getInputs();
  if (inputs.size() != 5)
    return std::nullopt;
  auto gamma = constantFloats(inputs[1]), beta = constantFloats(inputs[2]),
       mean = constantFloats(inputs[3]), var = constantFloats(inputs[4]);
  if (!gamma || !beta || !mean || !var || gamma->size() != beta->size() ||
      gamma->size() != mean->size() || gamma->size() != var->size())
    return std::nullopt;
  double epsilon = bn.floatAttr("epsilon", 1e-5f);
  BatchNormParameters parameters;
  for (size_t c = 0; c < gamma->size(); ++c) {
    double factor = (*gamma)[c] / std::sqrt(static_cast<double>((*var)[c]) + epsilon);
    parameters.factor.push_back(static_cast<float>(factor));
    parameters.shift.push_back(static_cast<float>((*beta)[c] - (*mean)[c] * factor));
  }
  return parameters;
}

// The reason a BatchNormalization cannot be folded, or "" if it can.
std::string whyNotFoldable(ir::NodeOp bn, ir::NodeOp producer) {
  if (bn.intAttr("training_mode", 0) != 0)
    return "training mode";
  for (Value extra : bn.getResults().drop_front())
    if (!extra.use_empty())
      return "running statistics are used";
  if (!producer || (producer.getOpType() != "Conv" && producer.getOpType() != "Gemm"))
    return "its input is not a Conv or Gemm";
  if (!producer->getResult(0).hasOneUse())
    return "the " + producer.getOpType().str() + " output has other users";
  if (producer.getInputs().size() < 2 || !constantFloats(producer.getInputs()[1]))
    return "the weights are not float32 constants";
  return "";
}

// W' scales each output channel of the weights.
std::vector<float> scaledWeights(ir::NodeOp producer, const std::vector<float> &weights,
                                 const std::vector<float> &factor) {
  std::vector<float> scaled = weights;
  size_t channels = factor.size();
  bool gemmColumns = producer.getOpType() == "Gemm" && producer.intAttr("transB", 0) == 0;
  for (size_t i = 0; i < scaled.size(); ++i) {
    size_t channel = gemmColumns ? i % channels : i / (scaled.size() / channels);
    scaled[i] *= factor[channel];
  }
  return scaled;
}

struct FoldBatchNormPass : impl::GracefulFoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ir::NodeOp> norms;
    module.walk([&](ir::NodeOp node) {
      if (node.getOpType() == "BatchNormalization" && node.getDomain().empty())
        norms.push_back(node);
    });
    int64_t folded = 0;
    std::map<std::string, int64_t> skipped;
    for (ir::NodeOp bn : norms) {
      auto producer = bn.getInputs()[0].getDefiningOp<ir::NodeOp>();
      std::string reason = whyNotFoldable(bn, producer);
      auto parameters = reason.empty() ? parametersOf(bn) : std::nullopt;
      if (reason.empty() && !parameters)
        reason = "its parameters are not float32 constants";
      if (reason.empty() && !fold(bn, producer, *parameters))
        reason = "the bias or weight shape does not match the channels";
      if (!reason.empty()) {
        skipped[reason]++;
        continue;
      }
      ++folded;
    }
    eraseUnusedConstants(module);
    Builder builder(&getContext());
    module->setAttr("graceful.fold_batchnorm",
                    builder.getDictionaryAttr(
                        {builder.getNamedAttr("folded", builder.getI64IntegerAttr(folded)),
                         builder.getNamedAttr("skipped", countsAttribute(builder, skipped))}));
    auto remark = module.emitRemark() << "graceful-fold-batchnorm: folded " << folded << " of "
                                      << norms.size() << " BatchNormalization nodes";
    for (const auto &[reason, count] : skipped)
      remark << "; " << count << " skipped: " << reason;
  }

  // Rebuilds the producer with folded weights and bias in place of the pair.
  bool fold(ir::NodeOp bn, ir::NodeOp producer, const BatchNormParameters &parameters) {
    auto inputs = producer.getInputs();
    auto weights = *constantFloats(inputs[1]);
    size_t channels = parameters.factor.size();
    auto weightType = cast<RankedTensorType>(inputs[1].getType());
    bool gemm = producer.getOpType() == "Gemm";
    int64_t outputAxis = gemm && producer.intAttr("transB", 0) == 0 ? 1 : 0;
    if (weightType.getRank() < 2 || weightType.getDimSize(outputAxis) != static_cast<int64_t>(channels))
      return false;
    std::vector<float> bias(channels, 0.0f);
    bool hasBias = inputs.size() > 2 && !isa<NoneType>(inputs[2].getType());
    if (hasBias) {
      auto given = constantFloats(inputs[2]);
      if (!given || given->size() != channels)
        return false;
      float scale = gemm ? producer.floatAttr("beta", 1.0f) : 1.0f;
      for (size_t c = 0; c < channels; ++c)
        bias[c] = (*given)[c] * scale;
    }
    for (size_t c = 0; c < channels; ++c)
      bias[c] = bias[c] * parameters.factor[c] + parameters.shift[c];

    OpBuilder builder(producer);
    std::string stem = bn.nodeName().empty() ? "folded" : bn.nodeName();
    Value newWeights = makeFloatConstant(builder, producer.getLoc(), stem + ".weight",
                                         weightType.getShape(),
                                         scaledWeights(producer, weights, parameters.factor));
    Value newBias = makeFloatConstant(builder, producer.getLoc(), stem + ".bias",
                                      {static_cast<int64_t>(channels)}, bias);
    SmallVector<NamedAttribute> attributes(producer.getOnnxAttrs().getValue());
    if (gemm) {
      llvm::erase_if(attributes, [](NamedAttribute a) { return a.getName() == "beta"; });
      attributes.push_back(builder.getNamedAttr("beta", builder.getF32FloatAttr(1.0f)));
    }
    auto rebuilt = builder.create<ir::NodeOp>(
        producer.getLoc(), TypeRange{bn->getResult(0).getType()},
        ValueRange{inputs[0], newWeights, newBias}, producer.getOpType(), "",
        builder.getDictionaryAttr(attributes), bn.getNamesAttr() ? builder.getArrayAttr(
                                                                       bn.getNamesAttr()[0])
                                                                 : ArrayAttr());
    bn->getResult(0).replaceAllUsesWith(rebuilt->getResult(0));
    bn->erase();
    producer->erase();
    return true;
  }
};

} // namespace
} // namespace graceful::compiler
