// Commands that rewrite models: rewrite (fold BatchNorm, linearize,
// legalize for a device) and compat fit (a projection into an old model's
// embedding space). Both check the result by running it.
#include "command.h"
#include "graceful/analysis.pb.h"
#include "graceful/compiler/Jit.h"
#include "graceful/compiler/Rewrite.h"
#include "graceful/gates/projection.h"
#include "graceful/registry/refs.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/format.h"
#include "graceful/support/identity.h"
#include "output.h"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <unistd.h>

namespace graceful::cli {
namespace {

constexpr int64_t kGeneratedSamples = 8;
constexpr int64_t kBatch = 64;

// Inputs to compare models on: the given .npy, or seeded normal samples
// for a single float32 input whose dimensions past the first are fixed.
llvm::Expected<std::vector<Tensor>> sampleInputs(const std::string &model,
                                                 const std::string &inputsPath) {
  if (!inputsPath.empty()) {
    auto tensor = readNpy(inputsPath);
    if (!tensor)
      return tensor.takeError();
    return std::vector<Tensor>{std::move(*tensor)};
  }
  auto signature = compiler::readSignature(model);
  if (!signature)
    return signature.takeError();
  std::vector<Tensor> inputs;
  std::mt19937 random(2024);
  std::normal_distribution<float> normal;
  for (const compiler::TensorSpec &input : signature->inputs) {
    std::vector<int64_t> shape = input.shape;
    bool fixed = input.dtype == DType::Float32 && !shape.empty();
    for (size_t d = 1; d < shape.size(); ++d)
      fixed = fixed && shape[d] > 0;
    if (!fixed)
      return makeError(ErrorKind::BadInput, model + ": input '" + input.name +
                                                "' is not float32 with fixed dimensions; give "
                                                "sample inputs with --inputs X.npy");
    shape[0] = shape[0] > 0 ? shape[0] : kGeneratedSamples;
    Tensor tensor = makeTensor(DType::Float32, shape);
    for (int64_t i = 0; i < tensor.elementCount(); ++i)
      tensor.data<float>()[i] = normal(random);
    inputs.push_back(std::move(tensor));
  }
  return inputs;
}

// Fills the deviation fields of `report`: `after` against `before`.
void compareOutputs(const std::vector<Tensor> &before, const std::vector<Tensor> &after,
                    proto::RewriteReport &report) {
  double maxAbs = 0, magnitude = 1;
  int64_t rows = 0, agreeing = 0;
  for (size_t o = 0; o < before.size() && o < after.size(); ++o) {
    if (before[o].dtype != DType::Float32 || before[o].shape != after[o].shape)
      continue;
    const float *a = before[o].data<float>(), *b = after[o].data<float>();
    for (int64_t i = 0; i < before[o].elementCount(); ++i) {
      maxAbs = std::max(maxAbs, std::abs(static_cast<double>(a[i]) - b[i]));
      magnitude = std::max(magnitude, std::abs(static_cast<double>(a[i])));
    }
    if (before[o].shape.size() != 2)
      continue;
    int64_t width = before[o].shape[1];
    for (int64_t r = 0; r < before[o].shape[0]; ++r, ++rows) {
      const float *rowA = a + r * width, *rowB = b + r * width;
      agreeing += std::max_element(rowA, rowA + width) - rowA ==
                  std::max_element(rowB, rowB + width) - rowB;
    }
  }
  report.set_max_abs_deviation(maxAbs);
  report.set_max_relative_deviation(maxAbs / magnitude);
  report.set_argmax_agreement(rows ? static_cast<double>(agreeing) / rows : 1.0);
}

// The registered version whose artifact has these bytes, to be the parent.
llvm::Expected<registry::ParentSpec> registeredParent(registry::Store &store,
                                                      const std::string &path) {
  auto digest = sha256File(path);
  if (!digest)
    return digest.takeError();
  auto models = store.listModels();
  if (!models)
    return models.takeError();
  for (const auto &model : models->models()) {
    auto detail = store.describeModel(model.name());
    if (!detail)
      return detail.takeError();
    for (const proto::ModelVersion &version : detail->versions())
      if (version.digest() == digest->digest)
        return registry::ParentSpec{
            registry::VersionSelector{version.name(), version.version(), std::nullopt},
            "rewritten-from"};
  }
  return makeError(ErrorKind::NotFound, path + " is not a registered model version; register "
                                               "it first so the rewrite has a parent");
}

// A file next to `destination`, removed unless committed.
struct StagedFile {
  std::string path;
  explicit StagedFile(const std::string &destination)
      : path(destination + ".partial-" + std::to_string(::getpid())) {}
  ~StagedFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  llvm::Error commit(const std::string &destination) {
    if (llvm::Error error = checkReplaceable(destination))
      return error;
    std::error_code ec;
    std::filesystem::rename(path, destination, ec);
    if (ec)
      return makeError(ErrorKind::BadInput, destination + ": cannot write: " + ec.message());
    return llvm::Error::success();
  }
};

// Runs both models on the samples and records how far the outputs moved.
llvm::Error measureDeviation(const std::string &original, const std::string &rewritten,
                             const std::vector<Tensor> &samples, proto::RewriteReport &report) {
  auto before = executeModel(original, samples, kBatch);
  if (!before)
    return before.takeError();
  auto after = executeModel(rewritten, samples, kBatch);
  if (!after)
    return after.takeError();
  report.set_samples(samples.empty() || samples[0].shape.empty() ? 0 : samples[0].shape[0]);
  compareOutputs(*before, *after, report);
  return llvm::Error::success();
}

llvm::Expected<std::string> registerRewrite(const ParsedArgs &args, registry::Store &store,
                                            const registry::ParentSpec &parent,
                                            const proto::RewriteReport &report) {
  std::string passes;
  for (const std::string &pass : report.passes())
    passes += (passes.empty() ? "" : ",") + pass;
  registry::RegisterRequest request{optional(args, "register"),
                                    report.output(),
                                    "rewritten from " + parent.parent.name + "@" +
                                        std::to_string(*parent.parent.version) + ": " + passes,
                                    {{"rewrite.passes", passes}},
                                    {parent},
                                    currentActor()};
  auto version = store.registerVersion(request);
  if (!version)
    return version.takeError();
  return version->name() + "@" + std::to_string(version->version());
}

void printRewrite(const proto::RewriteReport &report, bool exact) {
  for (const std::string &remark : report.remarks())
    std::cout << "  " << escapeUnprintable(remark) << "\n";
  std::cout << "  on " << report.samples() << " samples: max |output change| "
            << report.max_abs_deviation() << " (relative " << report.max_relative_deviation()
            << "), argmax agreement " << report.argmax_agreement() * 100 << "%"
            << (exact ? " — within tolerance" : "") << "\n";
  for (const std::string &violation : report.violations())
    std::cout << "  violation: " << escapeUnprintable(violation)
              << " cannot be legalized for the profile\n";
  std::cout << "wrote " << report.output() << "\n";
  if (!report.registered().empty())
    std::cout << "registered " << report.registered() << " (rewritten-from lineage)\n";
}

// NaN would compare false against every deviation and pass any rewrite.
llvm::Expected<double> toleranceOf(const ParsedArgs &args) {
  double tolerance = args.values["tolerance"].as<double>();
  if (!std::isfinite(tolerance) || tolerance < 0)
    return makeError(ErrorKind::BadInput, "--tolerance " + formatNumber(tolerance) +
                                              ": the tolerance must be a finite number, 0 or more");
  return tolerance;
}

llvm::Expected<compiler::RewriteOptions> rewriteOptions(const ParsedArgs &args) {
  compiler::RewriteOptions options;
  options.foldBatchNorm = args.values["fold-bn"].as<bool>();
  options.legalizeProfile = optional(args, "legalize");
  if (std::string alpha = optional(args, "linearize"); !alpha.empty()) {
    char *end = nullptr;
    double value = std::strtod(alpha.c_str(), &end);
    if (*end != '\0' || !(value >= 0 && value < 1))
      return makeError(ErrorKind::BadInput,
                       "--linearize=" + alpha + ": the slope must be a number in [0, 1)");
    options.linearizeAlpha = value;
  }
  if (!options.foldBatchNorm && !options.linearizeAlpha && options.legalizeProfile.empty())
    return makeError(ErrorKind::BadInput,
                     "say what to rewrite: --fold-bn, --linearize[=ALPHA] or --legalize PROFILE");
  return options;
}

llvm::Expected<int> runRewrite(const ParsedArgs &args) {
  auto input = required(args, "model");
  if (!input)
    return input.takeError();
  auto output = required(args, "out");
  if (!output)
    return output.takeError();
  auto options = rewriteOptions(args);
  if (!options)
    return options.takeError();
  auto tolerance = toleranceOf(args);
  if (!tolerance)
    return tolerance.takeError();
  std::unique_ptr<registry::Store> store;
  std::optional<registry::ParentSpec> parent;
  if (std::string name = optional(args, "register"); !name.empty()) {
    if (llvm::Error error = registry::validateModelName(name))
      return error;
    auto opened = openStoreFor(args.common);
    if (!opened)
      return opened.takeError();
    store = std::move(*opened);
    auto found = registeredParent(*store, *input);
    if (!found)
      return found.takeError();
    parent = *found;
  }
  auto samplesPath = spelledEither(args, "input", "inputs");
  if (!samplesPath)
    return samplesPath.takeError();
  auto samples = sampleInputs(*input, *samplesPath);
  if (!samples)
    return samples.takeError();

  StagedFile staged(*output);
  auto summary = compiler::rewriteOnnxFile(*input, staged.path, *options);
  if (!summary)
    return summary.takeError();
  proto::RewriteReport report;
  report.set_input(*input);
  report.set_output(*output);
  for (const std::string &pass : summary->passes)
    report.add_passes(pass);
  for (const std::string &remark : summary->remarks)
    report.add_remarks(remark);
  for (const std::string &violation : summary->violations)
    report.add_violations(violation);
  if (llvm::Error error = measureDeviation(*input, staged.path, *samples, report))
    return error;
  // Folding and legalizing are exact: outputs must not move beyond float
  // rounding. Linearizing changes them on purpose; it is reported.
  bool exact = !options->linearizeAlpha;
  if (exact && report.max_relative_deviation() > *tolerance)
    return makeError(ErrorKind::BadInput, *input + ": the rewrite changed outputs by " +
                                              std::to_string(report.max_relative_deviation()) +
                                              " (relative), beyond --tolerance " +
                                              std::to_string(*tolerance) + "; nothing written");
  if (llvm::Error error = staged.commit(*output))
    return error;
  if (store) {
    auto registered = registerRewrite(args, *store, *parent, report);
    if (!registered)
      return registered.takeError();
    report.set_registered(*registered);
  }
  emit(args.common.json, report, [&] { printRewrite(report, exact); });
  return report.violations().empty() ? kSuccess : kGateFailed;
}

// ---- compat fit ---------------------------------------------------------------

llvm::Expected<Tensor> embed(const std::string &model, const Tensor &inputs) {
  auto outputs = executeModel(model, {inputs}, kBatch);
  if (!outputs)
    return outputs.takeError();
  return std::move(outputs->front());
}

llvm::Expected<int> runCompatFit(const ParsedArgs &args) {
  auto oldModel = required(args, "old");
  if (!oldModel)
    return oldModel.takeError();
  auto newModel = required(args, "new");
  if (!newModel)
    return newModel.takeError();
  auto inputsPath = spelledEither(args, "input", "inputs");
  if (!inputsPath)
    return inputsPath.takeError();
  if (inputsPath->empty())
    return makeError(ErrorKind::BadInput, "missing --input (see --help)");
  auto output = required(args, "out");
  if (!output)
    return output.takeError();
  auto inputs = readNpy(*inputsPath);
  if (!inputs)
    return inputs.takeError();
  auto oldEmbeddings = embed(*oldModel, *inputs);
  if (!oldEmbeddings)
    return oldEmbeddings.takeError();
  auto newEmbeddings = embed(*newModel, *inputs);
  if (!newEmbeddings)
    return newEmbeddings.takeError();
  auto map = gates::fitLinearMap(*newEmbeddings, *oldEmbeddings);
  if (!map)
    return makeError(ErrorKind::BadInput,
                     *inputsPath + ": " + describeError(map.takeError()).message);

  StagedFile weights(*output + ".weights.npy"), bias(*output + ".bias.npy"), staged(*output);
  if (llvm::Error error = writeNpy(weights.path, map->weights))
    return error;
  if (llvm::Error error = writeNpy(bias.path, map->bias))
    return error;
  compiler::RewriteOptions options;
  options.projectionWeights = weights.path;
  options.projectionBias = bias.path;
  auto summary = compiler::rewriteOnnxFile(*newModel, staged.path, options);
  if (!summary)
    return summary.takeError();
  proto::RewriteReport report;
  report.set_input(*newModel);
  report.set_output(*output);
  report.add_passes("append-projection");
  report.set_ridge_lambda(map->lambda);
  report.set_held_out_r2(map->heldOutR2);
  // The written model must embed like the old model's space says it should.
  auto projected = embed(staged.path, *inputs);
  if (!projected)
    return projected.takeError();
  report.set_samples(inputs->shape.empty() ? 0 : inputs->shape[0]);
  compareOutputs({*oldEmbeddings}, {*projected}, report);
  if (llvm::Error error = staged.commit(*output))
    return error;
  emit(args.common.json, report, [&] {
    std::cout << "fitted a linear map " << newEmbeddings->shape[1] << " -> "
              << oldEmbeddings->shape[1] << " dims on " << map->fitRows << " samples: ridge lambda "
              << map->lambda << " chosen on " << map->heldOutRows
              << " held-out samples (held-out R^2 " << map->heldOutR2 << ")\n"
              << "  projected embeddings vs " << *oldModel << ": max |difference| "
              << report.max_abs_deviation() << "\n"
              << "wrote " << *output << " (gate it with the compatibility gate on queries "
              << "not used for fitting)\n";
  });
  return kSuccess;
}

} // namespace

std::vector<CommandSpec> rewriteCommands() {
  return {
      {"rewrite",
       "IN.onnx --out OUT.onnx [--fold-bn] [--linearize[=ALPHA]] [--legalize PROFILE.yaml]"
       " [--input X.npy] [--register NAME]",
       "rewrite a model (fold BatchNorm, linearize, legalize for a device) and check it",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("model", po::value<std::string>(), "the ONNX model to rewrite")(
             "out", po::value<std::string>(), "where to write the rewritten model")(
             "fold-bn", po::bool_switch(), "fold BatchNormalization into Conv/Gemm")(
             "linearize", po::value<std::string>()->implicit_value("0.01"),
             "ReLU -> LeakyReLU(ALPHA), default 0.01")("legalize", po::value<std::string>(),
                                                       "rewrite ops the device profile refuses")(
             "input", po::value<std::string>(),
             "sample inputs (.npy) for the check; default: 8 seeded random samples")(
             "inputs", po::value<std::string>(), "the same as --input (older spelling)")(
             "tolerance", po::value<double>()->default_value(1e-4),
             "largest relative output change allowed for exact rewrites")(
             "register", po::value<std::string>(),
             "register the result as a version of NAME (rewritten-from lineage)");
         pos.add("model", 1);
       },
       runRewrite,
       /*runsModels=*/true},
      {"compat fit", "--old OLD.onnx --new NEW.onnx --input X.npy --out NEW_COMPAT.onnx",
       "append a learned linear map so NEW embeds into OLD's space",
       [](po::options_description &options, po::positional_options_description &) {
         options.add_options()("old", po::value<std::string>(), "the model whose space to match")(
             "new", po::value<std::string>(),
             "the model to make compatible")("input", po::value<std::string>(),
                                             "calibration samples (.npy), not the gate's queries")(
             "inputs", po::value<std::string>(), "the same as --input (older spelling)")(
             "out", po::value<std::string>(), "where to write the compatible model");
       },
       runCompatFit,
       /*runsModels=*/true},
  };
}

} // namespace graceful::cli
