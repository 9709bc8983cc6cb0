// File helpers with the durability rules the registry relies on.
#pragma once

#include <llvm/Support/Error.h>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

namespace graceful {

llvm::Expected<std::string> readFile(const std::string &path);

// Opens a file for binary reading; a directory or a missing file is an
// error naming the path.
llvm::Expected<std::ifstream> openForReading(const std::string &path);

// Builds a file under a temporary name in the destination's directory;
// commit() fsyncs it, renames it over the destination and fsyncs the
// directory. Readers see the old bytes or the new ones, never a torn file,
// even if the process is killed half way. Destroying an uncommitted writer
// removes the temporary file.
class AtomicFileWriter {
public:
  static llvm::Expected<std::unique_ptr<AtomicFileWriter>> create(std::string destination);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  llvm::Error append(std::string_view bytes);
  // Renames onto `destination`, or onto `newDestination` when given (for
  // content-addressed files whose name is known only at the end).
  llvm::Error commit(const std::string &newDestination = "");

private:
  AtomicFileWriter(std::string destination, std::string temporary, int fd);
  std::string destination_;
  std::string temporary_;
  int fd_;
  bool committed_ = false;
};

llvm::Error writeFileAtomically(const std::string &path, std::string_view bytes);

// fsync on a directory, so a rename inside it survives a crash.
llvm::Error syncDirectory(const std::string &directory);

// mkdir -p with a clear error naming the directory.
llvm::Error createDirectories(const std::string &path);

} // namespace graceful
