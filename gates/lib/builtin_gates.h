// The built-in gates' factories (registered in gate.cc) and what the
// compatibility and edge gates share.
#pragma once

#include "graceful/gates/gate.h"
#include "graceful/gates/retrieval.h"
#include "graceful/policy.pb.h"

namespace graceful::gates {

llvm::Expected<std::unique_ptr<Gate>> makeNfrGate(const GateSpec &spec, const Policy &policy,
                                                  DataFiles &files);
llvm::Expected<std::unique_ptr<Gate>> makeCompatibilityGate(const GateSpec &spec,
                                                            const Policy &policy, DataFiles &files);
llvm::Expected<std::unique_ptr<Gate>> makeEdgeGate(const GateSpec &spec, const Policy &policy,
                                                   DataFiles &files);

// A retrieval comparison with its files resolved and settings checked.
struct RetrievalPlan {
  SampleFiles galleryInputs, queryInputs;
  std::string galleryLabels, queryLabels;
  Similarity similarity = Similarity::Cosine;
  RetrievalMeasure measure;
  double margin = 0;
  std::optional<double> minUpdateGain;
  std::string output;
  int64_t batch = 0;

  std::vector<std::string> files() const;
};

llvm::Expected<RetrievalPlan> planRetrieval(const GateSpec &spec, const Policy &policy,
                                            const proto::DataSet &gallery,
                                            const proto::DataSet &queries,
                                            const std::string &metric, const std::string &measure);

// The plan a gate's config asks for: RetrievalConfig and EdgeGateConfig
// name their retrieval settings alike.
template <typename Config>
llvm::Expected<RetrievalPlan> planRetrieval(const GateSpec &spec, const Policy &policy,
                                            const Config &config) {
  auto plan = planRetrieval(spec, policy, config.gallery(), config.queries(), config.metric(),
                            config.measure());
  if (!plan)
    return plan.takeError();
  plan->margin = config.has_margin() ? config.margin() : 0.0;
  if constexpr (requires { config.min_update_gain(); })
    if (config.has_min_update_gain())
      plan->minUpdateGain = config.min_update_gain();
  plan->output = config.output();
  plan->batch = config.batch();
  return plan;
}

// Measures M(old, old), M(new, old) and M(new, new) (the gallery embedded
// by `oldModel`, queries by both) into `result`'s metrics and evidence, adds
// violations, and returns whether the criterion holds. An embedding
// dimension mismatch is a violation, not an error.
llvm::Expected<bool> compareRetrieval(const GateContext &context, const RetrievalPlan &plan,
                                      const ModelRef &oldModel, const ModelRef &newModel,
                                      proto::GateResult &result);

} // namespace graceful::gates
