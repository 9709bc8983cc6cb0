#include "graceful/support/progress.h"

#include <cstdio>
#include <unistd.h>

namespace graceful {

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(total > 0 ? total : 1), enabled_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, const std::string &note) {
  if (!enabled_ || finished_)
    return;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(kWidth * done / total_);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '-');
  std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %.1f/s %s\033[K", label_.c_str(), bar.c_str(),
               static_cast<int>(100 * done / total_), static_cast<long long>(done),
               static_cast<long long>(total_),
               seconds > 0 ? static_cast<double>(done) / seconds : 0.0, note.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_ || finished_)
    return;
  finished_ = true;
  std::fprintf(stderr, "\n");
}

} // namespace graceful
