// A dataset's files in one upload (POST /api/v1/datasets/{name}): their
// bytes one after another as the body, and a manifest header,
// X-Graceful-Dataset-Files, naming each file in body order as
// "NAME KIND SIZE DIGEST", entries separated by ", ". KIND is npy for a
// file whose name ends in .npy (it must parse as an array), else raw.
#pragma once

#include <cstdint>
#include <llvm/Support/Error.h>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace graceful::server {

struct BundledFile {
  std::string name; // within the dataset
  bool npy = false;
  std::uint64_t size = 0;
  std::string digest;
  std::string path; // where its bytes are: the sender's file, or the receiver's copy
};

// The sender's side: each file (name -> path) with its size and digest.
llvm::Expected<std::vector<BundledFile>>
describeBundle(const std::map<std::string, std::string> &files);
std::string manifestOf(const std::vector<BundledFile> &files);
// The body: every file's bytes, in order, into `out`.
llvm::Error writeBundle(const std::vector<BundledFile> &files, const std::string &out);

// The receiver's side: the manifest (at most 64 files, names as datasets
// take them, each once), then the body split into one file per entry in
// `directory` (numbered in order, ".npy" for an npy file), each checked
// against its size and digest.
llvm::Expected<std::vector<BundledFile>> parseManifest(std::string_view manifest);
llvm::Error unbundle(const std::string &body, std::vector<BundledFile> &files,
                     const std::string &directory);

} // namespace graceful::server
