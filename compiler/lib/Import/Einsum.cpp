#include "graceful/compiler/Einsum.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace graceful::compiler {
namespace {

struct Term {
  std::vector<int> letters; // in order, -1 where the ellipsis stands
  bool ellipsis = false;
};

std::optional<Term> parseTerm(const std::string &text) {
  Term term;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (term.ellipsis || text.compare(i, 3, "...") != 0)
        return std::nullopt;
      term.ellipsis = true;
      term.letters.push_back(-1);
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      term.letters.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  return term;
}

// The labels of a term whose ellipsis covers `covered` dims of `total`.
std::vector<int> labelsOf(const Term &term, int64_t covered, int64_t total) {
  std::vector<int> labels;
  for (int letter : term.letters)
    if (letter >= 0)
      labels.push_back(letter);
    else
      for (int64_t i = total - covered; i < total; ++i)
        labels.push_back(EinsumEquation::kEllipsisLabel + static_cast<int>(i));
  return labels;
}

int64_t lettersIn(const Term &term) {
  return static_cast<int64_t>(term.letters.size()) - (term.ellipsis ? 1 : 0);
}

} // namespace

std::optional<EinsumEquation> parseEinsum(const std::string &equation,
                                          const std::vector<int64_t> &ranks) {
  std::string text;
  for (char c : equation)
    if (c != ' ')
      text.push_back(c);
  size_t arrow = text.find("->");
  std::string left = text.substr(0, arrow);
  std::vector<Term> terms;
  for (size_t start = 0;;) {
    size_t comma = left.find(',', start);
    auto term = parseTerm(left.substr(start, comma - start));
    if (!term)
      return std::nullopt;
    terms.push_back(*term);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    return std::nullopt;
  int64_t ellipsisRank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    int64_t covered = ranks[i] - lettersIn(terms[i]);
    if (covered < 0 || (!terms[i].ellipsis && covered != 0))
      return std::nullopt;
    ellipsisRank = std::max(ellipsisRank, covered);
  }
  EinsumEquation result;
  std::map<int, int> uses;
  for (size_t i = 0; i < terms.size(); ++i) {
    result.inputs.push_back(labelsOf(terms[i], ranks[i] - lettersIn(terms[i]), ellipsisRank));
    for (int label : result.inputs.back())
      ++uses[label];
  }
  if (arrow != std::string::npos) {
    auto output = parseTerm(text.substr(arrow + 2));
    if (!output)
      return std::nullopt;
    result.output = labelsOf(*output, ellipsisRank, ellipsisRank);
    for (int label : result.output)
      if (!uses.count(label) || std::count(result.output.begin(), result.output.end(), label) != 1)
        return std::nullopt;
    return result;
  }
  for (int64_t i = 0; i < ellipsisRank; ++i)
    result.output.push_back(EinsumEquation::kEllipsisLabel + static_cast<int>(i));
  for (auto [label, count] : uses)
    if (label < EinsumEquation::kEllipsisLabel && count == 1)
      result.output.push_back(label);
  return result;
}

std::optional<std::vector<int64_t>> einsumSizes(const EinsumEquation &equation,
                                                const std::vector<std::vector<int64_t>> &shapes) {
  std::vector<int64_t> sizes(EinsumEquation::kEllipsisLabel * 2, 0);
  for (size_t i = 0; i < equation.inputs.size(); ++i)
    for (size_t d = 0; d < equation.inputs[i].size(); ++d) {
      int64_t &size = sizes[static_cast<size_t>(equation.inputs[i][d])];
      int64_t dim = shapes[i][d];
      if (size > 1 && dim != 1 && dim != size)
        return std::nullopt;
      if (size <= 1)
        size = std::max(size, dim);
    }
  return sizes;
}

} // namespace graceful::compiler
