// A gate plugin: the candidate's expected calibration error (ECE) may not
// exceed the baseline's by more than a budget. Built and loaded like any
// external plugin; it uses only graceful's public gate API.
#include "calibration.pb.h"
#include "graceful/gates/gate.h"
#include "graceful/gates/statistics.h"
#include "graceful/support/error.h"

#include <cmath>
#include <vector>

namespace graceful::plugins {
namespace {

using gates::GateContext;
using gates::GateSpec;
using gates::Policy;

constexpr int64_t kDefaultBins = 15;

struct Calibration {
  double ece = 0;
  std::vector<double> accuracy, confidence; // per bin; NaN for empty bins
};

// ECE = sum over bins of (bin share) * |accuracy - mean confidence|, with
// confidence the softmax probability of the argmax class (ties: lowest).
Calibration calibrationOf(const Tensor &logits, const std::vector<int64_t> &labels, int64_t bins) {
  int64_t rows = logits.shape[0], classes = logits.shape[1];
  std::vector<double> right(bins, 0), confidence(bins, 0), count(bins, 0);
  for (int64_t i = 0; i < rows; ++i) {
    const float *row = logits.data<float>() + i * classes;
    int64_t best = 0;
    for (int64_t j = 1; j < classes; ++j)
      if (row[j] > row[best])
        best = j;
    double sum = 0;
    for (int64_t j = 0; j < classes; ++j)
      sum += std::exp(static_cast<double>(row[j]) - row[best]);
    double top = 1.0 / sum;
    int64_t bin =
        std::min<int64_t>(bins - 1, static_cast<int64_t>(top * static_cast<double>(bins)));
    count[bin] += 1;
    confidence[bin] += top;
    right[bin] += best == labels[static_cast<size_t>(i)];
  }
  Calibration result;
  for (int64_t b = 0; b < bins; ++b) {
    double accuracy = count[b] ? right[b] / count[b] : NAN;
    double meanConfidence = count[b] ? confidence[b] / count[b] : NAN;
    result.accuracy.push_back(accuracy);
    result.confidence.push_back(meanConfidence);
    if (count[b])
      result.ece += count[b] / static_cast<double>(rows) * std::abs(accuracy - meanConfidence);
  }
  return result;
}

class CalibrationGate : public gates::Gate {
public:
  CalibrationGate(CalibrationGateConfig config, std::string inputs, std::string labels)
      : config_(std::move(config)), inputs_(std::move(inputs)), labels_(std::move(labels)) {}

  std::vector<std::string> files() const override { return {inputs_, labels_}; }
  std::string missingBudget() const override {
    return config_.has_max_ece() || config_.has_max_ece_increase()
               ? ""
               : "it sets neither max_ece nor max_ece_increase";
  }

  llvm::Expected<proto::GateResult> evaluate(const GateContext &context) override {
    proto::GateResult result;
    result.set_name("calibration");
    auto labels = gates::readLabels(context.files, labels_);
    if (!labels)
      return labels.takeError();
    auto candidate = measure(context, context.modelOf(context.candidate), *labels);
    if (!candidate)
      return candidate.takeError();
    gates::setMetric(result, "ece_new", candidate->ece);
    gates::setMetric(result, "bins", static_cast<double>(bins()));
    addReliability(result, "reliability_new", *candidate);
    if (config_.has_max_ece() && candidate->ece > config_.max_ece())
      result.add_violations("ece_new " + gates::formatNumber(candidate->ece) + " exceeds max_ece " +
                            gates::formatNumber(config_.max_ece()));
    if (!context.baseline) {
      result.set_verdict(result.violations().empty() ? "no baseline" : "fail");
      return result;
    }
    auto baseline = measure(context, context.modelOf(*context.baseline), *labels);
    if (!baseline)
      return baseline.takeError();
    double increase = candidate->ece - baseline->ece;
    gates::setMetric(result, "ece_old", baseline->ece);
    gates::setMetric(result, "ece_increase", increase);
    addReliability(result, "reliability_old", *baseline);
    if (config_.has_max_ece_increase() && increase > config_.max_ece_increase())
      result.add_violations("ece_increase " + gates::formatNumber(increase) +
                            " exceeds max_ece_increase " +
                            gates::formatNumber(config_.max_ece_increase()));
    result.set_verdict(result.violations().empty() ? "pass" : "fail");
    return result;
  }

private:
  int64_t bins() const { return config_.bins() > 0 ? config_.bins() : kDefaultBins; }

  llvm::Expected<Calibration> measure(const GateContext &context, const gates::ModelRef &model,
                                      const std::vector<int64_t> &labels) {
    auto logits = context.outputs.run(model, inputs_, config_.output(), config_.batch());
    if (!logits)
      return logits.takeError();
    if (logits->dtype != DType::Float32 || logits->shape.size() != 2)
      return makeError(ErrorKind::BadInput, model.label +
                                                ": calibration needs 2-D float32 logits, got " +
                                                logits->describe());
    if (logits->shape[0] != static_cast<int64_t>(labels.size()))
      return makeError(ErrorKind::BadInput, labels_ + " has " + std::to_string(labels.size()) +
                                                " labels but " + inputs_ + " has " +
                                                std::to_string(logits->shape[0]) + " samples");
    return calibrationOf(*logits, labels, bins());
  }

  static void addReliability(proto::GateResult &result, const std::string &key,
                             const Calibration &calibration) {
    auto *list = (*result.mutable_evidence()->mutable_fields())[key].mutable_list_value();
    for (size_t b = 0; b < calibration.accuracy.size(); ++b) {
      if (std::isnan(calibration.accuracy[b]))
        continue;
      auto &entry = *list->add_values()->mutable_struct_value()->mutable_fields();
      entry["bin"].set_number_value(static_cast<double>(b));
      entry["accuracy"].set_number_value(calibration.accuracy[b]);
      entry["confidence"].set_number_value(calibration.confidence[b]);
    }
  }

  CalibrationGateConfig config_;
  std::string inputs_, labels_;
};

llvm::Expected<std::unique_ptr<gates::Gate>>
makeCalibrationGate(const GateSpec &spec, const Policy &policy, gates::DataFiles &) {
  CalibrationGateConfig config;
  if (llvm::Error error = gates::readGateConfig(spec, policy, config))
    return error;
  auto inputs = gates::policyFile(spec, policy, "inputs", config.inputs());
  if (!inputs)
    return inputs.takeError();
  auto labels = gates::policyFile(spec, policy, "labels", config.labels());
  if (!labels)
    return labels.takeError();
  if (config.bins() < 0 || config.bins() > 1000)
    return makeError(ErrorKind::BadInput,
                     gates::gateLocation(spec, policy) + "bins must be between 1 and 1000");
  return std::make_unique<CalibrationGate>(std::move(config), *inputs, *labels);
}

} // namespace
} // namespace graceful::plugins

extern "C" int graceful_gate_abi_version() { return graceful::gates::kGateAbiVersion; }

extern "C" void graceful_register_gates() {
  graceful::gates::registerGate("calibration", graceful::plugins::makeCalibrationGate);
}
