// JUnit XML and Markdown renderings of a gate report, and writing reports.
#include "graceful/gates/gate.h"
#include "graceful/gates/report.h"
#include "graceful/support/files.h"
#include "graceful/support/format.h"
#include "report_common.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <string_view>

namespace graceful::gates {

Comparison comparisonOf(const proto::GateReport &report) {
  std::set<std::string> compared;
  bool recorded = false;
  for (const proto::GateResult &gate : report.gates()) {
    auto it = gate.details().find(std::string(kComparedWith));
    if (it == gate.details().end())
      continue;
    recorded = true;
    std::istringstream versions(it->second);
    for (std::string version; std::getline(versions, version, ',');)
      if (size_t start = version.find_first_not_of(' '); start != std::string::npos)
        compared.insert(version.substr(start));
  }
  if (!recorded && !report.baseline().empty())
    compared.insert(report.baseline());
  Comparison comparison{{compared.begin(), compared.end()}, ""};
  if (!report.baseline().empty() && !compared.contains(report.baseline()))
    comparison.unusedBaseline = report.baseline();
  return comparison;
}

std::string describeComparison(const proto::GateReport &report, const std::string &connective,
                               const std::function<std::string(const std::string &)> &quote,
                               const std::string &none) {
  Comparison comparison = comparisonOf(report);
  std::string text;
  for (const std::string &version : comparison.versions)
    text += (text.empty() ? connective : ", ") + quote(version);
  if (!comparison.unusedBaseline.empty())
    text += " (no gate compared it with the baseline " + quote(comparison.unusedBaseline) + ")";
  return text.empty() ? none : text;
}

std::string renderJunit(const proto::GateReport &report) {
  int failures = 0, skipped = 0;
  for (const proto::GateResult &gate : report.gates()) {
    failures += gate.verdict() == "fail";
    skipped += gate.verdict() == "no baseline";
  }
  std::ostringstream xml;
  xml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"graceful\" tests=\"" << report.gates_size() << "\" failures=\""
      << failures << "\">\n"
      << "  <testsuite name=\""
      << escapeMarkup(report.candidate() + describeComparison(
                                               report, " vs ",
                                               [](const std::string &text) { return text; },
                                               " vs no baseline"))
      << "\" tests=\"" << report.gates_size() << "\" failures=\"" << failures << "\" skipped=\""
      << skipped << "\">\n"
      << "    <properties>\n"
      << "      <property name=\"policy_digest\" value=\"" << escapeMarkup(report.policy_digest())
      << "\"/>\n"
      << "      <property name=\"data_digest\" value=\"" << escapeMarkup(report.data_digest())
      << "\"/>\n"
      << "    </properties>\n";
  for (const proto::GateResult &gate : report.gates()) {
    xml << "    <testcase classname=\"graceful.gates\" name=\"" << escapeMarkup(gate.name())
        << "\">\n";
    if (gate.verdict() == "fail") {
      std::string message = gate.violations().empty() ? "failed" : gate.violations(0);
      xml << "      <failure message=\"" << escapeMarkup(message) << "\">";
      for (const std::string &violation : gate.violations())
        xml << escapeMarkup(violation) << "\n";
      xml << "</failure>\n";
    } else if (gate.verdict() == "no baseline") {
      xml << "      <skipped message=\"no baseline to compare with\"/>\n";
    }
    xml << "      <system-out>";
    for (const auto &[name, value] : sortedMetrics(gate))
      xml << escapeMarkup(name + " = " + value) << "\n";
    xml << "</system-out>\n    </testcase>\n";
  }
  xml << "  </testsuite>\n</testsuites>\n";
  return xml.str();
}

std::string escapeMarkdown(const std::string &text) {
  std::string escaped;
  for (char c : escapeUnprintable(text)) {
    if (std::string_view("\\`*_[]()!<>&~|#$").find(c) != std::string_view::npos)
      escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string markdownCode(const std::string &text) {
  std::string content = escapeUnprintable(text);
  size_t longest = 0, run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  // CommonMark strips one space from each end when both ends have one, and
  // a backtick at an end would merge with the fence.
  bool pad = !content.empty() && (content.front() == '`' || content.back() == '`' ||
                                  (content.front() == ' ' && content.back() == ' '));
  std::string fence(longest + 1, '`'), space(pad ? " " : "");
  return fence + space + content + space + fence;
}

std::string renderMarkdown(const proto::GateReport &report) {
  std::ostringstream md;
  md << "### graceful: " << (report.verdict() == "pass" ? "✅ pass" : "❌ fail") << " — "
     << markdownCode(report.candidate())
     << describeComparison(report, " vs ", markdownCode, " (no baseline)")
     << "\n\n| gate | verdict | metrics |\n|---|---|---|\n";
  for (const proto::GateResult &gate : report.gates()) {
    md << "| " << escapeMarkdown(gate.name()) << " | " << escapeMarkdown(gate.verdict()) << " | ";
    std::string separator;
    for (const auto &[name, value] : sortedMetrics(gate)) {
      md << separator << escapeMarkdown(name) << " " << escapeMarkdown(value);
      separator = ", ";
    }
    md << " |\n";
  }
  bool anyViolation = false;
  for (const proto::GateResult &gate : report.gates())
    for (const std::string &violation : gate.violations()) {
      if (!anyViolation)
        md << "\n**Violations**\n\n";
      anyViolation = true;
      // Emphasis first, so no text of ours starts the item's block.
      md << "- **" << escapeMarkdown(gate.name()) << "**: " << escapeMarkdown(violation) << "\n";
    }
  md << "\npolicy " << markdownCode(report.policy_digest()) << "\n";
  return md.str();
}

llvm::Error checkReportPaths(const ReportPaths &paths) {
  for (const std::string *path : {&paths.html, &paths.junit, &paths.markdown})
    if (!path->empty())
      if (llvm::Error error = checkReplaceable(*path))
        return error;
  return llvm::Error::success();
}

llvm::Error writeReports(const proto::GateReport &report, const ReportPaths &paths) {
  // All targets first: one refused path writes none of the reports.
  if (llvm::Error error = checkReportPaths(paths))
    return error;
  for (auto [path, render] : {std::pair{&paths.html, &renderHtml},
                              {&paths.junit, &renderJunit},
                              {&paths.markdown, &renderMarkdown}})
    if (!path->empty())
      if (llvm::Error error = writeFileAtomically(*path, render(report)))
        return error;
  return llvm::Error::success();
}

} // namespace graceful::gates
