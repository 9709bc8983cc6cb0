// Commands that read models through the compiler: inspect.
#include "command.h"
#include "graceful/analysis.pb.h"
#include "graceful/compiler/Analysis.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Jit.h"
#include "graceful/compiler/Profile.h"
#include "graceful/support/error.h"
#include "graceful/support/format.h"
#include "graceful/support/progress.h"
#include "graceful/support/tensor.h"
#include "mlir/IR/MLIRContext.h"
#include "output.h"

#include <filesystem>
#include <iomanip>
#include <iostream>

namespace graceful::cli {
namespace {

proto::ModelInspection toInspection(const std::string &path,
                                    const compiler::ModelAnalysis &analysis) {
  proto::ModelInspection inspection;
  inspection.set_model(path);
  for (const auto &[op, count] : analysis.opCounts)
    (*inspection.mutable_ops())[op] = static_cast<int32_t>(count);
  inspection.set_params(static_cast<double>(analysis.parameters));
  inspection.set_buffers(static_cast<double>(analysis.buffers));
  inspection.set_macs(static_cast<double>(analysis.macs));
  for (const auto &[op, macs] : analysis.macsByOpType)
    (*inspection.mutable_macs_by_op())[op] = static_cast<double>(macs);
  inspection.set_peak_activation_bytes(static_cast<double>(analysis.peakActivationBytes));
  std::error_code ec;
  inspection.set_model_bytes(static_cast<double>(std::filesystem::file_size(path, ec)));
  inspection.set_weight_bytes(static_cast<double>(analysis.weightBytes));
  for (const auto &[domain, version] : analysis.opsets)
    (*inspection.mutable_opsets())[domain] = static_cast<int32_t>(version);
  for (const std::string &dtype : analysis.dtypes)
    inspection.add_dtypes(dtype);
  for (const std::string &dim : analysis.dynamicDimensions)
    inspection.add_dynamic_dims(dim);
  return inspection;
}

std::string humanCount(double value) {
  std::ostringstream text;
  if (value >= 1e9)
    text << std::fixed << std::setprecision(3) << value / 1e9 << " G";
  else if (value >= 1e6)
    text << std::fixed << std::setprecision(3) << value / 1e6 << " M";
  else
    text << static_cast<int64_t>(value) << " ";
  return text.str();
}

void printInspection(const proto::ModelInspection &inspection) {
  std::cout << inspection.model() << "\n"
            << "  params:          " << static_cast<int64_t>(inspection.params()) << " ("
            << humanCount(inspection.params()) << ")\n"
            << "  buffers:         " << static_cast<int64_t>(inspection.buffers()) << "\n"
            << "  MACs:            " << static_cast<int64_t>(inspection.macs()) << " ("
            << humanCount(inspection.macs()) << ")\n"
            << "  peak activation: " << humanCount(inspection.peak_activation_bytes()) << "B\n"
            << "  model file:      " << humanCount(inspection.model_bytes()) << "B\n";
  std::cout << "  opsets:         ";
  for (const auto &[domain, version] : inspection.opsets())
    std::cout << " " << escapeUnprintable(domain) << "=" << version;
  std::cout << "\n  dtypes:         ";
  for (const std::string &dtype : inspection.dtypes())
    std::cout << " " << dtype;
  std::cout << "\n";
  for (const std::string &dim : inspection.dynamic_dims())
    std::cout << "  dynamic:         " << escapeUnprintable(dim) << " (figures take it as 1)\n";
  std::map<std::string, int32_t> ops(inspection.ops().begin(), inspection.ops().end());
  std::cout << "  ops:\n";
  for (const auto &[op, count] : ops) {
    std::cout << "    " << std::left << std::setw(24) << escapeUnprintable(op) << std::right
              << std::setw(6) << count;
    if (auto it = inspection.macs_by_op().find(op); it != inspection.macs_by_op().end())
      std::cout << "   " << humanCount(it->second) << "MACs";
    std::cout << "\n";
  }
  if (inspection.verdict().empty())
    return;
  std::cout << "  profile " << inspection.profile() << ": " << inspection.verdict() << "\n";
  for (const std::string &violation : inspection.violations())
    std::cout << "    violation: " << escapeUnprintable(violation) << "\n";
}

llvm::Expected<int> inspectWithProfile(const std::string &path, const std::string &profilePath,
                                       bool json) {
  auto profile = compiler::loadDeviceProfile(profilePath);
  if (!profile)
    return profile.takeError();
  auto check = compiler::checkProfile(path, *profile);
  if (!check)
    return check.takeError();
  proto::ModelInspection inspection = toInspection(path, check->analysis);
  inspection.set_profile(profile->name().empty() ? profilePath : profile->name());
  inspection.set_verdict(check->violations.empty() ? "pass" : "fail");
  for (const std::string &violation : check->violations)
    inspection.add_violations(violation);
  emit(json, inspection, [&] { printInspection(inspection); });
  return check->violations.empty() ? kSuccess : kGateFailed;
}

llvm::Expected<int> runInspect(const ParsedArgs &args) {
  auto path = required(args, "model");
  if (!path)
    return path.takeError();
  if (std::string profile = optional(args, "profile"); !profile.empty())
    return inspectWithProfile(*path, profile, args.common.json);
  mlir::DialectRegistry registry;
  compiler::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = compiler::importOnnxFile(*path, context);
  if (!module)
    return module.takeError();
  auto analysis = compiler::analyzeModule(**module);
  if (!analysis)
    return analysis.takeError();
  proto::ModelInspection inspection = toInspection(*path, *analysis);
  emit(args.common.json, inspection, [&] { printInspection(inspection); });
  return kSuccess;
}

} // namespace

llvm::Expected<std::vector<Tensor>> executeModel(const std::string &path,
                                                 const std::vector<Tensor> &inputs, int64_t batch) {
  // Read once: the signature checked, the code compiled and the digest
  // keyed are all of the same bytes.
  auto model = compiler::loadModel(path);
  if (!model)
    return model.takeError();
  const compiler::ModelSignature *signature = &model->signature;
  if (signature->inputs.size() != inputs.size())
    return makeError(ErrorKind::BadInput,
                     path + ": the model has " + std::to_string(signature->inputs.size()) +
                         " inputs, " + std::to_string(inputs.size()) + " --input files were given");
  // Small int64 inputs (a Reshape's shape, axes) shape the graph: they are
  // built into the compiled code, and such a model runs unbatched.
  compiler::CompileOptions options;
  bool shapeInputs = options.fixShapeInputs(*signature, inputs) > 0;
  bool batchable = batch > 0 && !shapeInputs && !inputs.empty();
  for (size_t i = 0; i < inputs.size(); ++i)
    batchable = batchable && !signature->inputs[i].shape.empty() &&
                signature->inputs[i].shape[0] < 0 && !inputs[i].shape.empty() &&
                inputs[i].shape[0] == inputs[0].shape[0];
  if (batchable && inputs[0].shape[0] > batch) {
    ProgressBar bar("run " + path, inputs[0].shape[0]);
    return compiler::runBatched(*model, inputs, batch,
                                [&](int64_t done, int64_t) { bar.update(done); });
  }
  return compiler::runModel(*model, inputs, options);
}

namespace {

llvm::Expected<int> runRun(const ParsedArgs &args) {
  auto path = required(args, "model");
  if (!path)
    return path.takeError();
  std::vector<std::string> inputPaths = many(args, "input"), outputPaths = many(args, "output");
  // A model without inputs (a table such as MelWeightMatrix) takes none.
  if (outputPaths.empty())
    return makeError(ErrorKind::BadInput, "graceful run needs --output files");
  std::vector<Tensor> inputs;
  for (const std::string &input : inputPaths) {
    auto tensor = readNpy(input);
    if (!tensor)
      return tensor.takeError();
    inputs.push_back(std::move(*tensor));
  }
  auto outputs = executeModel(*path, inputs, args.values["batch"].as<int64_t>());
  if (!outputs)
    return outputs.takeError();
  if (outputs->size() != outputPaths.size())
    return makeError(ErrorKind::BadInput,
                     *path + ": the model has " + std::to_string(outputs->size()) + " outputs, " +
                         std::to_string(outputPaths.size()) + " --output files were given");
  for (size_t i = 0; i < outputs->size(); ++i)
    if (llvm::Error error = writeNpy(outputPaths[i], (*outputs)[i]))
      return error;
  if (!args.common.json)
    for (size_t i = 0; i < outputs->size(); ++i)
      std::cout << "wrote " << outputPaths[i] << " " << (*outputs)[i].describe() << "\n";
  return kSuccess;
}

} // namespace

std::vector<CommandSpec> compilerCommands() {
  return {
      {"inspect", "FILE.onnx [--profile PROFILE.yaml]",
       "report a model's ops, parameters, MACs, peak activation memory and size",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("model", po::value<std::string>(), "ONNX model file")(
             "profile", po::value<std::string>(),
             "check against a device profile (exit 1 on violations)");
         pos.add("model", 1);
       },
       runInspect},
      {"run", "FILE.onnx --input X.npy [--input X2.npy]... --output Y.npy [--output Y2.npy]...",
       "run a model on .npy arrays with the graceful compiler",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("model", po::value<std::string>(), "ONNX model file")(
             "input", po::value<std::vector<std::string>>(),
             "one .npy per graph input, in order")("output", po::value<std::vector<std::string>>(),
                                                   "one .npy per graph output, in order")(
             "batch", po::value<int64_t>()->default_value(256),
             "samples per compiled batch when the model's first axis is open");
         pos.add("model", 1);
       },
       runRun,
       /*runsModels=*/true},
  };
}

} // namespace graceful::cli
