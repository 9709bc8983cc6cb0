// Device profiles: what a target device accepts (ops, opsets, dtypes, size
// and compute budgets, static shapes), checked with the model's analysis.
#pragma once

#include "graceful/compiler/Analysis.h"
#include "graceful/policy.pb.h"

#include <llvm/Support/Error.h>
#include <string>
#include <vector>

namespace graceful::compiler {

// Reads a profile YAML; unknown keys and wrong types name the file and line.
llvm::Expected<proto::DeviceProfile> loadDeviceProfile(const std::string &path);
// The same for a profile's text already read from `path`.
llvm::Expected<proto::DeviceProfile> parseDeviceProfile(const std::string &text,
                                                        const std::string &path);

// One numeric limit of a profile and how much of it the model uses.
struct BudgetUse {
  std::string limit; // "max_params"
  double measured = 0;
  double budget = 0;
};

struct ProfileCheck {
  ModelAnalysis analysis;              // for the profile's input shape when it sets one
  int64_t modelBytes = 0;              // the ONNX file's size
  int64_t opset = 0;                   // the model's own default-domain opset
  std::vector<std::string> violations; // each names the op or limit, value and budget
  std::vector<BudgetUse> budgets;      // every numeric limit the profile sets
};

// Analyses `onnxPath` and checks it against `profile`. Errors only for
// models that cannot be read; everything the device refuses is a violation.
llvm::Expected<ProfileCheck> checkProfile(const std::string &onnxPath,
                                          const proto::DeviceProfile &profile);

} // namespace graceful::compiler
