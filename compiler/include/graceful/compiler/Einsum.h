// Einsum equations ("bij,bjk->bik", "...ii->...i", "i,i"), parsed once for
// shape inference on import (ONNX's gives only the rank) and the lowering.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace graceful::compiler {

struct EinsumEquation {
  // Per operand, the label of each dim: a letter, or for the dims an
  // ellipsis stands for kEllipsisLabel + i (i counting the broadcast
  // ellipsis dims from the first; shorter ellipses align right).
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
  static constexpr int kEllipsisLabel = 256;
};

// Parses `equation` for operands of the given ranks; nullopt when it is
// malformed or does not fit them. Without "->" the output is the
// ellipsis dims then the letters used once, in alphabetical order.
std::optional<EinsumEquation> parseEinsum(const std::string &equation,
                                          const std::vector<int64_t> &ranks);

// The size of each label: the largest of its dims (a size-1 dim
// broadcasts), or nullopt when two sizes other than 1 disagree. Indexed by
// label; labels not used are 0.
std::optional<std::vector<int64_t>> einsumSizes(const EinsumEquation &equation,
                                                const std::vector<std::vector<int64_t>> &shapes);

} // namespace graceful::compiler
