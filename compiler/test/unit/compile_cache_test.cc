// The on-disk compile cache: a second compile of the same model and shapes
// loads the stored code and computes the same outputs; damaged, copied and
// foreign entries, other shapes and unwritable directories fall back to
// compiling.
#include "graceful/compiler/Jit.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

namespace graceful::compiler {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(GRACEFUL_EXAMPLES_DIR) + "/classification/models/old.onnx";
const std::string kOtherModel =
    std::string(GRACEFUL_EXAMPLES_DIR) + "/classification/models/new_independent.onnx";

class CompileCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "graceful-compile-cache.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.cacheDirectory = (root_ / "compiled").string();
    useKey("seal.key");
  }
  void TearDown() override {
    unsetenv("GRACEFUL_SEAL_KEY");
    fs::remove_all(root_);
  }

  // Entries are sealed with the key in this file (made on first use).
  void useKey(const std::string &name) {
    ASSERT_EQ(setenv("GRACEFUL_SEAL_KEY", (root_ / name).c_str(), 1), 0);
  }

  std::unique_ptr<CompiledModel> compile(int64_t batch, const std::string &path = kModel) {
    auto model = CompiledModel::compile(path, {{batch, 64}}, options_);
    EXPECT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    return model ? std::move(*model) : nullptr;
  }

  std::vector<fs::path> entries() const {
    std::vector<fs::path> found;
    if (fs::exists(options_.cacheDirectory))
      for (const auto &file : fs::directory_iterator(options_.cacheDirectory))
        found.push_back(file.path());
    return found;
  }

  static Tensor samples(int64_t batch) {
    Tensor input = makeTensor(DType::Float32, {batch, 64});
    auto *values = reinterpret_cast<float *>(input.bytes.data());
    for (int64_t i = 0; i < batch * 64; ++i)
      values[i] = static_cast<float>((i * 7919) % 17) / 16.0f;
    return input;
  }

  static std::vector<char> outputBytes(CompiledModel &model, int64_t batch) {
    auto outputs = model.run({samples(batch)});
    EXPECT_TRUE(static_cast<bool>(outputs)) << llvm::toString(outputs.takeError());
    return outputs ? (*outputs)[0].bytes : std::vector<char>();
  }

  fs::path root_;
  CompileOptions options_;
};

TEST_F(CompileCacheTest, SecondCompileLoadsTheStoredCodeWithTheSameOutputs) {
  auto first = compile(8);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->loadedFromCache());
  ASSERT_EQ(entries().size(), 1u);
  auto second = compile(8);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->loadedFromCache());
  EXPECT_EQ(second->outputs()[0].shape, first->outputs()[0].shape);
  std::vector<char> expected = outputBytes(*first, 8);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(outputBytes(*second, 8), expected);
}

// Models compiled from memory without a digest are keyed by their own
// bytes: two different models of the same shapes never share an entry.
TEST_F(CompileCacheTest, ModelsInMemoryAreKeyedByTheirOwnBytes) {
  std::vector<std::vector<char>> fromFiles, fromMemory;
  for (const std::string &path : {kModel, kOtherModel}) {
    auto fromFile = compile(4, path);
    ASSERT_TRUE(fromFile);
    fromFiles.push_back(outputBytes(*fromFile, 4));
  }
  fs::remove_all(options_.cacheDirectory);
  for (const std::string &path : {kModel, kOtherModel}) {
    auto loaded = loadModel(path);
    ASSERT_TRUE(static_cast<bool>(loaded)) << llvm::toString(loaded.takeError());
    auto model = CompiledModel::compileModel(*loaded->proto, "in memory", {{4, 64}}, options_);
    ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    EXPECT_FALSE((*model)->loadedFromCache()) << path;
    fromMemory.push_back(outputBytes(**model, 4));
  }
  EXPECT_EQ(entries().size(), 2u);
  EXPECT_NE(fromFiles[0], fromFiles[1]);
  EXPECT_EQ(fromMemory, fromFiles);
}

// Code loaded from the cache knows its outputs' shapes without importing
// the model again: libonnx-testdata's Split of a [2, 6] input into [2, 2]
// and [2, 4] (the split sizes are an input, fixed at compile time).
TEST_F(CompileCacheTest, LoadedCodeKnowsEachOutputsShape) {
  const std::string split =
      "/usr/share/libonnx-testdata/data/node/test_split_variable_parts_2d/model.onnx";
  Tensor sizes = makeTensor(DType::Int64, {2});
  sizes.data<int64_t>()[0] = 2;
  sizes.data<int64_t>()[1] = 4;
  options_.fixedInputs["split"] = sizes;
  Tensor input = makeTensor(DType::Float32, {2, 6});
  for (int i = 0; i < 12; ++i)
    input.data<float>()[i] = static_cast<float>(i);
  std::vector<std::vector<char>> expected;
  for (bool cached : {false, true}) {
    auto model = CompiledModel::compile(split, {{2, 6}, {2}}, options_);
    ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    EXPECT_EQ((*model)->loadedFromCache(), cached);
    ASSERT_EQ((*model)->outputs().size(), 2u);
    EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ((*model)->outputs()[1].shape, (std::vector<int64_t>{2, 4}));
    auto outputs = (*model)->run({input, sizes});
    ASSERT_TRUE(static_cast<bool>(outputs)) << llvm::toString(outputs.takeError());
    std::vector<std::vector<char>> bytes{(*outputs)[0].bytes, (*outputs)[1].bytes};
    if (cached) {
      EXPECT_EQ(bytes, expected);
    }
    expected = bytes;
  }
  // Row 1 of the second part: columns 2..5 of the input's second row.
  const float *second = reinterpret_cast<const float *>(expected[1].data());
  EXPECT_EQ(std::vector<float>(second + 4, second + 8), (std::vector<float>{8, 9, 10, 11}));
}

TEST_F(CompileCacheTest, OtherShapesAreCompiledAndStoredApart) {
  ASSERT_TRUE(compile(8));
  auto other = compile(3);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->loadedFromCache());
  EXPECT_EQ(entries().size(), 2u);
  EXPECT_EQ(other->inputs()[0].shape, (std::vector<int64_t>{3, 64}));
}

TEST_F(CompileCacheTest, DamagedEntriesAreRecompiledAndReplaced) {
  auto reference = compile(8);
  ASSERT_TRUE(reference);
  std::vector<char> expected = outputBytes(*reference, 8);
  ASSERT_EQ(entries().size(), 1u);
  fs::path entry = entries()[0];
  auto size = fs::file_size(entry);
  for (auto damage : {+[](const fs::path &path, uintmax_t bytes) {
                        fs::resize_file(path, bytes / 2); // torn
                      },
                      +[](const fs::path &path, uintmax_t bytes) {
                        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
                        file.seekp(static_cast<std::streamoff>(bytes - 16));
                        file.put('\x5a'); // one flipped byte in the code
                      }}) {
    damage(entry, size);
    auto recompiled = compile(8);
    ASSERT_TRUE(recompiled);
    EXPECT_FALSE(recompiled->loadedFromCache());
    EXPECT_EQ(outputBytes(*recompiled, 8), expected);
    auto reloaded = compile(8);
    ASSERT_TRUE(reloaded);
    EXPECT_TRUE(reloaded->loadedFromCache());
  }
}

// The forgery of issue 14: one model's compiled code copied over another's
// entry must never run in its place.
TEST_F(CompileCacheTest, AnEntryCopiedOverAnotherModelsIsNeverLoaded) {
  auto other = compile(8, kOtherModel);
  ASSERT_TRUE(other);
  std::vector<char> otherOutputs = outputBytes(*other, 8);
  fs::path otherEntry = entries()[0];
  auto reference = compile(8);
  ASSERT_TRUE(reference);
  std::vector<char> expected = outputBytes(*reference, 8);
  ASSERT_NE(expected, otherOutputs);
  for (const fs::path &entry : entries())
    if (entry != otherEntry)
      fs::copy_file(otherEntry, entry, fs::copy_options::overwrite_existing);
  auto reloaded = compile(8);
  ASSERT_TRUE(reloaded);
  EXPECT_FALSE(reloaded->loadedFromCache());
  EXPECT_EQ(outputBytes(*reloaded, 8), expected);
}

TEST_F(CompileCacheTest, EntriesSealedWithAnotherKeyAreNeverLoaded) {
  useKey("someone-elses.key");
  ASSERT_TRUE(compile(8));
  useKey("seal.key");
  auto model = compile(8);
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->loadedFromCache());
  auto again = compile(8);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->loadedFromCache());
}

// A key others can read seals nothing: the cache is off, runs still work.
TEST_F(CompileCacheTest, AKeyOthersCanReadTurnsTheCacheOff) {
  ASSERT_TRUE(compile(8));
  fs::permissions(root_ / "seal.key", fs::perms::others_read, fs::perm_options::add);
  auto model = compile(8);
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->loadedFromCache());
  EXPECT_FALSE(outputBytes(*model, 8).empty());
}

TEST_F(CompileCacheTest, LeastRecentlyUsedEntriesGoOverTheLimit) {
  options_.cacheLimitBytes = 1; // every store evicts all but the newest
  ASSERT_TRUE(compile(8));
  ASSERT_TRUE(compile(3));
  ASSERT_EQ(entries().size(), 1u);
  auto newest = compile(3);
  ASSERT_TRUE(newest);
  EXPECT_TRUE(newest->loadedFromCache());
  auto evicted = compile(8);
  ASSERT_TRUE(evicted);
  EXPECT_FALSE(evicted->loadedFromCache());
}

TEST_F(CompileCacheTest, AnUnwritableCacheOnlyCostsTheCompile) {
  std::ofstream(root_ / "file") << "not a directory";
  options_.cacheDirectory = (root_ / "file" / "compiled").string();
  auto model = compile(8);
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->loadedFromCache());
  EXPECT_FALSE(outputBytes(*model, 8).empty());
}

TEST_F(CompileCacheTest, GracefulCacheOffDisablesIt) {
  ASSERT_EQ(setenv("GRACEFUL_CACHE", "off", 1), 0);
  EXPECT_EQ(defaultCompileCacheDirectory(), "");
  ASSERT_EQ(setenv("GRACEFUL_CACHE", "/somewhere", 1), 0);
  EXPECT_EQ(defaultCompileCacheDirectory(), "/somewhere/compiled");
  ASSERT_EQ(unsetenv("GRACEFUL_CACHE"), 0);
  ASSERT_EQ(setenv("XDG_CACHE_HOME", "/xdg", 1), 0);
  EXPECT_EQ(defaultCompileCacheDirectory(), "/xdg/graceful/compiled");
}

} // namespace
} // namespace graceful::compiler
