// graceful-conformance: the ONNX backend test data through our compiler.
//
//   graceful-conformance --data DIR [--data DIR]... --unsupported LIST
//                        --results RESULTS.md [--filter SUBSTRING] [--jobs N]
//
// Each test directory holds model.onnx and test_data_set_*/{input,output}_N.pb.
// A test passes when every output matches within the ONNX backend
// tolerances (rtol 1e-3, atol 1e-7). A test listed in LIST may instead fail
// with a diagnostic saying what is unsupported; anything else — a wrong
// result, a crash, a timeout, an unexpected error — fails the run. Each test
// runs in its own process, so one crash cannot hide the rest.
#include "graceful/compiler/Exporter.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/Jit.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "graceful/support/progress.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/APFloat.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <llvm/Support/CommandLine.h>
#include <map>
#include <memory>
#include <onnx/onnx_pb.h>
#include <optional>
#include <poll.h>
#include <set>
#include <signal.h>
#include <sys/wait.h>
#include <tuple>
#include <unistd.h>

namespace cl = llvm::cl;
namespace fs = std::filesystem;
using namespace graceful;

static cl::list<std::string> dataDirs("data",
                                      cl::desc("test data directory (node, pytorch-converted)"));
static cl::opt<std::string> unsupportedList("unsupported",
                                            cl::desc("tests allowed to be unsupported"));
static cl::opt<std::string>
    excludedList("excluded", cl::desc("tests not run, one per line with its reason after a #"));
static cl::opt<std::string> resultsPath("results", cl::desc("write the results table here"));
static cl::opt<std::string> filter("filter", cl::desc("only tests whose name contains this"));
static cl::opt<int> jobs("jobs", cl::desc("tests run at once"), cl::init(2));
static cl::opt<int> timeoutSeconds("timeout", cl::desc("seconds per test"), cl::init(300));
static cl::opt<bool> roundTrip("round-trip",
                               cl::desc("run each model after import -> export to ONNX"));

namespace {

enum class Outcome { Pass, Fail, Unsupported, Excluded };

struct TestResult {
  std::string suite, name, opType;
  Outcome outcome = Outcome::Fail;
  std::string detail;
};

// A test data file. Sequences and optionals parse as nonsense tensors,
// which tensorOfProto refuses (their data does not match their dims).
llvm::Expected<Tensor> readTensorProto(const std::string &path) {
  auto bytes = readFile(path);
  if (!bytes)
    return bytes.takeError();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(*bytes))
    return makeError(ErrorKind::BadInput, path + ": not a TensorProto");
  return compiler::tensorOfProto(proto, path);
}

// NumPy has no bfloat16, so ONNX's test generator stores bfloat16 data as
// uint16 tensors of the same bits: read them as what the model declares.
void retagBFloat16(std::vector<Tensor> &tensors, const std::vector<compiler::TensorSpec> &specs) {
  for (size_t i = 0; i < tensors.size() && i < specs.size(); ++i)
    if (specs[i].dtype == DType::BFloat16 && tensors[i].dtype == DType::UInt16)
      tensors[i].dtype = DType::BFloat16;
}

// Element i as a double (an int64 beyond 2^53 rounds, as the tolerance
// allows), or nothing for a dtype without a rule: such a tensor must never
// compare equal by default.
std::optional<double> elementAt(const Tensor &tensor, size_t i) {
  auto half = [&](const llvm::fltSemantics &semantics) {
    uint16_t bits;
    std::memcpy(&bits, tensor.bytes.data() + 2 * i, 2);
    return llvm::APFloat(semantics, llvm::APInt(16, bits)).convertToDouble();
  };
  switch (tensor.dtype) {
  case DType::Float32:
    return tensor.data<float>()[i];
  case DType::Float64:
    return tensor.data<double>()[i];
  case DType::Float16:
    return half(llvm::APFloat::IEEEhalf());
  case DType::BFloat16:
    return half(llvm::APFloat::BFloat());
  case DType::Int64:
    return static_cast<double>(tensor.data<int64_t>()[i]);
  case DType::Int32:
    return tensor.data<int32_t>()[i];
  case DType::Int16:
    return tensor.data<int16_t>()[i];
  case DType::Int8:
    return tensor.data<int8_t>()[i];
  case DType::UInt64:
    return static_cast<double>(tensor.data<uint64_t>()[i]);
  case DType::UInt32:
    return tensor.data<uint32_t>()[i];
  case DType::UInt16:
    return tensor.data<uint16_t>()[i];
  case DType::UInt8:
  case DType::Bool:
    return static_cast<unsigned char>(tensor.bytes[i]);
  }
  return std::nullopt;
}

// "" when equal within rtol 1e-3, atol 1e-7 (NaN matches NaN).
std::string compare(const Tensor &expected, const Tensor &actual, size_t index) {
  std::string where = "output " + std::to_string(index);
  if (expected.dtype != actual.dtype || expected.shape != actual.shape)
    return where + ": expected " + expected.describe() + ", got " + actual.describe();
  for (size_t i = 0; i < static_cast<size_t>(expected.elementCount()); ++i) {
    std::optional<double> expectedValue = elementAt(expected, i),
                          actualValue = elementAt(actual, i);
    if (!expectedValue || !actualValue)
      return where + ": no comparison for " + expected.describe();
    double e = *expectedValue, a = *actualValue;
    if (std::isnan(e) && std::isnan(a))
      continue;
    if (std::isinf(e) && e == a)
      continue;
    if (!(std::fabs(a - e) <= 1e-7 + 1e-3 * std::fabs(e)))
      return where + " element " + std::to_string(i) + ": expected " + std::to_string(e) +
             ", got " + std::to_string(a);
  }
  return "";
}

std::vector<std::string> sortedFiles(const fs::path &directory, const std::string &prefix) {
  std::vector<std::string> files;
  for (int i = 0;; ++i) {
    fs::path file = directory / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(file))
      break;
    files.push_back(file.string());
  }
  return files;
}

// Diagnostics of what the compiler does not implement, as opposed to wrong
// behaviour.
bool isUnsupported(const std::string &message) {
  return message.find("not supported") != std::string::npos ||
         message.find("unsupported: ") != std::string::npos ||
         message.find("only tensor values are supported") != std::string::npos;
}

// The model exported back from our ONNX-level import, in a scratch file.
llvm::Expected<std::string> roundTripped(const std::string &model) {
  mlir::DialectRegistry registry;
  compiler::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = compiler::importOnnxFile(model, context);
  if (!module)
    return module.takeError();
  std::string path =
      (fs::temp_directory_path() / ("graceful-conformance-" + std::to_string(::getpid()) + ".onnx"))
          .string();
  if (llvm::Error error = compiler::exportOnnxFile(**module, path))
    return error;
  return path;
}

// Adds every input of at most kShapeInputElements elements not fixed yet
// to the fixed inputs; true when it added any.
bool fixSmallInputs(compiler::CompileOptions &options, const compiler::ModelSignature &signature,
                    const std::vector<Tensor> &inputs) {
  bool added = false;
  for (size_t i = 0; i < inputs.size() && i < signature.inputs.size(); ++i)
    if (inputs[i].elementCount() <= compiler::CompileOptions::kShapeInputElements &&
        options.fixedInputs.emplace(signature.inputs[i].name, inputs[i]).second)
      added = true;
  return added;
}

// Runs in the child: the outcome on the first line, details after.
TestResult runTest(const fs::path &directory) {
  TestResult result;
  std::string model = (directory / "model.onnx").string();
  std::string compiled = model; // what runs: the model, or its round trip
  // The scratch export goes when the test is done, whatever the outcome.
  std::shared_ptr<void> removeScratch(nullptr, [&](void *) {
    std::error_code ec;
    if (compiled != model)
      fs::remove(compiled, ec);
  });
  auto signature = compiler::readSignature(model);
  for (const auto &set : fs::directory_iterator(directory)) {
    if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0)
      continue;
    std::vector<Tensor> inputs, expected;
    for (const std::string &file : sortedFiles(set.path(), "input_")) {
      auto tensor = readTensorProto(file);
      if (!tensor) {
        result.outcome = Outcome::Unsupported;
        result.detail = describeError(tensor.takeError()).message;
        return result;
      }
      inputs.push_back(std::move(*tensor));
    }
    for (const std::string &file : sortedFiles(set.path(), "output_")) {
      auto tensor = readTensorProto(file);
      if (!tensor) {
        result.outcome = Outcome::Unsupported;
        result.detail = describeError(tensor.takeError()).message;
        return result;
      }
      expected.push_back(std::move(*tensor));
    }
    if (signature) {
      retagBFloat16(inputs, signature->inputs);
      retagBFloat16(expected, signature->outputs);
    }
    if (roundTrip && compiled == model) {
      auto exported = roundTripped(model);
      if (!exported) {
        ErrorReport report = describeError(exported.takeError());
        result.outcome = isUnsupported(report.message) ? Outcome::Unsupported : Outcome::Fail;
        result.detail = "round trip: " + report.message;
        return result;
      }
      compiled = *exported;
    }
    // No compile cache: the suite is here to exercise the compiler. Small
    // int64 inputs are shape-like operands (Reshape's shape, Unsqueeze's
    // axes, a Slice's bounds) that these tests feed as inputs, and so are
    // scalars of any type (Range's bounds, OneHot's depth, CumSum's axis,
    // Trilu's k): their values are built into the code, as an
    // initializer's would be.
    auto options = compiler::CompileOptions::withCacheDirectory("");
    if (signature) {
      options.fixShapeInputs(*signature, inputs);
      for (size_t i = 0; i < inputs.size() && i < signature->inputs.size(); ++i)
        if (inputs[i].shape.empty())
          options.fixedInputs[signature->inputs[i].name] = inputs[i];
    }
    // runModel runs a model whose shapes depend on computed values in
    // stages (see Jit.h).
    auto outputs = compiler::runModel(compiled, inputs, options);
    // A shape that depends on a small float input (Resize's scales and roi)
    // is static once that input is fixed too: compile again so, and only
    // then, so other tests keep taking their small inputs at run time.
    if (!outputs && signature && fixSmallInputs(options, *signature, inputs)) {
      ErrorReport first = describeError(outputs.takeError());
      if (isUnsupported(first.message))
        outputs = compiler::runModel(compiled, inputs, options);
      else
        outputs = makeError(ErrorKind::BadInput, first.message);
    }
    if (!outputs) {
      ErrorReport report = describeError(outputs.takeError());
      result.outcome = isUnsupported(report.message) ? Outcome::Unsupported : Outcome::Fail;
      // Name the test's model, not the scratch file of a round trip.
      result.detail = report.message;
      for (size_t at;
           compiled != model && (at = result.detail.find(compiled)) != std::string::npos;)
        result.detail.replace(at, compiled.size(), model);
      return result;
    }
    for (size_t i = 0; i < expected.size() && i < outputs->size(); ++i)
      if (std::string mismatch = compare(expected[i], (*outputs)[i], i); !mismatch.empty()) {
        result.detail = set.path().filename().string() + ": " + mismatch;
        return result;
      }
  }
  if (!signature)
    llvm::consumeError(signature.takeError());
  result.outcome = Outcome::Pass;
  return result;
}

std::string opTypeOf(const fs::path &directory) {
  onnx::ModelProto model;
  std::ifstream in(directory / "model.onnx", std::ios::binary);
  if (!model.ParseFromIstream(&in) || model.graph().node_size() == 0)
    return "?";
  std::set<std::string> types;
  for (const auto &node : model.graph().node())
    types.insert(node.op_type());
  if (types.size() == 1)
    return *types.begin();
  // Models of several nodes are named after their first op.
  return model.graph().node(0).op_type() + "+";
}

struct Child {
  pid_t pid;
  int fd;
  size_t index;
  std::string output;
  std::chrono::steady_clock::time_point started;
};

Child startChild(const fs::path &directory, size_t index) {
  int pipeFds[2];
  if (::pipe(pipeFds) != 0)
    std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipeFds[0]);
    TestResult result = runTest(directory);
    std::string text = std::to_string(static_cast<int>(result.outcome)) + "\n" + result.detail;
    (void)!::write(pipeFds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(pipeFds[1]);
  return Child{pid, pipeFds[0], index, "", std::chrono::steady_clock::now()};
}

TestResult finishChild(Child &child, bool timedOut) {
  TestResult result;
  int status = 0;
  if (timedOut)
    ::kill(child.pid, SIGKILL);
  ::waitpid(child.pid, &status, 0);
  ::close(child.fd);
  if (timedOut) {
    result.detail = "timed out after " + std::to_string(timeoutSeconds) + " s";
  } else if (!WIFEXITED(status) || child.output.empty()) {
    result.detail = WIFSIGNALED(status) ? std::string("crashed: ") + strsignal(WTERMSIG(status))
                                        : "exited without a result";
  } else {
    size_t newline = child.output.find('\n');
    result.outcome = static_cast<Outcome>(std::stoi(child.output.substr(0, newline)));
    result.detail = foldLines(child.output.substr(newline + 1));
  }
  return result;
}

std::vector<TestResult> runAll(const std::vector<std::pair<std::string, fs::path>> &tests) {
  std::vector<TestResult> results(tests.size());
  std::vector<Child> running;
  size_t next = 0, done = 0;
  ProgressBar bar("conformance", static_cast<int64_t>(tests.size()));
  while (done < tests.size()) {
    while (running.size() < static_cast<size_t>(std::max(1, jobs.getValue())) &&
           next < tests.size()) {
      running.push_back(startChild(tests[next].second, next));
      ++next;
    }
    std::vector<pollfd> fds;
    for (const Child &child : running)
      fds.push_back({child.fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 200);
    for (size_t i = 0; i < running.size();) {
      Child &child = running[i];
      bool finished = false;
      if (fds[i].revents & (POLLIN | POLLHUP)) {
        char buffer[4096];
        ssize_t got = ::read(child.fd, buffer, sizeof buffer);
        if (got > 0)
          child.output.append(buffer, static_cast<size_t>(got));
        else
          finished = true;
      }
      bool timedOut =
          std::chrono::steady_clock::now() - child.started > std::chrono::seconds(timeoutSeconds);
      if (finished || timedOut) {
        TestResult result = finishChild(child, timedOut && !finished);
        result.suite = tests[child.index].first;
        result.name = tests[child.index].second.filename().string();
        result.opType = opTypeOf(tests[child.index].second);
        results[child.index] = result;
        ++done;
        bar.update(static_cast<int64_t>(done), result.name);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  bar.finish();
  return results;
}

std::string trimmed(std::string text) {
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  return text;
}

// Test names, one per line, each with what follows its '#'.
std::map<std::string, std::string> readList(const std::string &path) {
  std::map<std::string, std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t hash = line.find('#');
    std::string name = trimmed(line.substr(0, hash));
    if (!name.empty())
      names[name] = hash == std::string::npos ? "" : trimmed(line.substr(hash + 1));
  }
  return names;
}

const char *label(Outcome outcome) {
  switch (outcome) {
  case Outcome::Pass:
    return "pass";
  case Outcome::Fail:
    return "FAIL";
  case Outcome::Unsupported:
    return "unsupported";
  case Outcome::Excluded:
    break;
  }
  return "excluded";
}

void writeResults(const std::vector<TestResult> &results, const std::string &path) {
  std::ofstream out(path);
  std::map<std::string, std::array<int, 4>> byOp;
  std::array<int, 4> totals{};
  for (const TestResult &r : results) {
    ++byOp[r.opType][static_cast<size_t>(r.outcome)];
    ++totals[static_cast<size_t>(r.outcome)];
  }
  out << "# ONNX backend conformance\n\n"
      << "Generated by `graceful-conformance` over Debian's libonnx-testdata (`node` and "
         "`pytorch-converted`), tolerances rtol 1e-3, atol 1e-7."
      << (roundTrip ? " Each model runs after an import -> export round trip through "
                      "graceful's ONNX dialect."
                    : "")
      << "\n\n"
      << "Total: " << totals[0] << " pass, " << totals[1] << " fail, " << totals[2]
      << " unsupported, " << totals[3] << " excluded";
  if (int run = totals[0] + totals[1] + totals[2]; run > 0)
    out << "; " << std::fixed << std::setprecision(1) << 100.0 * totals[0] / run
        << "% of the tests not excluded pass";
  out << ".\n\n## Excluded\n\nNot run, each for the reason given (`excluded.txt`):\n\n";
  for (const TestResult &r : results)
    if (r.outcome == Outcome::Excluded)
      out << "- " << r.name << ": " << r.detail << "\n";
  out << "\n## By op type\n\n| op type | pass | fail | unsupported | excluded "
         "|\n|---|---|---|---|---|\n";
  for (const auto &[op, counts] : byOp)
    out << "| " << op << " | " << counts[0] << " | " << counts[1] << " | " << counts[2] << " | "
        << counts[3] << " |\n";
  out << "\n## By test\n\n| suite | test | op type | result | detail |\n|---|---|---|---|---|\n";
  for (const TestResult &r : results) {
    std::string detail = r.detail.substr(0, 160);
    std::replace(detail.begin(), detail.end(), '|', '/');
    out << "| " << r.suite << " | " << r.name << " | " << r.opType << " | " << label(r.outcome)
        << " | " << (r.outcome == Outcome::Pass ? "" : detail) << " |\n";
  }
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "graceful-conformance\n");
  std::vector<std::pair<std::string, fs::path>> tests;
  for (const std::string &dir : dataDirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      std::cerr << "graceful-conformance: error: " << dir << ": no such directory\n";
      return 2;
    }
    std::vector<fs::path> found;
    for (const auto &entry : fs::directory_iterator(dir))
      if (entry.is_directory() && fs::exists(entry.path() / "model.onnx") &&
          entry.path().filename().string().find(filter.getValue()) != std::string::npos)
        found.push_back(entry.path());
    std::sort(found.begin(), found.end());
    for (const fs::path &path : found)
      tests.emplace_back(fs::path(dir).filename().string(), path);
  }
  std::map<std::string, std::string> allowed = readList(unsupportedList);
  std::map<std::string, std::string> excluded = readList(excludedList);
  std::vector<std::pair<std::string, fs::path>> toRun;
  std::vector<TestResult> notRun;
  for (const auto &test : tests) {
    auto reason = excluded.find(test.second.filename().string());
    if (reason == excluded.end()) {
      toRun.push_back(test);
      continue;
    }
    notRun.push_back(TestResult{test.first, reason->first, opTypeOf(test.second), Outcome::Excluded,
                                reason->second});
  }
  std::vector<TestResult> results = runAll(toRun);
  results.insert(results.end(), notRun.begin(), notRun.end());
  std::sort(results.begin(), results.end(), [](const TestResult &a, const TestResult &b) {
    return std::tie(a.suite, a.name) < std::tie(b.suite, b.name);
  });
  if (!resultsPath.empty())
    writeResults(results, resultsPath);
  int passed = 0, failed = 0, unsupported = 0;
  for (const TestResult &r : results) {
    bool listed = allowed.contains(r.name);
    if (r.outcome == Outcome::Excluded)
      continue;
    if (r.outcome == Outcome::Pass) {
      ++passed;
      if (listed)
        std::cout << "note: " << r.name << " passes; remove it from the unsupported list\n";
    } else if (r.outcome == Outcome::Unsupported && listed) {
      ++unsupported;
    } else {
      ++failed;
      std::cout << label(r.outcome) << ": " << r.suite << "/" << r.name << ": " << r.detail
                << (r.outcome == Outcome::Unsupported ? " (not in the unsupported list)" : "")
                << "\n";
    }
  }
  std::cout << "conformance: " << passed << " passed, " << failed << " failed, " << unsupported
            << " skipped, " << notRun.size() << " excluded\n";
  return failed == 0 ? 0 : 1;
}
