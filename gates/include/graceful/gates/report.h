// Gate reports for people and CI systems. The JSON form is the protobuf
// JSON of proto::GateReport; these are the others.
#pragma once

#include "graceful/registry.pb.h"

#include <functional>
#include <llvm/Support/Error.h>
#include <string>
#include <utility>
#include <vector>

namespace graceful::gates {

// A self-contained HTML page (inline CSS and SVG, no scripts or external
// resources): verdicts, metrics, violations and charts — per-class NFR
// bars, the flip matrix, CMC curves and edge budget bars.
std::string renderHtml(const proto::GateReport &report);

// JUnit XML: one testcase per gate; failures carry the violations, gates
// without a baseline are skipped.
std::string renderJunit(const proto::GateReport &report);

// A Markdown summary for pull-request comments.
std::string renderMarkdown(const proto::GateReport &report);

// What a report's gates compared the candidate with: the versions they ran
// beside it (each gate's compared_with detail, gate.h), which need not be
// the baseline (an edge gate compares with its reference), and the
// baseline when no gate ran it. A report stored before gates recorded that
// is taken to have compared with its baseline, as its headline said then.
struct Comparison {
  std::vector<std::string> versions;
  std::string unusedBaseline;
};
Comparison comparisonOf(const proto::GateReport &report);

// The comparison for a headline after the candidate's name: `connective`
// and the versions compared with, each through `quote`, then "(no gate
// compared it with the baseline B)" if so; `none` when there was nothing to
// compare with at all.
std::string describeComparison(const proto::GateReport &report, const std::string &connective,
                               const std::function<std::string(const std::string &)> &quote,
                               const std::string &none);

// A gate's metrics by name, numbers formatted for people.
std::vector<std::pair<std::string, std::string>> sortedMetrics(const proto::GateResult &gate);

// Writes each requested report (empty path: not wanted) atomically.
struct ReportPaths {
  std::string html, junit, markdown;
};
llvm::Error writeReports(const proto::GateReport &report, const ReportPaths &paths);

// Refuses report paths that are neither absent nor a regular file (a
// symlink, /dev/null, a FIFO, a directory), so a command can fail before it
// runs any model. writeReports checks again.
llvm::Error checkReportPaths(const ReportPaths &paths);

} // namespace graceful::gates
