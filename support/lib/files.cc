#include "graceful/support/files.h"

#include "graceful/support/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace graceful {
namespace {

// A full disk or quota is worth retrying once space is freed (exit 4); the
// rest (permissions, a missing directory) needs the input fixed.
llvm::Error ioError(const std::string &path, const std::string &what) {
  ErrorKind kind =
      errno == ENOSPC || errno == EDQUOT ? ErrorKind::Unavailable : ErrorKind::BadInput;
  return makeError(kind, path + ": " + what + ": " + std::strerror(errno));
}

std::string temporaryNameFor(const std::string &path) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::ostringstream name;
  name << path << ".tmp." << ::getpid() << "." << std::hex << random();
  return name.str();
}

std::string directoryOf(const std::string &path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

} // namespace

// lstat, so a symlink is seen as one rather than as what it points at.
llvm::Error checkReplaceable(const std::string &path) {
  struct stat status;
  if (::lstat(path.c_str(), &status) != 0)
    return errno == ENOENT ? llvm::Error::success() : ioError(path, "cannot inspect");
  if (S_ISREG(status.st_mode))
    return llvm::Error::success();
  const char *kind = S_ISLNK(status.st_mode)    ? "a symlink"
                     : S_ISDIR(status.st_mode)  ? "a directory"
                     : S_ISCHR(status.st_mode)  ? "a character device"
                     : S_ISBLK(status.st_mode)  ? "a block device"
                     : S_ISFIFO(status.st_mode) ? "a FIFO"
                     : S_ISSOCK(status.st_mode) ? "a socket"
                                                : "not a regular file";
  return makeError(ErrorKind::BadInput, path + ": exists and is " + std::string(kind) +
                                            "; only a regular file is replaced");
}

llvm::Error syncDirectory(const std::string &directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ioError(directory, "cannot open directory");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return ioError(directory, "fsync failed");
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<AtomicFileWriter>>
AtomicFileWriter::create(std::string destination) {
  if (llvm::Error error = checkReplaceable(destination))
    return error;
  std::string temporary = temporaryNameFor(destination);
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return ioError(temporary, "cannot create file");
  return std::unique_ptr<AtomicFileWriter>(
      new AtomicFileWriter(std::move(destination), std::move(temporary), fd));
}

AtomicFileWriter::AtomicFileWriter(std::string destination, std::string temporary, int fd)
    : destination_(std::move(destination)), temporary_(std::move(temporary)), fd_(fd) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(temporary_.c_str());
}

llvm::Error AtomicFileWriter::append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return ioError(temporary_, "write failed");
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return llvm::Error::success();
}

llvm::Error AtomicFileWriter::commit(const std::string &newDestination) {
  if (!newDestination.empty())
    destination_ = newDestination;
  if (::fsync(fd_) != 0)
    return ioError(temporary_, "fsync failed");
  ::close(fd_);
  fd_ = -1;
  // Again: the destination may have changed while the file was written.
  if (llvm::Error error = checkReplaceable(destination_))
    return error;
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0)
    return ioError(destination_, "rename failed");
  committed_ = true;
  return syncDirectory(directoryOf(destination_));
}

llvm::Error writeFileAtomically(const std::string &path, std::string_view bytes) {
  auto writer = AtomicFileWriter::create(path);
  if (!writer)
    return writer.takeError();
  if (llvm::Error error = (*writer)->append(bytes))
    return error;
  return (*writer)->commit();
}

llvm::Expected<std::ifstream> openForReading(const std::string &path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return makeError(ErrorKind::BadInput, path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorKind::NotFound, path + ": cannot open file: " + std::strerror(errno));
  return in;
}

llvm::Expected<std::string> readFile(const std::string &path) {
  auto opened = openForReading(path);
  if (!opened)
    return opened.takeError();
  std::ifstream &in = *opened;
  // One allocation and one read: model and data files run to gigabytes.
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  std::string bytes(size > 0 ? static_cast<size_t>(size) : 0, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad() || in.gcount() != static_cast<std::streamsize>(bytes.size()))
    return makeError(ErrorKind::BadInput, path + ": read error");
  return bytes;
}

llvm::Error createDirectories(const std::string &path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return makeError(ErrorKind::BadInput, path + ": cannot create directory: " + ec.message());
  return llvm::Error::success();
}

} // namespace graceful
