// JUnit XML and Markdown renderings of a gate report, and writing reports.
#include "graceful/gates/report.h"
#include "graceful/support/files.h"
#include "report_common.h"

#include <sstream>

namespace graceful::gates {

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
      << "  <testsuite name=\"" << escapeMarkup(report.candidate()) << " vs "
      << escapeMarkup(report.baseline().empty() ? "no baseline" : report.baseline())
      << "\" tests=\"" << report.gates_size() << "\" failures=\"" << failures << "\" skipped=\""
      << skipped << "\">\n"
      << "    <properties>\n"
      << "      <property name=\"policy_digest\" value=\"" << report.policy_digest() << "\"/>\n"
      << "      <property name=\"data_digest\" value=\"" << report.data_digest() << "\"/>\n"
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

std::string renderMarkdown(const proto::GateReport &report) {
  std::ostringstream md;
  md << "### graceful: " << (report.verdict() == "pass" ? "✅ pass" : "❌ fail") << " — `"
     << report.candidate() << "`"
     << (report.baseline().empty() ? " (no baseline)" : " vs `" + report.baseline() + "`")
     << "\n\n| gate | verdict | metrics |\n|---|---|---|\n";
  for (const proto::GateResult &gate : report.gates()) {
    md << "| " << gate.name() << " | " << gate.verdict() << " | ";
    std::string separator;
    for (const auto &[name, value] : sortedMetrics(gate)) {
      md << separator << name << " " << value;
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
      md << "- " << gate.name() << ": " << violation << "\n";
    }
  md << "\npolicy `" << report.policy_digest() << "`\n";
  return md.str();
}

llvm::Error writeReports(const proto::GateReport &report, const ReportPaths &paths) {
  for (auto [path, render] : {std::pair{&paths.html, &renderHtml},
                              {&paths.junit, &renderJunit},
                              {&paths.markdown, &renderMarkdown}})
    if (!path->empty())
      if (llvm::Error error = writeFileAtomically(*path, render(report)))
        return error;
  return llvm::Error::success();
}

} // namespace graceful::gates
