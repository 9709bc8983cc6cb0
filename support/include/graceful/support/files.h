// File helpers with the durability rules the registry relies on.
#pragma once

#include <fstream>
#include <llvm/Support/Error.h>
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
// removes the temporary file. Only a regular file or nothing is replaced:
// when the destination is a symlink, directory, device, FIFO or socket,
// create() and commit() refuse (BadInput) and leave it alone.
class AtomicFileWriter {
public:
  static llvm::Expected<std::unique_ptr<AtomicFileWriter>> create(std::string destination);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  llvm::Error append(std::string_view bytes);
  // Where the bytes are until the commit (to read them back before it).
  const std::string &temporaryPath() const { return temporary_; }
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

// Success when `path` is absent or a regular file, the only things a writer
// here replaces; otherwise a BadInput error naming what it is. Renaming over
// a symlink, a device such as /dev/null (as root, the device itself), a FIFO
// or a directory would destroy it.
llvm::Error checkReplaceable(const std::string &path);

// fsync on a directory, so a rename inside it survives a crash.
llvm::Error syncDirectory(const std::string &directory);

// mkdir -p with a clear error naming the directory.
llvm::Error createDirectories(const std::string &path);

} // namespace graceful
