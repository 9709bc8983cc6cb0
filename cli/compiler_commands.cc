// Commands that read models through the compiler: inspect.
#include "command.h"
#include "output.h"

#include "graceful/analysis.pb.h"
#include "graceful/compiler/Analysis.h"
#include "graceful/compiler/Importer.h"

#include "mlir/IR/MLIRContext.h"

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
    std::cout << " " << domain << "=" << version;
  std::cout << "\n  dtypes:         ";
  for (const std::string &dtype : inspection.dtypes())
    std::cout << " " << dtype;
  std::cout << "\n";
  for (const std::string &dim : inspection.dynamic_dims())
    std::cout << "  dynamic:         " << dim << " (figures take it as 1)\n";
  std::map<std::string, int32_t> ops(inspection.ops().begin(), inspection.ops().end());
  std::cout << "  ops:\n";
  for (const auto &[op, count] : ops) {
    std::cout << "    " << std::left << std::setw(24) << op << std::right << std::setw(6)
              << count;
    if (auto it = inspection.macs_by_op().find(op); it != inspection.macs_by_op().end())
      std::cout << "   " << humanCount(it->second) << "MACs";
    std::cout << "\n";
  }
}

llvm::Expected<int> runInspect(const ParsedArgs &args) {
  auto path = required(args, "model");
  if (!path)
    return path.takeError();
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

std::vector<CommandSpec> compilerCommands() {
  return {
      {"inspect", "FILE.onnx",
       "report a model's ops, parameters, MACs, peak activation memory and size",
       [](po::options_description &options, po::positional_options_description &pos) {
         options.add_options()("model", po::value<std::string>(), "ONNX model file");
         pos.add("model", 1);
       },
       runInspect},
  };
}

} // namespace graceful::cli
