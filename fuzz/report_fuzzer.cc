// The report writers, on any GateReport (binary protobuf): the HTML, JUnit
// and Markdown they render are valid UTF-8 with no control bytes but
// newlines, and no string from the report adds structure: JUnit has one
// testcase per gate, Markdown the number of lines the report's shape gives.
#include "graceful/gates/report.h"
#include "scratch_file.h"

#include <algorithm>
#include <google/protobuf/stubs/logging.h>
#include <llvm/Support/ConvertUTF.h>

using namespace graceful;

namespace {

void expectPrintable(const std::string &text, const std::string &format) {
  auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.data());
  if (!llvm::isLegalUTF8String(&begin, begin + text.size()))
    fuzz::invariantFailed(format + " report is not valid UTF-8");
  for (char c : text)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f)
      fuzz::invariantFailed(format + " report holds control byte " +
                            std::to_string(static_cast<int>(c)));
}

size_t occurrences(const std::string &text, const std::string &needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

size_t expectedMarkdownLines(const proto::GateReport &report) {
  size_t violations = 0;
  for (const proto::GateResult &gate : report.gates())
    violations += static_cast<size_t>(gate.violations_size());
  // Heading and blank, table header (2), a row per gate, the violations
  // block (blank, title, blank, an item each) and the policy line.
  return 2 + 2 + static_cast<size_t>(report.gates_size()) + (violations > 0 ? 3 + violations : 0) +
         2;
}

} // namespace

// Protobuf logs each string field that is not UTF-8; the fuzzer makes many.
extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  proto::GateReport report;
  if (!report.ParseFromArray(data, static_cast<int>(size)))
    return 0;
  std::string html = gates::renderHtml(report);
  std::string junit = gates::renderJunit(report);
  std::string markdown = gates::renderMarkdown(report);
  expectPrintable(html, "HTML");
  expectPrintable(junit, "JUnit");
  expectPrintable(markdown, "Markdown");
  if (occurrences(junit, "<testcase ") != static_cast<size_t>(report.gates_size()))
    fuzz::invariantFailed("JUnit testcases do not match the gates");
  if (size_t lines = static_cast<size_t>(std::count(markdown.begin(), markdown.end(), '\n'));
      lines != expectedMarkdownLines(report))
    fuzz::invariantFailed("Markdown has " + std::to_string(lines) + " lines, expected " +
                          std::to_string(expectedMarkdownLines(report)));
  return 0;
}
