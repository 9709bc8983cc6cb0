#include "graceful/compiler/Profile.h"

#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Jit.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/format.h"
#include "graceful/support/yaml_proto.h"
#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <filesystem>
#include <onnx/onnx_pb.h>
#include <optional>

namespace graceful::compiler {
namespace {

// Profiles name element types as ONNX and NumPy do; the analysis reports
// MLIR's spelling.
std::string dtypeSpelling(const std::string &mlirType) {
  static const std::map<std::string, std::string> names = {
      {"f16", "float16"}, {"bf16", "bfloat16"}, {"f32", "float32"}, {"f64", "float64"},
      {"i1", "bool"},     {"i8", "int8"},       {"ui8", "uint8"},   {"i16", "int16"},
      {"i32", "int32"},   {"i64", "int64"},     {"ui16", "uint16"}, {"ui32", "uint32"},
      {"ui64", "uint64"}};
  auto it = names.find(mlirType);
  return it == names.end() ? mlirType : it->second;
}

int64_t defaultOpset(const onnx::ModelProto &model) {
  for (const auto &opset : model.opset_import())
    if (opset.domain().empty() || opset.domain() == "ai.onnx")
      return opset.version();
  return 0;
}

// Checks the model's inputs against the profile; returns the input shapes
// to analyse with when the profile's input shape applies.
std::optional<std::vector<std::vector<int64_t>>> checkInputs(const ModelSignature &signature,
                                                             const proto::DeviceProfile &profile,
                                                             std::vector<std::string> &violations) {
  std::vector<std::vector<int64_t>> shapes;
  for (const TensorSpec &input : signature.inputs) {
    shapes.push_back(input.shape);
    for (size_t d = 0; d < input.shape.size(); ++d)
      if (profile.static_shapes() && input.shape[d] < 0)
        violations.push_back("input '" + input.name + "' dim " + std::to_string(d) +
                             " is dynamic; the device needs static shapes");
  }
  if (profile.input_shape().empty())
    return std::nullopt;
  std::vector<int64_t> wanted(profile.input_shape().begin(), profile.input_shape().end());
  if (signature.inputs.size() != 1) {
    violations.push_back("input_shape: the device feeds one input, the model has " +
                         std::to_string(signature.inputs.size()));
    return std::nullopt;
  }
  const TensorSpec &input = signature.inputs.front();
  bool fits = input.shape.size() == wanted.size();
  for (size_t d = 0; fits && d < wanted.size(); ++d)
    fits = input.shape[d] < 0 || input.shape[d] == wanted[d];
  if (!fits) {
    auto shapeText = [](const std::vector<int64_t> &shape) {
      std::string text;
      for (int64_t dim : shape)
        text += (text.empty() ? "" : "x") + (dim < 0 ? std::string("?") : std::to_string(dim));
      return "[" + text + "]";
    };
    violations.push_back("input '" + input.name + "' has shape " + shapeText(input.shape) +
                         "; the device feeds " + shapeText(wanted));
    return std::nullopt;
  }
  shapes.front() = wanted;
  return shapes;
}

void checkLimit(const char *limit, bool set, double budget, double measured, ProfileCheck &check) {
  if (!set)
    return;
  check.budgets.push_back(BudgetUse{limit, measured, budget});
  if (measured > budget)
    check.violations.push_back(std::string(limit) + ": the model has " +
                               formatNumber(measured, 15) + ", the budget is " +
                               formatNumber(budget, 15));
}

void checkArchitecture(const proto::DeviceProfile &profile, ProfileCheck &check) {
  const ModelAnalysis &analysis = check.analysis;
  if (!profile.allowed_ops().empty())
    for (const auto &[op, count] : analysis.opCounts)
      if (std::find(profile.allowed_ops().begin(), profile.allowed_ops().end(), op) ==
          profile.allowed_ops().end())
        check.violations.push_back("op " + op + " (" + std::to_string(count) + " node" +
                                   (count == 1 ? "" : std::string("s")) +
                                   ") is not among the device's allowed ops");
  if (profile.has_min_opset() && check.opset < profile.min_opset())
    check.violations.push_back("opset " + std::to_string(check.opset) + " is below min_opset " +
                               std::to_string(profile.min_opset()));
  if (profile.has_max_opset() && check.opset > profile.max_opset())
    check.violations.push_back("opset " + std::to_string(check.opset) + " is above max_opset " +
                               std::to_string(profile.max_opset()));
  if (!profile.dtypes().empty())
    for (const std::string &dtype : analysis.dtypes)
      if (std::string name = dtypeSpelling(dtype);
          std::find(profile.dtypes().begin(), profile.dtypes().end(), name) ==
          profile.dtypes().end())
        check.violations.push_back("dtype " + name + " is not among the device's dtypes");
  checkLimit("max_params", profile.has_max_params(), profile.max_params(),
             static_cast<double>(analysis.parameters), check);
  checkLimit("max_macs", profile.has_max_macs(), profile.max_macs(),
             static_cast<double>(analysis.macs), check);
  checkLimit("max_peak_activation_bytes", profile.has_max_peak_activation_bytes(),
             profile.max_peak_activation_bytes(), static_cast<double>(analysis.peakActivationBytes),
             check);
  checkLimit("max_model_bytes", profile.has_max_model_bytes(), profile.max_model_bytes(),
             static_cast<double>(check.modelBytes), check);
}

} // namespace

llvm::Expected<proto::DeviceProfile> loadDeviceProfile(const std::string &path) {
  auto text = readFile(path);
  if (!text)
    return text.takeError();
  return parseDeviceProfile(*text, path);
}

llvm::Expected<proto::DeviceProfile> parseDeviceProfile(const std::string &text,
                                                        const std::string &path) {
  auto root = parseYaml(text, path);
  if (!root)
    return root.takeError();
  proto::DeviceProfile profile;
  if (llvm::Error error = readYamlInto(*root, profile, path))
    return error;
  if (profile.has_min_opset() && profile.has_max_opset() &&
      profile.min_opset() > profile.max_opset())
    return makeError(ErrorKind::BadInput, path + ": min_opset is above max_opset");
  for (int64_t dim : profile.input_shape())
    if (dim < 1)
      return makeError(ErrorKind::BadInput, path + ": input_shape dimensions must be >= 1");
  return profile;
}

llvm::Expected<ProfileCheck> checkProfile(const std::string &onnxPath,
                                          const proto::DeviceProfile &profile) {
  onnx::ModelProto model;
  if (llvm::Error error = readOnnxModel(onnxPath, model))
    return error;
  auto signature = readSignature(onnxPath);
  if (!signature)
    return signature.takeError();
  ProfileCheck check;
  std::error_code ec;
  check.modelBytes = static_cast<int64_t>(std::filesystem::file_size(onnxPath, ec));
  check.opset = defaultOpset(model);
  if (auto shapes = checkInputs(*signature, profile, check.violations))
    if (llvm::Error error = specializeInputShapes(model, *shapes, onnxPath))
      return error;
  mlir::DialectRegistry registry;
  registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = importOnnxModel(std::move(model), onnxPath, context);
  if (!module)
    return module.takeError();
  auto analysis = analyzeModule(**module);
  if (!analysis)
    return analysis.takeError();
  check.analysis = std::move(*analysis);
  checkArchitecture(profile, check);
  return check;
}

} // namespace graceful::compiler
