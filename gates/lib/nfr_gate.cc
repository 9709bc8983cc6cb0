// The NFR gate: negative flips of the candidate against the baseline on a
// labelled evaluation set, with budgets on their rate and its upper bound.
#include "builtin_gates.h"
#include "graceful/gates/statistics.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

namespace graceful::gates {
namespace {

// The report lists at most this many flipped samples by index, and the
// most frequent cells of the flip matrix (all cells stay in the counts).
constexpr size_t kListedFlips = 10000;
constexpr size_t kListedMatrixCells = 400;
constexpr double kDefaultConfidence = 0.95;

llvm::Expected<std::set<int64_t>> readSampleIds(DataFiles &files, const std::string &path) {
  auto text = files.bytes(path);
  if (!text)
    return text.takeError();
  std::set<int64_t> ids;
  std::istringstream lines(**text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    line = line.substr(0, line.find('#'));
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos)
      continue;
    size_t last = line.find_last_not_of(" \t\r");
    std::string token = line.substr(first, last - first + 1);
    int64_t id = -1;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), id);
    if (ec != std::errc() || end != token.data() + token.size() || id < 0)
      // The line itself is not quoted: a policy may name any file.
      return makeError(ErrorKind::BadInput, path + ":" + std::to_string(number) +
                                                ": not a sample index (0-based integer)");
    ids.insert(id);
  }
  return ids;
}

llvm::Error checkFraction(const GateSpec &spec, const Policy &policy, const char *key, bool set,
                          double value, bool open = false) {
  if (!set || (value >= 0 && value <= 1 && (!open || (value > 0 && value < 1))))
    return llvm::Error::success();
  return makeError(ErrorKind::BadInput,
                   gateLocation(spec, policy) + key + " must be " +
                       (open ? "between 0 and 1 (exclusive)" : "between 0 and 1"));
}

class NfrGate : public Gate {
public:
  NfrGate(proto::NfrGateConfig config, std::map<std::string, std::string> paths, SampleFiles inputs,
          std::set<int64_t> neverRegress)
      : config_(std::move(config)), paths_(std::move(paths)), inputs_(std::move(inputs)),
        neverRegress_(std::move(neverRegress)) {}

  std::vector<std::string> files() const override {
    std::vector<std::string> files;
    for (const auto &[key, path] : paths_)
      files.push_back(path);
    return files;
  }

  std::string missingBudget() const override {
    bool budget =
        config_.has_max_nfr() || config_.has_max_relative_nfr() || config_.has_max_error_rate();
    return budget ? "" : "it sets none of max_nfr, max_relative_nfr, max_error_rate";
  }

  llvm::Expected<proto::GateResult> evaluate(const GateContext &context) override {
    proto::GateResult result;
    result.set_name("nfr");
    auto labels = readLabels(context.files, paths_.at("labels"));
    if (!labels)
      return labels.takeError();
    if (!neverRegress_.empty() && *neverRegress_.rbegin() >= static_cast<int64_t>(labels->size()))
      return makeError(ErrorKind::BadInput, paths_.at("never_regress") + ": sample index " +
                                                std::to_string(*neverRegress_.rbegin()) +
                                                " is beyond the " + std::to_string(labels->size()) +
                                                " samples of " + paths_.at("labels"));
    auto newPredictions =
        predictions(context, context.modelOf(context.candidate), "new_outputs", *labels);
    if (!newPredictions)
      return newPredictions.takeError();
    // Without a baseline there is nothing the old outputs could be bound to.
    if (!context.baseline)
      return absoluteOnly(*labels, *newPredictions, result);
    auto oldPredictions =
        predictions(context, context.modelOf(*context.baseline), "old_outputs", *labels);
    if (!oldPredictions)
      return oldPredictions.takeError();
    FlipCounts counts = countFlips(*labels, *oldPredictions, *newPredictions);
    report(counts, result);
    judge(counts, result);
    return result;
  }

private:
  // Predictions from a precomputed file when the policy gives one, else by
  // running the model; checked against the labels.
  llvm::Expected<std::vector<int64_t>> predictions(const GateContext &context,
                                                   const ModelRef &model, const char *key,
                                                   const std::vector<int64_t> &labels) {
    std::string source;
    Tensor computed;
    auto outputs = [&]() -> llvm::Expected<const Tensor *> {
      if (auto it = paths_.find(key); it != paths_.end()) {
        source = it->second;
        if (llvm::Error error = checkBound(key, model))
          return error;
        return context.files.npy(source);
      }
      source = model.label + " on " + describeFiles(inputs_);
      auto run = context.outputs.run(model, inputs_, config_.output(), config_.batch());
      if (!run)
        return run.takeError();
      computed = std::move(*run);
      return &computed;
    }();
    if (!outputs)
      return outputs.takeError();
    const Tensor &array = **outputs;
    auto predicted = predictionsOf(array, source);
    if (!predicted)
      return predicted.takeError();
    if (predicted->size() != labels.size())
      return makeError(ErrorKind::BadInput, paths_.at("labels") + " has " +
                                                std::to_string(labels.size()) + " labels but " +
                                                source + " gives " +
                                                std::to_string(predicted->size()) + " predictions");
    if (array.shape.size() == 2)
      for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] >= array.shape[1])
          return makeError(ErrorKind::BadInput,
                           paths_.at("labels") + ": label " + std::to_string(labels[i]) +
                               " of sample " + std::to_string(i) + " is outside the " +
                               std::to_string(array.shape[1]) + " classes of " + source);
    return predicted;
  }

  // Precomputed outputs count only for the model version they name: a
  // policy's files would otherwise pass any candidate against any baseline.
  llvm::Error checkBound(const std::string &key, const ModelRef &model) const {
    const std::string &bound =
        key == "old_outputs" ? config_.old_outputs_model() : config_.new_outputs_model();
    if (bound == model.digest)
      return llvm::Error::success();
    std::string field = key + "_model";
    if (bound.empty())
      return makeError(ErrorKind::BadInput,
                       paths_.at(key) + ": precomputed outputs name no model: set " + field +
                           " to the digest of the version they came from (" + model.label + " is " +
                           model.digest + ")");
    return makeError(ErrorKind::BadInput, paths_.at(key) + ": precomputed outputs came from " +
                                              bound + " (" + field + "), but " + model.label +
                                              " is " + model.digest);
  }

  // Without a baseline only the candidate's own error rate can be judged.
  proto::GateResult absoluteOnly(const std::vector<int64_t> &labels,
                                 const std::vector<int64_t> &predicted, proto::GateResult &result) {
    int64_t wrong = 0;
    for (size_t i = 0; i < labels.size(); ++i)
      wrong += predicted[i] != labels[i];
    double errorRate = static_cast<double>(wrong) / static_cast<double>(labels.size());
    setMetric(result, "n", static_cast<double>(labels.size()));
    setMetric(result, "error_rate_new", errorRate);
    result.set_verdict("no baseline");
    (*result.mutable_details())["note"] = "no baseline: only max_error_rate is checked";
    if (config_.has_max_error_rate() && errorRate > config_.max_error_rate()) {
      result.add_violations("error_rate_new " + formatNumber(errorRate) +
                            " exceeds max_error_rate " + formatNumber(config_.max_error_rate()));
      result.set_verdict("fail");
    }
    return result;
  }

  void report(const FlipCounts &counts, proto::GateResult &result) const {
    FlipRates rates = ratesOf(counts);
    double confidence = config_.has_confidence() ? config_.confidence() : kDefaultConfidence;
    setMetric(result, "n", static_cast<double>(counts.n));
    setMetric(result, "error_rate_old", rates.errorRateOld);
    setMetric(result, "error_rate_new", rates.errorRateNew);
    setMetric(result, "nfr", rates.nfr);
    setMetric(result, "negative_flips", static_cast<double>(counts.negativeFlips));
    setMetric(result, "positive_flips", static_cast<double>(counts.positiveFlips));
    setMetric(result, "pfr", rates.pfr);
    setMetric(result, "relative_nfr", rates.relativeNfr);
    setMetric(result, "btc", rates.btc);
    setMetric(result, "bec", rates.bec);
    setMetric(result, "nfr_upper", clopperPearsonUpper(counts.negativeFlips, counts.n, confidence));
    setMetric(result, "confidence", confidence);
    setMetric(result, "mcnemar_p", mcnemarExactP(counts.negativeFlips, counts.positiveFlips));

    auto &evidence = *result.mutable_evidence()->mutable_fields();
    auto *perClass = evidence["per_class"].mutable_list_value();
    for (const auto &[label, samples] : counts.samplesPerClass) {
      auto flips =
          counts.negativeFlipsPerClass.count(label) ? counts.negativeFlipsPerClass.at(label) : 0;
      auto &row = *perClass->add_values()->mutable_struct_value()->mutable_fields();
      row["class"].set_number_value(static_cast<double>(label));
      row["samples"].set_number_value(static_cast<double>(samples));
      row["negative_flips"].set_number_value(static_cast<double>(flips));
      row["nfr"].set_number_value(static_cast<double>(flips) / static_cast<double>(samples));
    }
    auto *matrix = evidence["flip_matrix"].mutable_list_value();
    std::vector<std::pair<std::pair<int64_t, int64_t>, int64_t>> cells(counts.flipMatrix.begin(),
                                                                       counts.flipMatrix.end());
    std::stable_sort(cells.begin(), cells.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    cells.resize(std::min(cells.size(), kListedMatrixCells));
    std::sort(cells.begin(), cells.end());
    setMetric(result, "flip_matrix_cells", static_cast<double>(counts.flipMatrix.size()));
    for (const auto &[cell, count] : cells) {
      auto &entry = *matrix->add_values()->mutable_struct_value()->mutable_fields();
      entry["old"].set_number_value(static_cast<double>(cell.first));
      entry["new"].set_number_value(static_cast<double>(cell.second));
      entry["count"].set_number_value(static_cast<double>(count));
    }
    auto *flipped = evidence["flipped_samples"].mutable_list_value();
    for (size_t i = 0; i < counts.flippedSamples.size() && i < kListedFlips; ++i)
      flipped->add_values()->set_number_value(static_cast<double>(counts.flippedSamples[i]));
  }

  void judge(const FlipCounts &counts, proto::GateResult &result) const {
    auto violate = [&](const std::string &measured, double value, const char *budget, double limit,
                       bool above) {
      if (above ? value > limit : value < limit)
        result.add_violations(measured + " " + formatNumber(value) +
                              (above ? " exceeds " : " is below ") + budget + " " +
                              formatNumber(limit));
    };
    if (config_.has_max_nfr()) {
      bool bound = config_.has_confidence();
      violate(bound ? "nfr_upper" : "nfr", metric(result, bound ? "nfr_upper" : "nfr"), "max_nfr",
              config_.max_nfr(), true);
    }
    if (config_.has_max_relative_nfr())
      violate("relative_nfr", metric(result, "relative_nfr"), "max_relative_nfr",
              config_.max_relative_nfr(), true);
    if (config_.has_max_error_rate())
      violate("error_rate_new", metric(result, "error_rate_new"), "max_error_rate",
              config_.max_error_rate(), true);
    if (config_.has_min_btc())
      violate("btc", metric(result, "btc"), "min_btc", config_.min_btc(), false);
    int64_t critical = 0;
    std::string examples;
    for (int64_t index : counts.flippedSamples)
      if (neverRegress_.count(index) && ++critical <= 5)
        examples += (examples.empty() ? "" : ", ") + std::to_string(index);
    if (!neverRegress_.empty())
      setMetric(result, "never_regress_flips", static_cast<double>(critical));
    if (critical)
      result.add_violations(std::to_string(critical) +
                            " negative flip(s) on never-regress samples (" + examples +
                            (critical > 5 ? ", ..." : "") + ")");
    result.set_verdict(result.violations().empty() ? "pass" : "fail");
  }

  proto::NfrGateConfig config_;
  std::map<std::string, std::string> paths_; // key -> resolved file
  SampleFiles inputs_;                       // empty with precomputed outputs
  std::set<int64_t> neverRegress_;
};

} // namespace

llvm::Expected<std::unique_ptr<Gate>> makeNfrGate(const GateSpec &spec, const Policy &policy,
                                                  DataFiles &files) {
  proto::NfrGateConfig config;
  if (llvm::Error error = readGateConfig(spec, policy, config))
    return error;
  bool precomputed = !config.old_outputs().empty() && !config.new_outputs().empty();
  std::map<std::string, std::string> paths;
  std::vector<std::pair<std::string, std::string>> wanted = {{"labels", config.labels()}};
  SampleFiles inputs;
  if (!precomputed) {
    auto named = policySampleFiles(spec, policy, "", config.inputs(), config.named_inputs());
    if (!named)
      return named.takeError();
    inputs = std::move(*named);
    // Listed with the other files (in key order, as bound policies
    // recorded them before inputs could be named).
    for (const InputFile &input : inputs)
      paths[input.name.empty() ? "inputs" : "named_inputs." + input.name] = input.path;
  }
  for (const auto &[key, value] :
       {std::pair<std::string, std::string>{"old_outputs", config.old_outputs()},
        {"new_outputs", config.new_outputs()},
        {"never_regress", config.never_regress()}})
    if (!value.empty())
      wanted.push_back({key, value});
  for (const auto &[key, value] : wanted) {
    auto path = policyFile(spec, policy, key, value);
    if (!path)
      return path.takeError();
    paths[key] = *path;
  }
  for (auto [key, set, value, open] :
       {std::tuple{"max_nfr", config.has_max_nfr(), config.max_nfr(), false},
        {"confidence", config.has_confidence(), config.confidence(), true},
        {"max_error_rate", config.has_max_error_rate(), config.max_error_rate(), false},
        {"min_btc", config.has_min_btc(), config.min_btc(), false}})
    if (llvm::Error error = checkFraction(spec, policy, key, set, value, open))
      return error;
  if (config.has_max_relative_nfr() && config.max_relative_nfr() < 0)
    return makeError(ErrorKind::BadInput,
                     gateLocation(spec, policy) + "max_relative_nfr must be >= 0");
  std::set<int64_t> neverRegress;
  if (paths.count("never_regress")) {
    auto ids = readSampleIds(files, paths["never_regress"]);
    if (!ids)
      return ids.takeError();
    neverRegress = std::move(*ids);
  }
  return std::make_unique<NfrGate>(std::move(config), std::move(paths), std::move(inputs),
                                   std::move(neverRegress));
}

} // namespace graceful::gates
