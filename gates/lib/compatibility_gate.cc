// The compatibility gate: queries embedded by the candidate must retrieve
// from a gallery embedded by the baseline at least as well as the
// baseline's own queries do (BCT), so the gallery needs no backfill.
#include "builtin_gates.h"
#include "graceful/gates/statistics.h"
#include "graceful/support/error.h"

#include <sstream>

namespace graceful::gates {
namespace {

// A labelled set of retrieval samples, read once per evaluation.
struct LabelledSet {
  SampleFiles inputs;
  std::string labelsPath;
  std::vector<int64_t> labels;
};

llvm::Expected<LabelledSet> readLabelledSet(DataFiles &files, const SampleFiles &inputs,
                                            const std::string &labelsPath) {
  auto labels = readLabels(files, labelsPath);
  if (!labels)
    return labels.takeError();
  return LabelledSet{inputs, labelsPath, std::move(*labels)};
}

llvm::Expected<Tensor> embed(const GateContext &context, const RetrievalPlan &plan,
                             const ModelRef &model, const LabelledSet &set) {
  auto embeddings = context.outputs.run(model, set.inputs, plan.output, plan.batch);
  if (!embeddings)
    return embeddings.takeError();
  if (embeddings->shape.size() != 2)
    return makeError(ErrorKind::BadInput, model.label + " embeds " + describeFiles(set.inputs) +
                                              " as " + embeddings->describe() +
                                              "; embeddings must be [samples, dim]");
  if (embeddings->shape[0] != static_cast<int64_t>(set.labels.size()))
    return makeError(ErrorKind::BadInput, set.labelsPath + " has " +
                                              std::to_string(set.labels.size()) + " labels for " +
                                              std::to_string(embeddings->shape[0]) +
                                              " samples in " + describeFiles(set.inputs));
  return std::move(*embeddings);
}

google::protobuf::ListValue curve(const RetrievalResult &result) {
  google::protobuf::ListValue points;
  for (double value : result.cmc)
    points.add_values()->set_number_value(value);
  return points;
}

class CompatibilityGate : public Gate {
public:
  explicit CompatibilityGate(RetrievalPlan plan) : plan_(std::move(plan)) {}

  std::vector<std::string> files() const override { return plan_.files(); }
  // New-to-old retrieval must beat old-to-old: always a criterion.
  std::string missingBudget() const override { return ""; }

  llvm::Expected<proto::GateResult> evaluate(const GateContext &context) override {
    proto::GateResult result;
    result.set_name("compatibility");
    if (!context.baseline) {
      result.set_verdict("no baseline");
      (*result.mutable_details())["note"] =
          "no baseline: nothing is indexed yet, so there is nothing to stay compatible with";
      return result;
    }
    auto passed = compareRetrieval(context, plan_, context.modelOf(*context.baseline),
                                   context.modelOf(context.candidate), result);
    if (!passed)
      return passed.takeError();
    result.set_verdict(*passed ? "pass" : "fail");
    return result;
  }

private:
  RetrievalPlan plan_;
};

} // namespace

// Gallery files, then query files, each inputs before labels (the order
// bound policies recorded before inputs could be named).
std::vector<std::string> RetrievalPlan::files() const {
  std::vector<std::string> files;
  for (const auto &[inputs, labels] :
       {std::pair{&galleryInputs, &galleryLabels}, {&queryInputs, &queryLabels}}) {
    for (const InputFile &input : *inputs)
      files.push_back(input.path);
    files.push_back(*labels);
  }
  return files;
}

llvm::Expected<RetrievalPlan> planRetrieval(const GateSpec &spec, const Policy &policy,
                                            const proto::DataSet &gallery,
                                            const proto::DataSet &queries,
                                            const std::string &metric, const std::string &measure) {
  RetrievalPlan plan;
  for (auto [inputs, labels, prefix, set] :
       {std::tuple{&plan.galleryInputs, &plan.galleryLabels, "gallery.", &gallery},
        {&plan.queryInputs, &plan.queryLabels, "queries.", &queries}}) {
    auto files = policySampleFiles(spec, policy, prefix, set->inputs(), set->named_inputs());
    if (!files)
      return files.takeError();
    *inputs = std::move(*files);
    auto path = policyFile(spec, policy, std::string(prefix) + "labels", set->labels());
    if (!path)
      return path.takeError();
    *labels = *path;
  }
  auto similarity = parseSimilarity(metric);
  if (!similarity)
    return makeError(ErrorKind::BadInput,
                     gateLocation(spec, policy) + describeError(similarity.takeError()).message);
  plan.similarity = *similarity;
  auto parsed = parseMeasure(measure);
  if (!parsed)
    return makeError(ErrorKind::BadInput,
                     gateLocation(spec, policy) + describeError(parsed.takeError()).message);
  plan.measure = *parsed;
  return plan;
}

llvm::Expected<bool> compareRetrieval(const GateContext &context, const RetrievalPlan &plan,
                                      const ModelRef &oldModel, const ModelRef &newModel,
                                      proto::GateResult &result) {
  setMetric(result, "measure", plan.measure.name);
  (*result.mutable_details())["metric"] = plan.similarity == Similarity::L2 ? "l2" : "cosine";
  auto gallerySet = readLabelledSet(context.files, plan.galleryInputs, plan.galleryLabels);
  if (!gallerySet)
    return gallerySet.takeError();
  auto querySet = readLabelledSet(context.files, plan.queryInputs, plan.queryLabels);
  if (!querySet)
    return querySet.takeError();
  auto gallery = embed(context, plan, oldModel, *gallerySet);
  if (!gallery)
    return gallery.takeError();
  auto oldQueries = embed(context, plan, oldModel, *querySet);
  if (!oldQueries)
    return oldQueries.takeError();
  auto newQueries = embed(context, plan, newModel, *querySet);
  if (!newQueries)
    return newQueries.takeError();
  int64_t oldDim = gallery->shape[1], newDim = newQueries->shape[1];
  setMetric(result, "dim_old", static_cast<double>(oldDim));
  setMetric(result, "dim_new", static_cast<double>(newDim));
  if (oldDim != newDim) {
    result.add_violations("embedding dimensions differ: " + newModel.label + " embeds into " +
                          std::to_string(newDim) + " dimensions, the gallery of " + oldModel.label +
                          " has " + std::to_string(oldDim));
    return false;
  }
  auto newGallery = embed(context, plan, newModel, *gallerySet);
  if (!newGallery)
    return newGallery.takeError();

  RetrievalOptions options{plan.similarity, std::max<int64_t>(10, plan.measure.k),
                           plan.measure.meanAveragePrecision};
  auto search = [&](const Tensor &queries, const Tensor &index) {
    return evaluateRetrieval(queries, querySet->labels, index, gallerySet->labels, options);
  };
  auto oldOld = search(*oldQueries, *gallery);
  if (!oldOld)
    return oldOld.takeError();
  auto newOld = search(*newQueries, *gallery);
  if (!newOld)
    return newOld.takeError();
  auto newNew = search(*newQueries, *newGallery);
  if (!newNew)
    return newNew.takeError();

  double mOldOld = plan.measure.of(*oldOld), mNewOld = plan.measure.of(*newOld),
         mNewNew = plan.measure.of(*newNew);
  double ceiling = mNewNew - mOldOld;
  double gain = ceiling != 0 ? (mNewOld - mOldOld) / ceiling : 0.0;
  setMetric(result, "old_old", mOldOld);
  setMetric(result, "new_old", mNewOld);
  setMetric(result, "new_new", mNewNew);
  setMetric(result, "update_gain", gain);
  setMetric(result, "queries", static_cast<double>(oldOld->queries));
  setMetric(result, "gallery", static_cast<double>(gallerySet->labels.size()));
  auto &evidence = *result.mutable_evidence()->mutable_fields();
  *evidence["cmc_old_old"].mutable_list_value() = curve(*oldOld);
  *evidence["cmc_new_old"].mutable_list_value() = curve(*newOld);
  *evidence["cmc_new_new"].mutable_list_value() = curve(*newNew);

  if (!(mNewOld > mOldOld + plan.margin))
    result.add_violations("M(new, old) " + formatNumber(mNewOld) + " does not exceed M(old, old) " +
                          formatNumber(mOldOld) +
                          (plan.margin ? " + margin " + formatNumber(plan.margin) : std::string()) +
                          ": new queries retrieve worse from the old gallery");
  if (plan.minUpdateGain && gain < *plan.minUpdateGain)
    result.add_violations("update_gain " + formatNumber(gain) + " is below min_update_gain " +
                          formatNumber(*plan.minUpdateGain));
  return result.violations().empty();
}

llvm::Expected<std::unique_ptr<Gate>> makeCompatibilityGate(const GateSpec &spec,
                                                            const Policy &policy, DataFiles &) {
  proto::RetrievalConfig config;
  if (llvm::Error error = readGateConfig(spec, policy, config))
    return error;
  auto plan = planRetrieval(spec, policy, config);
  if (!plan)
    return plan.takeError();
  return std::make_unique<CompatibilityGate>(std::move(*plan));
}

} // namespace graceful::gates
