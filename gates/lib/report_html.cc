// The HTML gate report: one self-contained page with inline SVG charts.
#include "graceful/gates/gate.h"
#include "graceful/gates/report.h"
#include "graceful/support/format.h"
#include "report_common.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace graceful::gates {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Value;

constexpr const char *kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.5em}
.verdict{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:bold}
.pass{background:#2e7d32} .fail{background:#c62828} .nobaseline{background:#757575}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.violations li{color:#c62828} .charts{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0} figcaption{font-size:.9em;color:#555}
code{font-size:.85em;color:#555} .purpose{color:#555;max-width:48em}
)";

std::string verdictBadge(const std::string &verdict) {
  std::string css = verdict == "pass" ? "pass" : verdict == "fail" ? "fail" : "nobaseline";
  return "<span class=\"verdict " + css + "\">" + escapeMarkup(verdict) + "</span>";
}

const ListValue *evidenceList(const proto::GateResult &gate, const std::string &key) {
  auto it = gate.evidence().fields().find(key);
  return it == gate.evidence().fields().end() ? nullptr : &it->second.list_value();
}

// Evidence is read back from the store, where anything may have been
// written: a missing field reads as 0 or "", never as a failed lookup.
double field(const Value &value, const std::string &key) {
  auto it = value.struct_value().fields().find(key);
  return it == value.struct_value().fields().end() ? 0.0 : it->second.number_value();
}

std::string textField(const Value &value, const std::string &key) {
  auto it = value.struct_value().fields().find(key);
  return it == value.struct_value().fields().end() ? "" : it->second.string_value();
}

std::string figure(const std::string &svg, const std::string &caption) {
  return "<figure>" + svg + "<figcaption>" + escapeMarkup(caption) + "</figcaption></figure>\n";
}

// Vertical bars, one per class: the share of its samples that flipped.
std::string perClassBars(const ListValue &rows) {
  const int width = 420, height = 200, left = 40, bottom = 24;
  double top = 0;
  for (const Value &row : rows.values())
    top = std::max(top, field(row, "nfr"));
  top = top > 0 ? top : 1;
  int count = std::max(1, rows.values_size());
  double slot = static_cast<double>(width - left) / count;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\"><text x=\"2\" y=\"12\" font-size=\"11\">" << formatNumber(top, 3)
      << "</text><line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width
      << "\" y2=\"" << height - bottom << "\" stroke=\"#999\"/>";
  int i = 0;
  for (const Value &row : rows.values()) {
    double share = field(row, "nfr") / top;
    double barHeight = share * (height - bottom - 16);
    double x = left + i * slot + slot * 0.15;
    svg << "<rect x=\"" << x << "\" y=\"" << height - bottom - barHeight << "\" width=\""
        << slot * 0.7 << "\" height=\"" << barHeight << "\" fill=\"#c62828\"><title>class "
        << field(row, "class") << ": " << field(row, "negative_flips") << " of "
        << field(row, "samples") << " flipped</title></rect><text x=\"" << x + slot * 0.35
        << "\" y=\"" << height - 8 << "\" font-size=\"11\" text-anchor=\"middle\">"
        << field(row, "class") << "</text>";
    ++i;
  }
  svg << "</svg>";
  return svg.str();
}

// Old prediction (rows) x new prediction (columns) of the negative flips.
std::string flipMatrix(const ListValue &cells) {
  std::set<double> classes;
  double most = 1;
  for (const Value &cell : cells.values()) {
    classes.insert(field(cell, "old"));
    classes.insert(field(cell, "new"));
    most = std::max(most, field(cell, "count"));
  }
  std::map<double, int> position;
  for (double label : classes)
    position[label] = static_cast<int>(position.size());
  const int cellSize = 26, margin = 30;
  int side = margin + cellSize * static_cast<int>(classes.size()) + 4;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << side << "\" height=\"" << side
      << "\" role=\"img\">";
  for (const auto &[label, index] : position)
    svg << "<text x=\"" << margin + index * cellSize + cellSize / 2
        << "\" y=\"20\" font-size=\"11\""
        << " text-anchor=\"middle\">" << label << "</text><text x=\"" << margin - 6 << "\" y=\""
        << margin + index * cellSize + 17 << "\" font-size=\"11\" text-anchor=\"end\">" << label
        << "</text>";
  for (const Value &cell : cells.values()) {
    double count = field(cell, "count");
    int row = position[field(cell, "old")], column = position[field(cell, "new")];
    double shade = 0.15 + 0.85 * count / most;
    svg << "<rect x=\"" << margin + column * cellSize << "\" y=\"" << margin + row * cellSize
        << "\" width=\"" << cellSize - 2 << "\" height=\"" << cellSize - 2
        << "\" fill=\"#c62828\" fill-opacity=\"" << formatNumber(shade, 3) << "\"><title>old "
        << field(cell, "old") << " -> new " << field(cell, "new") << ": " << count
        << "</title></rect><text x=\"" << margin + column * cellSize + cellSize / 2 - 1 << "\" y=\""
        << margin + row * cellSize + 17 << "\" font-size=\"10\" text-anchor=\"middle\">" << count
        << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

// CMC curves: share of queries with a correct match within the top k. The
// y axis starts just below the lowest point, so close curves stay apart.
std::string cmcCurves(const proto::GateResult &gate) {
  const int width = 420, height = 220, left = 40, bottom = 30, top = 10;
  struct Series {
    const char *key, *label, *color;
  };
  const Series series[] = {{"cmc_old_old", "old/old", "#757575"},
                           {"cmc_new_old", "new/old", "#1565c0"},
                           {"cmc_new_new", "new/new", "#2e7d32"}};
  double lowest = 1.0;
  int depth = 1;
  for (const Series &line : series)
    if (const ListValue *points = evidenceList(gate, line.key)) {
      depth = std::max(depth, points->values_size());
      for (const Value &point : points->values())
        lowest = std::min(lowest, point.number_value());
    }
  double floor = std::max(0.0, std::floor(lowest * 10 - 0.5) / 10);
  auto y = [&](double value) {
    return height - bottom - (value - floor) / (1.0 - floor) * (height - bottom - top);
  };
  double step = static_cast<double>(width - left - 10) / std::max(1, depth - 1);
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\"><line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\""
      << width << "\" y2=\"" << height - bottom << "\" stroke=\"#999\"/><line x1=\"" << left
      << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << height - bottom
      << "\" stroke=\"#999\"/><text x=\"4\" y=\"" << top + 8
      << "\" font-size=\"11\">1.0</text><text x=\"4\" y=\"" << height - bottom
      << "\" font-size=\"11\">" << formatNumber(floor, 2) << "</text>";
  for (int k = 0; k < depth; ++k)
    svg << "<text x=\"" << left + k * step << "\" y=\"" << height - bottom + 13
        << "\" font-size=\"10\" text-anchor=\"middle\">" << k + 1 << "</text>";
  svg << "<text x=\"" << width / 2 << "\" y=\"" << height - 4
      << "\" font-size=\"11\">rank k</text>";
  int legend = 0;
  for (const Series &line : series) {
    const ListValue *points = evidenceList(gate, line.key);
    if (!points || points->values_size() == 0)
      continue;
    svg << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << line.color << "\" points=\"";
    for (int k = 0; k < points->values_size(); ++k)
      svg << left + k * step << "," << y(points->values(k).number_value()) << " ";
    svg << "\"/><text x=\"" << width - 70 << "\" y=\"" << height - bottom - 44 + legend * 14
        << "\" font-size=\"11\" fill=\"" << line.color << "\">" << line.label << "</text>";
    ++legend;
  }
  svg << "</svg>";
  return svg.str();
}

// Horizontal bars: how much of each device budget the model uses.
std::string budgetBars(const ListValue &budgets) {
  const int width = 520, rowHeight = 26, label = 200;
  int height = rowHeight * budgets.values_size() + 10;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\">";
  int row = 0;
  for (const Value &entry : budgets.values()) {
    double measured = field(entry, "measured"), budget = field(entry, "budget");
    double share = budget > 0 ? measured / budget : 1.0;
    double barWidth = std::min(1.5, share) * (width - label - 60) / 1.5;
    int y = row * rowHeight + 4;
    svg << "<text x=\"0\" y=\"" << y + 15 << "\" font-size=\"11\">"
        << escapeMarkup(textField(entry, "limit")) << "</text><rect x=\"" << label << "\" y=\"" << y
        << "\" width=\"" << barWidth << "\" height=\"" << rowHeight - 8 << "\" fill=\""
        << (share > 1 ? "#c62828" : "#2e7d32") << "\"><title>" << formatNumber(measured, 8)
        << " of " << formatNumber(budget, 8) << "</title></rect><line x1=\""
        << label + (width - label - 60) / 1.5 << "\" y1=\"" << y - 2 << "\" x2=\""
        << label + (width - label - 60) / 1.5 << "\" y2=\"" << y + rowHeight - 6
        << "\" stroke=\"#222\"/><text x=\"" << label + barWidth + 4 << "\" y=\"" << y + 15
        << "\" font-size=\"11\">" << formatNumber(100 * share, 3) << "%</text>";
    ++row;
  }
  svg << "</svg>";
  return svg.str();
}

std::string charts(const proto::GateResult &gate) {
  std::string html;
  if (const ListValue *rows = evidenceList(gate, "per_class"); rows && rows->values_size())
    html += figure(perClassBars(*rows), "negative flip rate per true class");
  if (const ListValue *cells = evidenceList(gate, "flip_matrix"); cells && cells->values_size())
    html += figure(flipMatrix(*cells),
                   "negative flips: old prediction (rows) -> new prediction (columns)");
  if (const ListValue *points = evidenceList(gate, "cmc_new_old"); points && points->values_size())
    html += figure(cmcCurves(gate), "CMC: queries with a correct match in the top k");
  if (const ListValue *budgets = evidenceList(gate, "budgets"); budgets && budgets->values_size())
    html += figure(budgetBars(*budgets), "device budgets used (line: 100%)");
  return html.empty() ? "" : "<div class=\"charts\">" + html + "</div>\n";
}

std::string flippedSamples(const proto::GateResult &gate) {
  const ListValue *flipped = evidenceList(gate, "flipped_samples");
  if (!flipped || flipped->values_size() == 0)
    return "";
  std::string html = "<p>Flipped samples (indices): ";
  for (int i = 0; i < flipped->values_size() && i < 200; ++i)
    html += (i ? ", " : "") + formatNumber(flipped->values(i).number_value(), 12);
  if (flipped->values_size() > 200)
    html += ", … (" + std::to_string(flipped->values_size()) + " listed in the JSON report)";
  return html + "</p>\n";
}

// One sentence on what a built-in gate checks, for readers new to graceful.
std::string purposeOf(const std::string &gate) {
  if (gate == "nfr")
    return "Negative flips: samples the baseline classified correctly that the candidate now "
           "gets wrong. The budget applies to the flip rate's upper confidence bound.";
  if (gate == "compatibility")
    return "Backward compatibility: candidate queries must retrieve from the gallery the "
           "baseline embedded (new/old) better than the baseline's own queries (old/old); "
           "new/new is the ceiling after re-indexing.";
  if (gate == "edge")
    return "Device fit: the model's ops, sizes and compute against the device profile, and "
           "retrieval from the reference model's gallery.";
  return "";
}

std::string gateSection(const proto::GateResult &gate) {
  std::ostringstream html;
  html << "<h2>" << escapeMarkup(gate.name()) << " " << verdictBadge(gate.verdict()) << "</h2>\n";
  // Reports stored before gates had names and types carry the type as name.
  if (std::string purpose = purposeOf(gate.type().empty() ? gate.name() : gate.type());
      !purpose.empty())
    html << "<p class=\"purpose\">" << escapeMarkup(purpose) << "</p>\n";
  if (!gate.violations().empty()) {
    html << "<ul class=\"violations\">";
    for (const std::string &violation : gate.violations())
      html << "<li>" << escapeMarkup(violation) << "</li>";
    html << "</ul>\n";
  }
  html << "<table>";
  for (const auto &[name, value] : sortedMetrics(gate))
    html << "<tr><th>" << escapeMarkup(name) << "</th><td class=\"num\">" << escapeMarkup(value)
         << "</td></tr>";
  std::map<std::string, std::string> details(gate.details().begin(), gate.details().end());
  for (const auto &[name, value] : details)
    html << "<tr><th>" << escapeMarkup(name) << "</th><td>"
         << escapeMarkup(name == kComparedWith && value.empty() ? "nothing: the candidate alone"
                                                                : value)
         << "</td></tr>";
  html << "</table>\n" << charts(gate) << flippedSamples(gate);
  return html.str();
}

} // namespace

std::string escapeMarkup(const std::string &text) {
  std::string escaped;
  for (char c : escapeUnprintable(text))
    switch (c) {
    case '&':
      escaped += "&amp;";
      break;
    case '<':
      escaped += "&lt;";
      break;
    case '>':
      escaped += "&gt;";
      break;
    case '"':
      escaped += "&quot;";
      break;
    case '\'':
      escaped += "&#39;";
      break;
    default:
      escaped += c;
    }
  return escaped;
}

std::vector<std::pair<std::string, std::string>> sortedMetrics(const proto::GateResult &gate) {
  std::map<std::string, std::string> sorted;
  for (const auto &[name, value] : gate.metrics())
    sorted[name] = value.kind_case() == Value::kStringValue ? value.string_value()
                                                            : formatNumber(value.number_value(), 6);
  return {sorted.begin(), sorted.end()};
}

std::string renderHtml(const proto::GateReport &report) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<title>graceful gate report: " << escapeMarkup(report.candidate()) << "</title><style>"
       << kStyle << "</style></head><body>\n<h1>Gate report: " << escapeMarkup(report.candidate())
       << describeComparison(report, " vs ", escapeMarkup, " (no baseline)") << " "
       << verdictBadge(report.verdict()) << "</h1>\n<p><code>policy "
       << escapeMarkup(report.policy_digest()) << "<br>data " << escapeMarkup(report.data_digest())
       << "</code></p>\n";
  if (report.gates().empty())
    html << "<p>The policy has no gates.</p>\n";
  for (const proto::GateResult &gate : report.gates())
    html << gateSection(gate);
  html << "</body></html>\n";
  return html.str();
}

} // namespace graceful::gates
