// The report renderers against text a model, policy or user controls: an
// op type written to forge a verdict must show as typed and nothing more.
#include "graceful/gates/report.h"

#include <algorithm>
#include <gtest/gtest.h>

namespace graceful::gates {
namespace {

// A failing report whose strings try to pass themselves off as a verdict,
// close a tag, open a comment and break the XML with control characters.
proto::GateReport hostileReport() {
  const std::string forged = "Relu\n## \xe2\x9c\x85 pass <!--\x01\x1b[0m & \"x\" | `y` \xff";
  proto::GateReport report;
  report.set_verdict("fail");
  report.set_candidate("m@2");
  report.set_baseline("m@1");
  report.set_policy_digest("sha256:abc");
  proto::GateResult *gate = report.add_gates();
  gate->set_name("edge");
  gate->set_verdict("fail");
  gate->add_violations("op " + forged + " (1 node) is not among the device's allowed ops");
  (*gate->mutable_metrics())["op " + forged].set_string_value(forged);
  (*gate->mutable_details())["note"] = forged;
  return report;
}

// Characters XML 1.0 does not allow even as references, and bytes that are
// not UTF-8 (the file declares UTF-8).
bool isValidXmlText(const std::string &xml) {
  return std::none_of(xml.begin(), xml.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && byte != '\n' && byte != '\t' && byte != '\r') || byte == 0xff;
  });
}

TEST(Reports, MarkdownCannotBeInjected) {
  std::string md = renderMarkdown(hostileReport());
  // The only heading is ours, and it says fail.
  EXPECT_EQ(md.find("### graceful: \xe2\x9d\x8c fail"), 0u) << md;
  EXPECT_EQ(md.find("\n#"), std::string::npos) << md;
  EXPECT_EQ(md.find("<!--"), std::string::npos) << md;
  EXPECT_EQ(md.find('\x1b'), std::string::npos) << md;
  // Shown as typed: the \xNN of escapeUnprintable, its backslash escaped.
  EXPECT_NE(md.find(R"(Relu\\x0a\#\# )"
                    "\xe2\x9c\x85"
                    R"( pass \<\!--\\x01\\x1b\[0m \& "x" \| \`y\` \\xff)"),
            std::string::npos)
      << md;
  // The gate's table row still has its three cells.
  size_t at = md.find("\n| edge");
  ASSERT_NE(at, std::string::npos);
  std::string row = md.substr(at + 1, md.find('\n', at + 1) - at - 1);
  size_t cellBreaks = 0;
  for (size_t i = 0; i < row.size(); ++i)
    cellBreaks += row[i] == '|' && (i == 0 || row[i - 1] != '\\');
  EXPECT_EQ(cellBreaks, 4u) << row;
}

TEST(Reports, MarkdownCodeSpansHoldBackticks) {
  proto::GateReport report = hostileReport();
  report.set_candidate("a`b``c");
  report.set_baseline("`m");
  std::string md = renderMarkdown(report);
  EXPECT_NE(md.find("```a`b``c``` vs `` `m ``"), std::string::npos) << md;
}

// Headlines say what the gates compared: an edge gate's reference is not
// the baseline, and a baseline no gate ran is said so, in every form.
TEST(Reports, HeadlinesNameWhatTheGatesCompared) {
  proto::GateReport report = hostileReport();
  report.set_baseline("m@1");
  (*report.mutable_gates(0)->mutable_details())["compared_with"] = "cloud@3";
  EXPECT_NE(
      renderMarkdown(report).find(" vs `cloud@3` (no gate compared it with the baseline `m@1`)"),
      std::string::npos);
  EXPECT_NE(renderJunit(report).find(
                "name=\"m@2 vs cloud@3 (no gate compared it with the baseline m@1)\""),
            std::string::npos);
  EXPECT_NE(renderHtml(report).find("m@2 vs cloud@3 (no gate compared it with the baseline m@1)"),
            std::string::npos);
  Comparison comparison = comparisonOf(report);
  EXPECT_EQ(comparison.versions, std::vector<std::string>{"cloud@3"});
  EXPECT_EQ(comparison.unusedBaseline, "m@1");

  // A gate that ran the baseline and one that judged the candidate alone.
  (*report.mutable_gates(0)->mutable_details())["compared_with"] = "m@1";
  proto::GateResult *alone = report.add_gates();
  (*alone->mutable_details())["compared_with"] = "";
  EXPECT_NE(renderMarkdown(report).find("`m@2` vs `m@1`\n"), std::string::npos);
  EXPECT_TRUE(comparisonOf(report).unusedBaseline.empty());
  report.set_baseline("");
  (*report.mutable_gates(0)->mutable_details())["compared_with"] = "";
  EXPECT_NE(renderMarkdown(report).find("`m@2` (no baseline)"), std::string::npos);
  EXPECT_TRUE(comparisonOf(report).versions.empty());
}

TEST(Reports, JunitIsValidXmlWhateverTheText) {
  std::string xml = renderJunit(hostileReport());
  EXPECT_TRUE(isValidXmlText(xml)) << xml;
  EXPECT_EQ(xml.find("<!--"), std::string::npos);
  EXPECT_NE(xml.find("Relu\\x0a## \xe2\x9c\x85 pass &lt;!--\\x01\\x1b[0m &amp; &quot;x&quot;"),
            std::string::npos)
      << xml;
}

TEST(Reports, HtmlEscapesEveryString) {
  std::string html = renderHtml(hostileReport());
  EXPECT_TRUE(isValidXmlText(html));
  EXPECT_EQ(html.find("<!--"), std::string::npos);
  EXPECT_NE(html.find("&lt;!--\\x01"), std::string::npos);
}

// Found by fuzz/report_fuzzer: a budgets entry without its "limit" (a
// stored report edited, or written by another version) threw out of the
// renderer and aborted the process.
TEST(Reports, EvidenceWithMissingFieldsStillRenders) {
  proto::GateReport report;
  report.set_verdict("fail");
  proto::GateResult *gate = report.add_gates();
  gate->set_name("edge");
  auto &budgets = (*gate->mutable_evidence()->mutable_fields())["budgets"];
  budgets.mutable_list_value()->add_values()->mutable_struct_value();
  std::string html = renderHtml(report);
  EXPECT_NE(html.find("device budgets used"), std::string::npos);
}

} // namespace
} // namespace graceful::gates
