// The Store's contract, run against both backends.
#include "../lib/schema.h"
#include "../lib/sql_connection.h"
#include "graceful/registry/store.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/testing/stores.h"

#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace graceful::registry {
namespace {

using testing::Backend;

class StoreTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    auto location = testing::makeStore(GetParam(), directory_);
    if (!location)
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    location_ = *location;
    config_.uri = location_.uri;
    config_.artifactsDir = location_.artifacts;
    config_.busyTimeoutMs = 5000;
    auto store = initStore(config_);
    ASSERT_TRUE(bool(store)) << describeError(store.takeError()).message;
    store_ = std::move(*store);
    for (int seed : {1, 2, 3}) {
      std::string path = directory_.file("model" + std::to_string(seed) + ".onnx");
      testing::writeTinyOnnxModel(path, seed);
      models_.push_back(path);
    }
  }

  proto::ModelVersion registerModel(const std::string &name, int model,
                                    std::vector<std::string> parents = {}) {
    RegisterRequest request;
    request.name = name;
    request.artifactPath = models_.at(static_cast<size_t>(model));
    request.actor = "tester";
    for (const std::string &parent : parents)
      request.parents.push_back(cantFail(parseParentSpec(parent)));
    auto version = store_->registerVersion(request);
    EXPECT_TRUE(bool(version));
    if (!version)
      return proto::ModelVersion();
    return *version;
  }

  llvm::Expected<proto::AliasMove> move(const std::string &model, const std::string &alias,
                                        int version, std::optional<int> expected) {
    return store_->moveAlias(AliasMoveRequest{model, alias, version, expected, AliasAction::Promote,
                                              "tester", "", std::nullopt});
  }

  int auditCount() { return cantFail(store_->auditLog({})).events_size(); }

  // A file of `bytes` under this test's directory.
  std::string writeFile(const std::string &name, const std::string &bytes) {
    std::string path = directory_.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  DatasetRequest datasetRequest(const std::string &name, const std::string &inputs,
                                const std::string &labels) {
    return DatasetRequest{name,
                          "eval split",
                          {{"labels", writeFile(name + "-labels", labels), "", "int64", {3}},
                           {"inputs", writeFile(name + "-inputs", inputs), "", "float32", {3, 2}}},
                          "tester"};
  }

  std::unique_ptr<SqlConnection> rawConnection() {
    if (GetParam() == Backend::Sqlite)
      return cantFail(openSqlite(config_.uri.substr(7), OpenMode::Existing, 1000));
    return cantFail(openPostgres(config_.uri, 1000));
  }

  testing::TemporaryDirectory directory_;
  testing::TestStore location_;
  StoreConfig config_;
  std::unique_ptr<Store> store_;
  std::vector<std::string> models_;
};

TEST_P(StoreTest, VersionsAreNumberedPerModel) {
  EXPECT_EQ(registerModel("cloud", 0).version(), 1);
  EXPECT_EQ(registerModel("cloud", 1).version(), 2);
  EXPECT_EQ(registerModel("edge", 2).version(), 1);
  auto models = cantFail(store_->listModels());
  ASSERT_EQ(models.models_size(), 2);
  EXPECT_EQ(models.models(0).name(), "cloud");
  EXPECT_EQ(models.models(0).latest_version(), 2);
}

TEST_P(StoreTest, RecordsDigestSizeAuthorAndTags) {
  RegisterRequest request{"cloud", models_[0], "baseline", {{"dataset", "digits"}}, {}, "alice"};
  auto version = cantFail(store_->registerVersion(request));
  auto bytes = std::filesystem::file_size(models_[0]);
  EXPECT_EQ(version.size_bytes(), static_cast<std::int64_t>(bytes));
  EXPECT_EQ(version.digest().substr(0, 7), "sha256:");
  EXPECT_EQ(version.created_by(), "alice");
  EXPECT_EQ(version.description(), "baseline");
  EXPECT_EQ(version.tags().at("dataset"), "digits");
  EXPECT_FALSE(store_->artifacts().verify(version.digest()));
}

TEST_P(StoreTest, IdenticalBytesAreStoredOnce) {
  auto first = registerModel("a", 0);
  auto second = registerModel("b", 0);
  EXPECT_EQ(first.digest(), second.digest());
  auto digests = cantFail(store_->artifacts().listDigests());
  EXPECT_EQ(digests.size(), 1u);
}

TEST_P(StoreTest, LineageCrossesModels) {
  registerModel("cloud", 0);
  registerModel("cloud", 1, {"cloud@1:fine-tuned-from"});
  auto edge = registerModel("edge", 2, {"cloud@2:distilled-from"});
  ASSERT_EQ(edge.parents_size(), 1);
  EXPECT_EQ(edge.parents(0).parent().name(), "cloud");
  EXPECT_EQ(edge.parents(0).kind(), "distilled-from");
  auto lineage = cantFail(store_->lineage("edge"));
  EXPECT_EQ(lineage.nodes_size(), 3); // edge@1, cloud@2, cloud@1
  EXPECT_EQ(lineage.edges_size(), 2);
  auto cloudLineage = cantFail(store_->lineage("cloud"));
  EXPECT_EQ(cloudLineage.nodes_size(), 3) << "descendants in other models are shown";
}

TEST_P(StoreTest, MissingParentChangesNothing) {
  registerModel("cloud", 0);
  int before = auditCount();
  RegisterRequest request{"cloud", models_[1], "", {}, {cantFail(parseParentSpec("cloud@7"))}, "t"};
  auto version = store_->registerVersion(request);
  ASSERT_FALSE(bool(version));
  ErrorReport report = describeError(version.takeError());
  EXPECT_EQ(report.kind, ErrorKind::NotFound);
  EXPECT_NE(report.message.find("cloud@7"), std::string::npos);
  EXPECT_EQ(auditCount(), before);
  EXPECT_EQ(cantFail(store_->describeModel("cloud")).versions_size(), 1);
}

TEST_P(StoreTest, NonOnnxFileIsRefusedBeforeAnythingIsRecorded) {
  std::string bogus = directory_.file("bogus.onnx");
  std::ofstream(bogus) << "this is not a model";
  RegisterRequest request{"cloud", bogus, "", {}, {}, "t"};
  auto version = store_->registerVersion(request);
  ASSERT_FALSE(bool(version));
  EXPECT_NE(describeError(version.takeError()).message.find("bogus.onnx"), std::string::npos);
  EXPECT_EQ(auditCount(), 0);
  EXPECT_TRUE(cantFail(store_->artifacts().listDigests()).empty());
}

// Saved by onnx.save_model(..., save_as_external_data=True): the weights
// sit in a file beside the model, which a version's artifact would not hold.
TEST_P(StoreTest, ModelsWithExternalDataAreRefusedBeforeAnythingIsRecorded) {
  for (const char *file : {"external_weights.onnx", "external_outside.onnx"}) {
    RegisterRequest request{
        "cloud", std::string(GRACEFUL_REGISTRY_TEST_DATA) + "/" + file, "", {}, {}, "t"};
    auto version = store_->registerVersion(request);
    ASSERT_FALSE(bool(version)) << file;
    ErrorReport report = describeError(version.takeError());
    EXPECT_EQ(report.kind, ErrorKind::BadInput);
    EXPECT_THAT(report.message, ::testing::HasSubstr(file));
    EXPECT_THAT(report.message,
                ::testing::HasSubstr("tensor 'W' keeps its data in an external file"));
  }
  EXPECT_EQ(auditCount(), 0);
  EXPECT_TRUE(cantFail(store_->artifacts().listDigests()).empty());
}

TEST_P(StoreTest, BytesThatDoNotHashAsExpectedAreRefusedBeforeAnythingIsRecorded) {
  RegisterRequest request{"cloud", models_[0], "", {}, {}, "t"};
  request.expectedDigest = cantFail(sha256File(models_[1])).digest;
  auto version = store_->registerVersion(request);
  ASSERT_FALSE(bool(version));
  ErrorReport report = describeError(version.takeError());
  EXPECT_EQ(report.kind, ErrorKind::BadInput);
  EXPECT_THAT(report.message, ::testing::HasSubstr("not to " + request.expectedDigest));
  EXPECT_EQ(auditCount(), 0);
  EXPECT_TRUE(cantFail(store_->artifacts().listDigests()).empty());
  EXPECT_TRUE(std::filesystem::is_empty(location_.artifacts + "/tmp")) << "no staged copy is left";

  request.expectedDigest = cantFail(sha256File(models_[0])).digest;
  EXPECT_EQ(cantFail(store_->registerVersion(request)).digest(), request.expectedDigest);
}

// The check sees the staged copy, so a source rewritten after it was
// copied (a file swapped under the registry) changes nothing stored.
TEST_P(StoreTest, TheStagedCopyIsWhatIsCheckedAndStored) {
  std::string source = writeFile("swapped.onnx", "");
  std::filesystem::copy_file(models_[0], source, std::filesystem::copy_options::overwrite_existing);
  std::string original = cantFail(sha256File(source)).digest;
  std::string checked;
  auto put = store_->artifacts().put(
      source, [&](const std::string &staged, const FileDigest &digest) -> llvm::Error {
        EXPECT_NE(staged, source);
        std::ofstream(source, std::ios::binary | std::ios::trunc) << "not a model any more";
        checked = cantFail(sha256File(staged)).digest;
        EXPECT_EQ(checked, digest.digest);
        return llvm::Error::success();
      });
  ASSERT_TRUE(bool(put)) << describeError(put.takeError()).message;
  EXPECT_EQ(put->digest, original);
  EXPECT_EQ(checked, original);
  EXPECT_FALSE(store_->artifacts().verify(original));
}

// Parents come ordered by model, then version as a number (9 before 11),
// tags and aliases beside them, all from one statement.
TEST_P(StoreTest, AVersionReadsBackItsParentsTagsAndAliasesInOrder) {
  for (int i = 0; i < 11; ++i)
    registerModel("a", 0);
  registerModel("b", 1);
  RegisterRequest request{"c", models_[2], "", {{"k1", "v1"}, {"k2", "v2"}}, {}, "t"};
  for (const char *parent : {"b@1:distilled-from", "a@11:fine-tuned-from", "a@9:retrained-from"})
    request.parents.push_back(cantFail(parseParentSpec(parent)));
  cantFail(store_->registerVersion(request));
  ASSERT_TRUE(bool(move("c", "staging", 1, std::nullopt)));
  ASSERT_TRUE(bool(move("c", "production", 1, std::nullopt)));
  auto version = cantFail(store_->aliasHolder("c", "production"));
  ASSERT_TRUE(version.has_value());
  std::vector<std::string> parents;
  for (const proto::LineageEdge &edge : version->parents())
    parents.push_back(edge.parent().name() + "@" + std::to_string(edge.parent().version()) + ":" +
                      edge.kind());
  EXPECT_THAT(parents, ::testing::ElementsAre("a@9:retrained-from", "a@11:fine-tuned-from",
                                              "b@1:distilled-from"));
  EXPECT_THAT(version->aliases(), ::testing::ElementsAre("production", "staging"));
  EXPECT_EQ(version->tags().size(), 2u);
  EXPECT_EQ(version->tags().at("k2"), "v2");
  EXPECT_EQ(version->holder().alias(), "production");
  auto log = cantFail(store_->auditLog({}));
  const proto::AuditEvent &newest = log.events(log.events_size() - 1);
  ASSERT_EQ(newest.alias(), "production");
  EXPECT_EQ(version->holder().audit_id(), newest.id());
  EXPECT_EQ(version->holder().action(), newest.action());
  EXPECT_EQ(version->holder().actor(), "tester");
  EXPECT_EQ(version->holder().since().seconds(), newest.at().seconds());
  EXPECT_FALSE(cantFail(store_->aliasHolder("c", "nowhere")).has_value());
  auto missing = store_->aliasHolder("nobody", "production");
  ASSERT_FALSE(bool(missing));
  EXPECT_EQ(describeError(missing.takeError()).kind, ErrorKind::NotFound);
}

TEST_P(StoreTest, ASingleReadRunsOneStatementOnly) {
  auto connection = rawConnection();
  cantFail(connection->begin(TransactionMode::SingleRead));
  EXPECT_TRUE(bool(connection->query("SELECT count(*) FROM models")));
  auto second = connection->query("SELECT count(*) FROM versions");
  ASSERT_FALSE(bool(second));
  EXPECT_THAT(describeError(second.takeError()).message,
              ::testing::HasSubstr("a single-statement read ran a second one"));
  cantFail(connection->commit());
  cantFail(connection->begin(TransactionMode::Read));
  EXPECT_TRUE(bool(connection->query("SELECT count(*) FROM models")));
  EXPECT_TRUE(bool(connection->query("SELECT count(*) FROM versions")));
  cantFail(connection->commit());
}

TEST_P(StoreTest, AliasCompareAndSet) {
  registerModel("m", 0);
  registerModel("m", 1);
  ASSERT_TRUE(bool(move("m", "production", 1, 0)));
  auto conflict = move("m", "production", 2, 0);
  ASSERT_FALSE(bool(conflict));
  EXPECT_EQ(describeError(conflict.takeError()).kind, ErrorKind::Conflict);
  auto moved = move("m", "production", 2, 1);
  ASSERT_TRUE(bool(moved));
  EXPECT_EQ(moved->before(), 1);
  EXPECT_EQ(moved->after(), 2);
  EXPECT_EQ(cantFail(store_->getVersion({"m", std::nullopt, "production"})).version(), 2);
}

TEST_P(StoreTest, AliasToMissingVersionIsRefused) {
  registerModel("m", 0);
  auto missing = move("m", "production", 5, std::nullopt);
  ASSERT_FALSE(bool(missing));
  EXPECT_EQ(describeError(missing.takeError()).kind, ErrorKind::NotFound);
  auto unknownModel = move("nope", "production", 1, std::nullopt);
  ASSERT_FALSE(bool(unknownModel));
  EXPECT_EQ(describeError(unknownModel.takeError()).kind, ErrorKind::NotFound);
}

TEST_P(StoreTest, RollbackWalksBackThroughHolders) {
  for (int i = 0; i < 3; ++i)
    registerModel("m", i);
  for (int v = 1; v <= 3; ++v)
    ASSERT_TRUE(bool(move("m", "production", v, std::nullopt)));
  auto first = cantFail(store_->rollbackAlias("m", "production", "ops", "bad latency"));
  EXPECT_EQ(first.before(), 3);
  EXPECT_EQ(first.after(), 2);
  auto second = cantFail(store_->rollbackAlias("m", "production", "ops", ""));
  EXPECT_EQ(second.after(), 1);
  auto exhausted = store_->rollbackAlias("m", "production", "ops", "");
  ASSERT_FALSE(bool(exhausted));
  EXPECT_NE(describeError(exhausted.takeError()).message.find("no previous holder"),
            std::string::npos);
  auto history = cantFail(store_->aliasHistory("m"));
  ASSERT_EQ(history.tenures_size(), 5);
  EXPECT_EQ(history.tenures(3).action(), "rollback");
  EXPECT_EQ(history.tenures(3).reason(), "bad latency");
  EXPECT_FALSE(history.tenures(4).has_until());
  EXPECT_TRUE(cantFail(store_->check()).ok());
}

TEST_P(StoreTest, TagsChangeIsAudited) {
  registerModel("m", 0);
  TagRequest request{{"m", 1, std::nullopt}, {{"stage", "canary"}}, {}, "bob", "rollout"};
  auto tagged = cantFail(store_->setTags(request));
  EXPECT_EQ(tagged.tags().at("stage"), "canary");
  auto log = cantFail(store_->auditLog({.model = "m", .limit = 1}));
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).action(), "tag");
  EXPECT_EQ(log.events(0).after(), "stage=canary");
  EXPECT_EQ(log.events(0).actor(), "bob");
  TagRequest removeMissing{{"m", 1, std::nullopt}, {}, {"nope"}, "bob", ""};
  EXPECT_FALSE(bool(store_->setTags(removeMissing)));
}

TEST_P(StoreTest, DeletedAliasIsGoneAuditedAndStartsAfresh) {
  for (int i = 0; i < 3; ++i)
    registerModel("m", i);
  ASSERT_TRUE(bool(move("m", "production", 1, std::nullopt)));
  ASSERT_TRUE(bool(move("m", "production", 2, std::nullopt)));
  auto deleted = cantFail(store_->deleteAlias("m", "production", "ops", "retired"));
  EXPECT_EQ(deleted.before(), 2);
  EXPECT_EQ(deleted.after(), 0);
  EXPECT_EQ(deleted.action(), "alias-delete");
  EXPECT_FALSE(cantFail(store_->aliasHolder("m", "production")));
  EXPECT_TRUE(cantFail(store_->listModels()).models(0).aliases().empty());
  auto log = cantFail(store_->auditLog({.model = "m", .limit = 1}));
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).id(), deleted.audit_id());
  EXPECT_EQ(log.events(0).before_version(), 2);
  EXPECT_EQ(log.events(0).after_version(), 0);
  EXPECT_EQ(log.events(0).reason(), "retired");
  EXPECT_TRUE(cantFail(store_->check()).ok());

  // Nothing left to delete or roll back; the history closes the tenure.
  auto again = store_->deleteAlias("m", "production", "ops", "");
  ASSERT_FALSE(bool(again));
  EXPECT_EQ(describeError(again.takeError()).kind, ErrorKind::NotFound);
  EXPECT_FALSE(bool(store_->rollbackAlias("m", "production", "ops", "")));
  auto history = cantFail(store_->aliasHistory("m"));
  ASSERT_EQ(history.tenures_size(), 2);
  EXPECT_TRUE(history.tenures(1).has_until());

  // Set again, the alias has no holder from before the delete to go back to.
  ASSERT_TRUE(bool(move("m", "production", 3, 0)));
  auto rollback = store_->rollbackAlias("m", "production", "ops", "");
  ASSERT_FALSE(bool(rollback));
  EXPECT_THAT(describeError(rollback.takeError()).message,
              ::testing::HasSubstr("no previous holder"));
  EXPECT_TRUE(cantFail(store_->check()).ok());

  // An alias row put back behind the log's back is found.
  ASSERT_TRUE(bool(store_->deleteAlias("m", "production", "ops", "")));
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  ASSERT_FALSE(
      raw->execute("INSERT INTO aliases (model_id, alias, version_id, updated_at)"
                   " SELECT model_id, 'production', id, 1 FROM versions WHERE version = 1"));
  ASSERT_FALSE(raw->commit());
  auto report = cantFail(store_->check());
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(report.DebugString(),
              ::testing::HasSubstr("the audit log never set it or deleted it"));
}

TEST_P(StoreTest, ProtectedAliasIsNotDeleted) {
  registerModel("m", 0);
  ASSERT_TRUE(bool(move("m", "production", 1, std::nullopt)));
  ProtectRequest protect{
      "m", "production", "sha256:" + std::string(64, 'b'), "gates: []", "p.yaml", {}, "ops", ""};
  ASSERT_TRUE(bool(store_->protectAlias(protect)));
  int before = auditCount();
  auto refused = store_->deleteAlias("m", "production", "ops", "");
  ASSERT_FALSE(bool(refused));
  ErrorReport error = describeError(refused.takeError());
  EXPECT_EQ(error.kind, ErrorKind::BadInput);
  EXPECT_THAT(error.message, ::testing::HasSubstr("only a promotion through it moves the alias"));
  EXPECT_EQ(auditCount(), before);
  EXPECT_EQ(cantFail(store_->aliasHolder("m", "production"))->version(), 1);
}

TEST_P(StoreTest, ModelDescriptionAndTagsAreAuditedAndChained) {
  registerModel("m", 0);
  ModelInfoRequest describe{
      "m", std::string("digit classifier"), {{"team", "vision"}}, {}, "ann", "ownership"};
  auto model = cantFail(store_->updateModel(describe));
  EXPECT_EQ(model.description(), "digit classifier");
  EXPECT_EQ(model.tags().at("team"), "vision");
  auto listed = cantFail(store_->listModels());
  EXPECT_EQ(listed.models(0).description(), "digit classifier");
  EXPECT_EQ(cantFail(store_->describeModel("m")).model().tags().at("team"), "vision");
  auto log = cantFail(store_->auditLog({.model = "m", .limit = 2}));
  ASSERT_EQ(log.events_size(), 2);
  EXPECT_EQ(log.events(0).action(), "describe");
  EXPECT_EQ(log.events(0).after(), "digit classifier");
  EXPECT_EQ(log.events(1).action(), "model-tag");
  EXPECT_EQ(log.events(1).after(), "team=vision");
  EXPECT_EQ(log.events(1).actor(), "ann");
  EXPECT_THAT(log.events(1).records(), ::testing::StartsWith("model sha256:"));
  EXPECT_TRUE(cantFail(store_->check()).ok());

  // Removing a tag the model lacks changes nothing, description included.
  int before = auditCount();
  ModelInfoRequest missing{"m", std::string("other"), {}, {"nope"}, "ann", ""};
  auto refused = store_->updateModel(missing);
  ASSERT_FALSE(bool(refused));
  EXPECT_EQ(describeError(refused.takeError()).kind, ErrorKind::NotFound);
  EXPECT_EQ(auditCount(), before);
  EXPECT_EQ(cantFail(store_->describeModel("m")).model().description(), "digit classifier");
  ModelInfoRequest remove{"m", std::nullopt, {}, {"team"}, "ann", ""};
  EXPECT_TRUE(cantFail(store_->updateModel(remove)).tags().empty());
  EXPECT_FALSE(bool(store_->updateModel({"nosuch", std::string("x"), {}, {}, "ann", ""})));

  // The model record is bound: editing the description or adding a tag
  // behind the log's back breaks the chain.
  EXPECT_TRUE(cantFail(store_->check()).ok());
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  ASSERT_FALSE(raw->execute("INSERT INTO model_tags (model_id, tag_key, tag_value)"
                            " SELECT id, 'approved', 'yes' FROM models WHERE name = 'm'"));
  ASSERT_FALSE(raw->commit());
  auto report = cantFail(store_->check());
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(report.DebugString(), ::testing::HasSubstr("the model record it wrote was changed"));
}

TEST_P(StoreTest, GateReportsAreStoredAndImmutable) {
  registerModel("m", 0);
  registerModel("m", 1);
  proto::GateReport report;
  report.set_verdict("fail");
  report.set_candidate("m@2");
  report.set_baseline("m@1");
  report.set_policy_digest("sha256:" + std::string(64, 'a'));
  proto::GateResult *gate = report.add_gates();
  gate->set_name("nfr");
  gate->set_verdict("fail");
  (*gate->mutable_metrics())["nfr"].set_number_value(0.025);
  auto stored = cantFail(store_->storeGateReport(report, "ci"));
  auto loaded = cantFail(store_->getGateReport(stored.id()));
  EXPECT_EQ(loaded.report().gates(0).metrics().at("nfr").number_value(), 0.025);
  EXPECT_EQ(loaded.report().baseline(), "m@1");
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  EXPECT_TRUE(bool(raw->execute("UPDATE gate_reports SET verdict = 'pass'")));
  raw->rollback();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  EXPECT_TRUE(bool(raw->execute("DELETE FROM audit_log")));
  raw->rollback();
}

TEST_P(StoreTest, CheckFindsCorruptAndMissingArtifacts) {
  auto version = registerModel("m", 0);
  registerModel("m", 1);
  EXPECT_TRUE(cantFail(store_->check()).ok());
  std::string path = store_->artifacts().pathFor(version.digest());
  std::ofstream(path, std::ios::app) << "flipped";
  auto report = cantFail(store_->check());
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.problems_size(), 1);
  EXPECT_NE(report.problems(0).find("m@1"), std::string::npos);
  EXPECT_NE(report.problems(0).find("corrupt"), std::string::npos);
  std::filesystem::remove(path);
  report = cantFail(store_->check());
  EXPECT_NE(report.problems(0).find("missing"), std::string::npos);
}

TEST_P(StoreTest, DatasetsAreRegisteredOnceAndNeverChange) {
  auto first = cantFail(store_->registerDataset(datasetRequest("eval", "xxxx", "yy")));
  EXPECT_FALSE(first.existing());
  const proto::Dataset &dataset = first.dataset();
  ASSERT_EQ(dataset.files_size(), 2);
  EXPECT_EQ(dataset.files(0).name(), "inputs"); // by name, whatever order given
  EXPECT_EQ(dataset.files(0).size_bytes(), 4);
  EXPECT_EQ(dataset.files(0).dtype(), "float32");
  EXPECT_THAT(dataset.files(0).shape(), ::testing::ElementsAre(3, 2));
  EXPECT_EQ(dataset.created_by(), "tester");
  EXPECT_TRUE(isWellFormedDigest(dataset.digest()));
  EXPECT_TRUE(cantFail(store_->artifacts().listDigests()).size() == 2);
  int events = auditCount();

  auto again = cantFail(store_->registerDataset(datasetRequest("eval", "xxxx", "yy")));
  EXPECT_TRUE(again.existing());
  EXPECT_EQ(again.dataset().digest(), dataset.digest());
  EXPECT_EQ(auditCount(), events);

  auto changed = store_->registerDataset(datasetRequest("eval", "xxxz", "yy"));
  ASSERT_FALSE(bool(changed));
  ErrorReport conflict = describeError(changed.takeError());
  EXPECT_EQ(conflict.kind, ErrorKind::Conflict);
  EXPECT_THAT(conflict.message, ::testing::HasSubstr("a dataset never changes"));
  EXPECT_EQ(auditCount(), events);
  // The refused registration left no bytes behind.
  EXPECT_EQ(cantFail(store_->check()).orphan_artifacts(), 0);
  EXPECT_EQ(cantFail(store_->findDataset("eval"))->files(0).digest(), dataset.files(0).digest());
  EXPECT_FALSE(cantFail(store_->findDataset("absent")).has_value());
  EXPECT_EQ(cantFail(store_->listDatasets()).datasets_size(), 1);

  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  EXPECT_TRUE(bool(raw->execute("UPDATE datasets SET description = 'other'")));
  raw->rollback();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  EXPECT_TRUE(bool(raw->execute("DELETE FROM datasets")));
  raw->rollback();
}

TEST_P(StoreTest, MalformedDatasetsAreRefusedBeforeAnythingIsStored) {
  std::string path = writeFile("a", "bytes");
  auto refused = [&](DatasetRequest request, const std::string &needle) {
    auto result = store_->registerDataset(request);
    ASSERT_FALSE(bool(result)) << needle;
    ErrorReport report = describeError(result.takeError());
    EXPECT_EQ(report.kind, ErrorKind::BadInput);
    EXPECT_THAT(report.message, ::testing::HasSubstr(needle));
  };
  refused({"", "", {{"inputs", path, "", "", {}}}, "t"}, "invalid dataset name ''");
  refused({"a/b", "", {{"inputs", path, "", "", {}}}, "t"}, "invalid dataset name 'a/b'");
  refused({"bad\nname", "", {{"inputs", path, "", "", {}}}, "t"}, "invalid dataset name");
  refused({"d", "", {}, "t"}, "names no files");
  refused({"d", "", {{"in puts", path, "", "", {}}}, "t"}, "invalid dataset file name");
  refused({"d", "", {{"x", path, "", "", {}}, {"x", path, "", "", {}}}, "t"}, "'x' twice");
  refused({"d", "", {{"x", path, "sha256:" + std::string(64, '0'), "", {}}}, "t"},
          "changed while it was registered");
  auto missing =
      store_->registerDataset({"d", "", {{"x", directory_.file("nope"), "", "", {}}}, "t"});
  ASSERT_FALSE(bool(missing));
  llvm::consumeError(missing.takeError());
  EXPECT_EQ(auditCount(), 0);
  EXPECT_EQ(cantFail(store_->listDatasets()).datasets_size(), 0);
  EXPECT_TRUE(cantFail(store_->artifacts().listDigests()).empty());
}

TEST_P(StoreTest, CheckVerifiesDatasetFiles) {
  auto dataset = cantFail(store_->registerDataset(datasetRequest("eval", "xxxx", "yy"))).dataset();
  auto report = cantFail(store_->check());
  EXPECT_TRUE(report.ok()) << report.DebugString();
  EXPECT_EQ(report.artifacts_verified(), 2);
  std::string path = store_->artifacts().pathFor(dataset.files(1).digest());
  std::ofstream(path, std::ios::app) << "flipped";
  report = cantFail(store_->check());
  ASSERT_EQ(report.problems_size(), 1);
  EXPECT_THAT(report.problems(0), ::testing::HasSubstr("dataset eval/labels: "));
  EXPECT_THAT(report.problems(0), ::testing::HasSubstr("corrupt"));
  // A device in an artifact's place is reported, not read forever.
  std::filesystem::remove(path);
  std::filesystem::create_symlink("/dev/zero", path);
  report = cantFail(store_->check());
  ASSERT_EQ(report.problems_size(), 1);
  EXPECT_THAT(report.problems(0), ::testing::HasSubstr("is not a regular file"));
  // A malformed row is one problem among the others, not the end of check.
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  for (const std::string &statement :
       GetParam() == Backend::Sqlite
           ? std::vector<std::string>{"DROP TRIGGER datasets_no_update"}
           : std::vector<std::string>{"DROP TRIGGER datasets_append_only ON datasets"})
    ASSERT_FALSE(raw->execute(statement));
  ASSERT_FALSE(raw->execute("UPDATE datasets SET files = files || ' garbage'"));
  ASSERT_FALSE(raw->commit());
  report = cantFail(store_->check());
  std::string all;
  for (const std::string &problem : report.problems())
    all += problem + "\n";
  EXPECT_THAT(all, ::testing::HasSubstr("dataset eval: a file line is malformed"));
  EXPECT_THAT(all, ::testing::HasSubstr("the dataset record it wrote was changed"));
}

TEST_P(StoreTest, CheckFindsAliasesTheAuditLogDoesNotExplain) {
  registerModel("m", 0);
  registerModel("m", 1);
  ASSERT_TRUE(bool(move("m", "production", 1, std::nullopt)));
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  ASSERT_FALSE(raw->execute("UPDATE aliases SET version_id = (SELECT max(id) FROM versions)"));
  ASSERT_FALSE(raw->commit());
  auto report = cantFail(store_->check());
  EXPECT_FALSE(report.ok());
  // The replay does not explain it, and the promotion's alias record changed.
  ASSERT_EQ(report.problems_size(), 2);
  EXPECT_NE(report.problems(0).find("replays"), std::string::npos);
  EXPECT_NE(report.problems(1).find("(promote m@1): the alias record it wrote was changed"),
            std::string::npos);
}

TEST_P(StoreTest, ReopeningSeesTheSameState) {
  registerModel("m", 0);
  ASSERT_TRUE(bool(move("m", "staging", 1, std::nullopt)));
  store_.reset();
  auto reopened = openStore(config_);
  ASSERT_TRUE(bool(reopened));
  EXPECT_EQ(cantFail((*reopened)->getVersion({"m", std::nullopt, "staging"})).version(), 1);
  // init on an initialised store is a no-op migration.
  ASSERT_TRUE(bool(initStore(config_)));
}

TEST_P(StoreTest, RefusesAStoreFromANewerGraceful) {
  auto raw = rawConnection();
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  ASSERT_FALSE(raw->execute("UPDATE schema_version SET version = 99"));
  ASSERT_FALSE(raw->commit());
  store_.reset();
  auto reopened = openStore(config_);
  ASSERT_FALSE(bool(reopened));
  EXPECT_NE(describeError(reopened.takeError()).message.find("newer"), std::string::npos);
}

TEST_P(StoreTest, OpeningWithoutInitIsAClearError) {
  testing::TemporaryDirectory other;
  auto location = testing::makeStore(GetParam(), other);
  StoreConfig config{location->uri, location->artifacts, 1000};
  auto store = openStore(config);
  ASSERT_FALSE(bool(store));
  EXPECT_NE(describeError(store.takeError()).message.find("graceful init"), std::string::npos);
}

TEST_P(StoreTest, RollbackAfterARepromotionGoesToTheHolderBefore) {
  registerModel("m", 0);
  registerModel("m", 1);
  ASSERT_TRUE(bool(move("m", "production", 1, std::nullopt)));
  ASSERT_TRUE(bool(move("m", "production", 2, std::nullopt)));
  ASSERT_TRUE(bool(move("m", "production", 2, std::nullopt)));
  auto rolled = cantFail(store_->rollbackAlias("m", "production", "ops", ""));
  EXPECT_EQ(rolled.before(), 2);
  EXPECT_EQ(rolled.after(), 1);
  EXPECT_TRUE(cantFail(store_->check()).ok());
}

// A store with one event of each kind; tests edit its database directly,
// as someone with write access to it could, and `check` must notice.
class ChainTest : public StoreTest {
protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped())
      return;
    RegisterRequest first{"m", models_[0], "first", {{"dataset", "digits"}}, {}, "alice"};
    ASSERT_TRUE(bool(store_->registerVersion(first))); // 1
    registerModel("m", 1);                             // 2
    proto::GateReport report;                          // 3
    report.set_verdict("fail");
    report.set_candidate("m@2");
    report.set_baseline("m@1");
    report.set_policy_digest("sha256:" + std::string(64, 'a'));
    ASSERT_TRUE(bool(store_->storeGateReport(report, "ci")));
    ASSERT_TRUE(bool(move("m", "production", 1, std::nullopt)));                  // 4
    TagRequest tag{{"m", 1, std::nullopt}, {{"stage", "canary"}}, {}, "bob", ""}; // 5
    ASSERT_TRUE(bool(store_->setTags(tag)));
    registerModel("m", 2); // 6
    auto log = cantFail(store_->auditLog({}));
    ASSERT_EQ(log.events_size(), 6);
    for (const proto::AuditEvent &event : log.events())
      ids_.push_back(event.id());
    auto report0 = cantFail(store_->check());
    ASSERT_TRUE(report0.ok()) << report0.DebugString();
    head_ = report0.chain_head();
  }

  void tamper(const std::vector<std::string> &statements) {
    auto raw = rawConnection();
    ASSERT_FALSE(raw->begin(TransactionMode::Write));
    for (const std::string &statement : statements)
      ASSERT_FALSE(raw->execute(statement)) << statement;
    ASSERT_FALSE(raw->commit());
  }

  // Statements that lift the append-only triggers of `table`.
  std::vector<std::string> dropTriggers(const std::string &table) {
    if (GetParam() == Backend::Sqlite)
      return {"DROP TRIGGER " + table + "_no_update", "DROP TRIGGER " + table + "_no_delete"};
    return {"DROP TRIGGER " + table + "_append_only ON " + table};
  }
  void tamperWithoutTriggers(const std::string &table, std::vector<std::string> statements) {
    std::vector<std::string> all = dropTriggers(table);
    all.insert(all.end(), statements.begin(), statements.end());
    tamper(all);
  }

  // check fails, names event `event` (1-based) first, and says `needle`.
  void expectBroken(int event, const std::string &needle) {
    auto report = cantFail(store_->check());
    EXPECT_FALSE(report.ok());
    if (event > 0) {
      EXPECT_EQ(report.first_broken_event(), ids_.at(static_cast<size_t>(event - 1)))
          << report.DebugString();
    }
    std::string all;
    for (const std::string &problem : report.problems())
      all += problem + "\n";
    EXPECT_THAT(all, ::testing::HasSubstr(needle));
  }

  std::string eventName(int event, const std::string &what) {
    return "audit event #" + std::to_string(ids_.at(static_cast<size_t>(event - 1))) + " (" + what +
           "): ";
  }

  std::vector<std::int64_t> ids_;
  std::string head_;
};

TEST_P(ChainTest, EventsCarryTheirLinkRecordsAndHash) {
  auto log = cantFail(store_->auditLog({}));
  std::string previous(64, '0');
  previous = "sha256:" + previous;
  for (int i = 0; i < log.events_size(); ++i) {
    const proto::AuditEvent &event = log.events(i);
    EXPECT_EQ(event.seq(), i + 1);
    EXPECT_EQ(event.prev_hash(), previous);
    EXPECT_TRUE(isWellFormedDigest(event.hash()));
    previous = event.hash();
  }
  EXPECT_THAT(log.events(0).records(),
              ::testing::ContainsRegex("^lineage sha256:[0-9a-f]{64}\ntags sha256:[0-9a-f]{64}"
                                       "\nversion sha256:[0-9a-f]{64}$"));
  EXPECT_THAT(log.events(2).records(), ::testing::StartsWith("report sha256:"));
  EXPECT_THAT(log.events(3).records(), ::testing::StartsWith("alias sha256:"));
  EXPECT_EQ(head_, "6:" + previous);
}

TEST_P(ChainTest, ADatasetEditedOrInsertedBehindTheStoreIsFound) {
  ASSERT_TRUE(bool(store_->registerDataset(datasetRequest("eval", "xxxx", "yy")))); // 7
  ids_.push_back(cantFail(store_->auditLog({})).events(6).id());
  EXPECT_TRUE(cantFail(store_->check()).ok());
  std::string other = "sha256:" + std::string(64, 'b');
  tamperWithoutTriggers("datasets", {"UPDATE datasets SET files = replace(files, 'labels sha256:',"
                                     " 'labels sha256:b') WHERE name = 'eval'",
                                     "INSERT INTO datasets (name, description, digest, files,"
                                     " created_at, created_by) VALUES ('forged', '', '" +
                                         other + "', 'inputs " + other + " 1 - -', 1, 'eve')"});
  expectBroken(7,
               eventName(7, "dataset-register eval") + "the dataset record it wrote was changed");
  expectBroken(7, "dataset forged: no dataset-register event in the audit log");
}

TEST_P(ChainTest, SwappedDigestIsFound) {
  tamper({"UPDATE versions SET digest = (SELECT digest FROM versions WHERE version = 1)"
          " WHERE version = 2"});
  expectBroken(2, eventName(2, "register m@2") + "the version record it wrote was changed");
}

TEST_P(ChainTest, DeletedVersionIsFound) {
  tamper({"DELETE FROM versions WHERE version = 3"});
  expectBroken(6, eventName(6, "register m@3") + "the version record it wrote is missing");
}

TEST_P(ChainTest, InsertedTagIsFound) {
  tamper({"INSERT INTO version_tags (version_id, tag_key, tag_value)"
          " SELECT id, 'approved', 'yes' FROM versions WHERE version = 2"});
  expectBroken(2, eventName(2, "register m@2") + "the tags record it wrote was changed");
  tamper({"INSERT INTO version_tags (version_id, tag_key, tag_value)"
          " SELECT id, 'approved', 'yes' FROM versions WHERE version = 1"});
  expectBroken(2, eventName(5, "tag m@1") + "the tags record it wrote was changed");
}

TEST_P(ChainTest, ReportRewrittenToPassIsFound) {
  tamperWithoutTriggers(
      "gate_reports",
      {"UPDATE gate_reports SET verdict = 'pass', report = replace(report, '\"fail\"',"
       " '\"pass\"')"});
  EXPECT_EQ(cantFail(store_->getGateReport(1)).report().verdict(), "pass");
  expectBroken(3, eventName(3, "gate-report m@2") + "the report record it wrote was changed");
}

TEST_P(ChainTest, DeletedLastEventIsFound) {
  tamperWithoutTriggers("audit_log",
                        {"DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"});
  expectBroken(0, "audit log: event 6 of the chain is missing: the head records " + head_);
  expectBroken(0, "m@3: no register event in the audit log");
}

TEST_P(ChainTest, EditedOrDeletedEventInTheMiddleIsFound) {
  tamperWithoutTriggers("audit_log", {"UPDATE audit_log SET reason = 'routine' WHERE seq = 4"});
  expectBroken(4, eventName(4, "promote m@1") + "it was edited");
  tamper({"DELETE FROM audit_log WHERE seq = 3"});
  expectBroken(4, eventName(4, "promote m@1") +
                      "it is at position 4 of the chain where 3 was expected");
}

TEST_P(ChainTest, APinnedHeadStaysOnTheChainUntilHistoryIsRewritten) {
  ChainHead pinned = cantFail(parseChainHead(head_));
  registerModel("m", 0);
  EXPECT_TRUE(cantFail(store_->check(pinned)).ok());
  // Rewriting history consistently (the last two events and m@4 removed,
  // the head row set back) passes a check without a pin, not one with it.
  auto log = cantFail(store_->auditLog({}));
  tamperWithoutTriggers("audit_log",
                        {"DELETE FROM audit_log WHERE seq >= 6",
                         "DELETE FROM versions WHERE version >= 3",
                         "UPDATE audit_head SET seq = 5, hash = '" + log.events(4).hash() + "'"});
  EXPECT_TRUE(cantFail(store_->check()).ok());
  registerModel("m", 1);
  auto report = cantFail(store_->check(pinned));
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.problems_size(), 1) << report.DebugString();
  EXPECT_THAT(report.problems(0), ::testing::HasSubstr("the pinned head " + head_ +
                                                       " is not on the chain: event 6 now "
                                                       "hashes to"));
  ChainHead later = pinned;
  later.events = 9;
  EXPECT_THAT(cantFail(store_->check(later)).problems(0),
              ::testing::HasSubstr("the log holds only 6 events"));
  EXPECT_FALSE(bool(parseChainHead("6:sha256:nothex")));
  EXPECT_FALSE(bool(parseChainHead("-1:" + pinned.hash)));
}

INSTANTIATE_TEST_SUITE_P(Backends, ChainTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return testing::backendName(info.param); });

// A store written by graceful before the chain (schema 1): init chains its
// events, and the records they wrote are bound from then on.
TEST_P(StoreTest, InitChainsTheEventsOfAnOlderStore) {
  testing::TemporaryDirectory other;
  auto location = testing::makeStore(GetParam(), other);
  StoreConfig config{location->uri, location->artifacts, 1000};
  auto raw = GetParam() == Backend::Sqlite
                 ? cantFail(openSqlite(config.uri.substr(7), OpenMode::CreateIfMissing, 1000))
                 : cantFail(openPostgres(config.uri, 1000));
  ASSERT_FALSE(migrate(*raw, 1));
  FileDigest artifact = cantFail(ArtifactStore(config.artifactsDir).put(models_[0]));
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  for (const std::string &statement :
       {std::string("INSERT INTO models (name, created_at) VALUES ('old', 1)"),
        "INSERT INTO versions (model_id, version, digest, size_bytes, created_at, created_by,"
        " description) VALUES (1, 1, '" +
            artifact.digest + "', " + std::to_string(artifact.sizeBytes) + ", 2, 'eve', '')",
        std::string("INSERT INTO version_tags VALUES (1, 'stage', 'canary')"),
        std::string("INSERT INTO aliases VALUES (1, 'production', 1, 3)")})
    ASSERT_FALSE(raw->execute(statement)) << statement;
  for (const char *event : {"(1, 'eve', 'register', 'old', 1, '', '', 'x', '', NULL)",
                            "(2, 'eve', 'tag', 'old', 1, '', '', 'stage=canary', '', NULL)",
                            "(3, 'eve', 'promote', 'old', 1, 'production', '', '1', '', NULL)"})
    ASSERT_FALSE(raw->execute("INSERT INTO audit_log (occurred_at, actor, action, model, version,"
                              " alias, state_before, state_after, reason, gate_report_id)"
                              " VALUES " +
                              std::string(event)));
  ASSERT_FALSE(raw->commit());
  auto refused = openStore(config);
  ASSERT_FALSE(bool(refused));
  EXPECT_THAT(describeError(refused.takeError()).message,
              ::testing::HasSubstr("schema version 1, older than this graceful's " +
                                   std::to_string(kSchemaVersion)));

  auto migrated = cantFail(initStore(config));
  auto log = cantFail(migrated->auditLog({}));
  ASSERT_EQ(log.events_size(), 3);
  EXPECT_EQ(log.events(2).seq(), 3);
  EXPECT_EQ(log.events(1).prev_hash(), log.events(0).hash());
  // The register event was overwritten by the tag event: it binds its
  // version row and lineage, not the tags it once wrote.
  EXPECT_THAT(log.events(0).records(), ::testing::Not(::testing::HasSubstr("tags")));
  EXPECT_THAT(log.events(1).records(), ::testing::StartsWith("tags sha256:"));
  auto report = cantFail(migrated->check());
  EXPECT_TRUE(report.ok()) << report.DebugString();
  EXPECT_EQ(report.chain_head(), "3:" + log.events(2).hash());
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  ASSERT_FALSE(raw->execute("UPDATE version_tags SET tag_value = 'stable'"));
  ASSERT_FALSE(raw->commit());
  report = cantFail(migrated->check());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.first_broken_event(), log.events(1).id());
  // Appends continue the migrated chain, and the audit log stays append-only.
  RegisterRequest next{"old", models_[1], "", {}, {}, "eve"};
  ASSERT_TRUE(bool(migrated->registerVersion(next)));
  log = cantFail(migrated->auditLog({}));
  EXPECT_EQ(log.events(3).seq(), 4);
  EXPECT_EQ(log.events(3).prev_hash(), log.events(2).hash());
  // Schema 3's model description and tags work on the migrated store.
  auto described = cantFail(
      migrated->updateModel({"old", std::string("migrated"), {{"team", "a"}}, {}, "eve", ""}));
  EXPECT_EQ(described.description(), "migrated");
  EXPECT_EQ(cantFail(migrated->listModels()).models(0).tags().at("team"), "a");
  ASSERT_FALSE(raw->begin(TransactionMode::Write));
  EXPECT_TRUE(bool(raw->execute("UPDATE audit_log SET reason = 'x'")));
  raw->rollback();
}

// ---- webhooks ------------------------------------------------------------------

WebhookRequest webhook(const std::string &models, const std::string &aliases,
                       std::vector<std::string> events) {
  return {"https://hooks.example/services/T1/SECRET-PATH?key=k",
          models,
          aliases,
          std::move(events),
          "whsec_test",
          "admin"};
}

std::vector<std::string> queued(Store &store, std::int64_t webhookId) {
  std::vector<std::string> events;
  proto::WebhookDeliveryList list = cantFail(store.listDeliveries({webhookId, "", 0}));
  for (const proto::WebhookDelivery &delivery : list.deliveries())
    events.push_back(delivery.event() + " " + delivery.model() +
                     (delivery.alias().empty() ? "" : "@" + delivery.alias()));
  return events;
}

// Each event is queued, in the transaction that records it, for exactly
// the webhooks whose event list and globs match; a write that fails
// queues nothing.
TEST_P(StoreTest, EventsAreQueuedForTheWebhooksTheyMatch) {
  auto production = cantFail(store_->createWebhook(
      webhook("m*", "production", {"registered", "promoted", "rolled-back"})));
  auto refusals = cantFail(store_->createWebhook(webhook("*", "*", {"refused", "forced"})));
  registerModel("m", 0);
  registerModel("m", 1);
  registerModel("other", 2);
  ASSERT_TRUE(bool(move("m", "staging", 1, 0)));
  ASSERT_TRUE(bool(move("m", "production", 1, 0)));
  ASSERT_TRUE(bool(move("m", "production", 2, 1)));
  EXPECT_FALSE(bool(move("m", "production", 1, 1))) << "a failed compare-and-set";
  ASSERT_TRUE(bool(store_->rollbackAlias("m", "production", "tester", "bad")));
  ASSERT_TRUE(bool(store_->moveAlias(
      {"other", "production", 1, 0, AliasAction::Override, "tester", "hotfix", std::nullopt})));
  proto::GateReport report;
  report.set_candidate("m@2");
  report.set_verdict("fail");
  report.set_policy_digest("sha256:" + std::string(64, 'a'));
  auto refusedReport =
      cantFail(store_->recordRefusal({"m", "production", 2, 1, "ci", "", report, 0}));
  EXPECT_GT(refusedReport, 0);
  EXPECT_THAT(queued(*store_, production.id()),
              ::testing::ElementsAre("registered m", "registered m", "promoted m@production",
                                     "promoted m@production", "rolled-back m@production"));
  EXPECT_THAT(queued(*store_, refusals.id()),
              ::testing::ElementsAre("forced other@production", "refused m@production"));
  // The refusal is on the chain with its report, which it stored.
  proto::AuditLog log = cantFail(store_->auditLog({"m", 1, 0, 0, "refuse"}));
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).gate_report_id(), refusedReport);
  EXPECT_EQ(log.events(0).before_version(), 1);
  EXPECT_EQ(cantFail(store_->getGateReport(refusedReport)).report().verdict(), "fail");
  // Creating a webhook shows its URL's origin only: the path can be a
  // receiver's own secret, and every reader sees the audit log.
  log = cantFail(store_->auditLog({"", 0, 0, 0, "webhook-create"}));
  ASSERT_EQ(log.events_size(), 2);
  EXPECT_THAT(log.events(0).after(), ::testing::HasSubstr("https://hooks.example "));
  EXPECT_THAT(log.events(0).after(), ::testing::Not(::testing::HasSubstr("SECRET")));
  EXPECT_TRUE(cantFail(store_->check()).ok());
  // The secret is answered on creation only.
  EXPECT_EQ(production.secret(), "whsec_test");
  EXPECT_EQ(cantFail(store_->listWebhooks()).webhooks(0).secret(), "");
}

// A delivery is claimed by one sender at a time, carries its event as
// the audit log has it, waits out its retry delay, and is not revived by
// a late sender once delivered.
TEST_P(StoreTest, DeliveriesAreLeasedRetriedAndDeliveredOnce) {
  auto hook = cantFail(store_->createWebhook(webhook("*", "*", {"registered"})));
  registerModel("m", 0);
  std::int64_t now = 4'000'000'000'000'000;
  auto claimed = cantFail(store_->claimDeliveries(now, 10, now + 1000));
  ASSERT_EQ(claimed.size(), 1u);
  const DueDelivery &due = claimed[0];
  EXPECT_EQ(due.secret, "whsec_test");
  EXPECT_EQ(due.url, hook.url());
  proto::WebhookEvent body;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(due.body, &body).ok()) << due.body;
  EXPECT_EQ(body.event(), "registered");
  EXPECT_EQ(body.delivery_id(), due.delivery.id());
  proto::AuditLog log = cantFail(store_->auditLog({"m"}));
  EXPECT_EQ(body.audit_event().hash(), log.events(0).hash());
  EXPECT_TRUE(cantFail(store_->claimDeliveries(now, 10, now + 1000)).empty()) << "leased";
  EXPECT_EQ(due.leaseUntilMicros, now + 1000);
  auto busy = store_->redeliver(due.delivery.id(), "ann");
  ASSERT_FALSE(bool(busy)) << "not while it is being sent";
  EXPECT_EQ(describeError(busy.takeError()).kind, ErrorKind::Conflict);
  auto retried = cantFail(store_->recordDeliveryAttempt(
      {due.delivery.id(), now + 1000, false, "HTTP 503", now + 5000}));
  EXPECT_EQ(retried.status(), "pending");
  EXPECT_EQ(retried.attempts(), 1);
  EXPECT_EQ(retried.last_response(), "HTTP 503");
  EXPECT_TRUE(cantFail(store_->claimDeliveries(now + 4999, 10, now + 9000)).empty());
  auto again = cantFail(store_->claimDeliveries(now + 5000, 10, now + 9000));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, due.body) << "the same bytes on every attempt";
  // The first claim's sender, late, records nothing over the second's.
  auto stale =
      cantFail(store_->recordDeliveryAttempt({due.delivery.id(), now + 1000, false, "timeout", 0}));
  EXPECT_EQ(stale.status(), "pending");
  EXPECT_EQ(stale.attempts(), 1);
  auto delivered =
      cantFail(store_->recordDeliveryAttempt({due.delivery.id(), now + 9000, true, "HTTP 200", 0}));
  EXPECT_EQ(delivered.status(), "delivered");
  EXPECT_EQ(delivered.attempts(), 2);
  EXPECT_TRUE(delivered.has_delivered_at());
  // A sender whose lease ran out reports late: nothing changes.
  auto late = cantFail(
      store_->recordDeliveryAttempt({due.delivery.id(), now + 9000, false, "timeout", now}));
  EXPECT_EQ(late.status(), "delivered");
  EXPECT_EQ(late.attempts(), 2);
  EXPECT_TRUE(cantFail(store_->claimDeliveries(now + 1'000'000'000, 10, now)).empty());
  // Given up after the last attempt, then sent again by hand.
  registerModel("m", 1);
  auto second = cantFail(store_->claimDeliveries(now, 10, now + 1000));
  ASSERT_EQ(second.size(), 1u);
  auto failed = cantFail(store_->recordDeliveryAttempt(
      {second[0].delivery.id(), second[0].leaseUntilMicros, false, "HTTP 500", 0}));
  EXPECT_EQ(failed.status(), "failed");
  EXPECT_EQ(cantFail(store_->listDeliveries({0, "failed", 0})).deliveries_size(), 1);
  auto requeued = cantFail(store_->redeliver(failed.id(), "ann"));
  EXPECT_EQ(requeued.status(), "pending");
  EXPECT_EQ(requeued.attempts(), 0);
  EXPECT_EQ(cantFail(store_->auditLog({"", 0, 0, 0, "webhook-redeliver"})).events_size(), 1);
  EXPECT_TRUE(cantFail(store_->check()).ok());
}

// Deleting a webhook cancels what it has pending and queues nothing more;
// a cancelled delivery is not sent again, and unknown ids are NotFound.
TEST_P(StoreTest, DeletedWebhooksGetNothingMore) {
  auto hook = cantFail(store_->createWebhook(webhook("*", "*", {"registered"})));
  std::int64_t now = 4'000'000'000'000'000;
  // One delivered before the delete, one under way when it comes.
  registerModel("m", 0);
  auto sent = cantFail(store_->claimDeliveries(now, 10, now + 1000));
  ASSERT_EQ(sent.size(), 1u);
  cantFail(store_->recordDeliveryAttempt({sent[0].delivery.id(), now + 1000, true, "HTTP 200", 0}));
  registerModel("m", 2);
  auto inFlight = cantFail(store_->claimDeliveries(now, 10, now + 1000));
  ASSERT_EQ(inFlight.size(), 1u);
  auto deleted = cantFail(store_->deleteWebhook(hook.id(), "ann", "receiver retired"));
  EXPECT_TRUE(deleted.has_deleted_at());
  // The attempt under way is recorded; the delivery stays cancelled.
  auto answered = cantFail(
      store_->recordDeliveryAttempt({inFlight[0].delivery.id(), now + 1000, true, "HTTP 200", 0}));
  EXPECT_EQ(answered.status(), "cancelled");
  EXPECT_EQ(answered.attempts(), 1);
  EXPECT_EQ(answered.last_response(), "HTTP 200");
  auto twice = cantFail(store_->deleteWebhook(hook.id(), "ann", ""));
  EXPECT_EQ(twice.deleted_at().seconds(), deleted.deleted_at().seconds());
  EXPECT_EQ(cantFail(store_->auditLog({"", 0, 0, 0, "webhook-delete"})).events_size(), 1);
  registerModel("m", 1);
  auto deliveries = cantFail(store_->listDeliveries({}));
  ASSERT_EQ(deliveries.deliveries_size(), 2) << "nothing queued after the delete";
  EXPECT_EQ(deliveries.deliveries(0).status(), "delivered");
  EXPECT_EQ(deliveries.deliveries(1).status(), "cancelled");
  EXPECT_TRUE(cantFail(store_->claimDeliveries(now, 10, 0)).empty());
  // Neither is sent again to the retired URL.
  auto retired = store_->redeliver(deliveries.deliveries(0).id(), "ann");
  ASSERT_FALSE(bool(retired));
  EXPECT_EQ(describeError(retired.takeError()).kind, ErrorKind::Conflict);
  auto redelivered = store_->redeliver(deliveries.deliveries(1).id(), "ann");
  ASSERT_FALSE(bool(redelivered));
  EXPECT_EQ(describeError(redelivered.takeError()).kind, ErrorKind::Conflict);
  auto missingWebhook = store_->deleteWebhook(99, "ann", "");
  ASSERT_FALSE(bool(missingWebhook));
  EXPECT_EQ(describeError(missingWebhook.takeError()).kind, ErrorKind::NotFound);
  auto missingDelivery = store_->redeliver(99, "ann");
  ASSERT_FALSE(bool(missingDelivery));
  EXPECT_EQ(describeError(missingDelivery.takeError()).kind, ErrorKind::NotFound);
  EXPECT_TRUE(cantFail(store_->check()).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return testing::backendName(info.param); });

} // namespace
} // namespace graceful::registry
