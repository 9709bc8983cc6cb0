// Issue 15: every decision can be read back and every command scripted.
// Each test here is one finding of that issue, through the real binary on
// both backends.
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace graceful::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;
using ::testing::Not;

// A JSON document as a Struct, so a test can tell a number from a string.
Struct parse(const std::string &json) {
  Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.message() << " in " << json;
  return parsed;
}

const Value &field(const Struct &object, const std::string &name) {
  static const Value missing;
  auto it = object.fields().find(name);
  EXPECT_NE(it, object.fields().end()) << "no field '" << name << "'";
  return it == object.fields().end() ? missing : it->second;
}

double number(const Struct &object, const std::string &name) {
  const Value &value = field(object, name);
  EXPECT_EQ(value.kind_case(), Value::kNumberValue) << name << " is not a JSON number";
  return value.number_value();
}

class ReadBackTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    auto store = makeStore(GetParam(), directory_);
    if (!store)
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    store_ = *store;
    env_ = store_.environment();
    env_["GRACEFUL_ACTOR"] = "release-bot";
    ASSERT_EQ(run({"init"}).exitCode, 0);
    for (int seed : {1, 2, 3}) {
      models_.push_back(directory_.file("m" + std::to_string(seed) + ".onnx"));
      writeTinyOnnxModel(models_.back(), seed);
    }
    pass_ = directory_.file("pass.yaml");
    std::ofstream(pass_) << "gates: []\n";
    // An edge gate whose profile no model fits: a refusal without data files.
    std::string profile = directory_.file("tiny.yaml");
    std::ofstream(profile) << "name: tiny\nmax_params: 1\n";
    fail_ = directory_.file("fail.yaml");
    std::ofstream(fail_) << "gates:\n  - edge: {profile: tiny.yaml}\n";
  }

  ProcessResult run(const std::vector<std::string> &args) {
    return runGraceful(args, env_, directory_.path());
  }

  // Registers m@1 and m@2 and promotes m@1 to production.
  void registerTwoAndPromoteFirst() {
    ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
    ASSERT_EQ(run({"register", "m", "--onnx", models_[1]}).exitCode, 0);
    ProcessResult promoted = run(
        {"promote", "m@1", "--to", "production", "--policy", pass_, "--reason", "first release"});
    ASSERT_EQ(promoted.exitCode, 0) << promoted.err;
  }

  int auditEvents() {
    Struct log = parse(run({"audit", "--json"}).out);
    return field(log, "events").list_value().values_size();
  }

  TemporaryDirectory directory_;
  TestStore store_;
  Environment env_;
  std::vector<std::string> models_;
  std::string pass_, fail_;
};

// `gate run` printed "stored as gate report #9" but nothing showed it, and
// its JSON had no id.
TEST_P(ReadBackTest, GateRunReportIsShownBackByIdVersionAndAlias) {
  registerTwoAndPromoteFirst();
  ProcessResult gate = run({"gate", "run", "--policy", pass_, "--candidate", "m@2", "--baseline",
                            "m@production", "--json"});
  ASSERT_EQ(gate.exitCode, 0) << gate.err;
  double id = number(parse(gate.out), "report_id");
  ASSERT_GT(id, 0);
  std::string idText = std::to_string(static_cast<int>(id));
  ProcessResult shown = run({"report", "show", idText, "--json"});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  Struct stored = parse(shown.out);
  EXPECT_EQ(number(stored, "id"), id);
  EXPECT_EQ(field(field(stored, "report").struct_value(), "candidate").string_value(), "m@2");
  EXPECT_EQ(field(stored, "created_by").string_value(), "release-bot");
  EXPECT_EQ(number(parse(run({"report", "show", "m@2", "--json"}).out), "id"), id);

  // NAME@ALIAS: the report the holder was promoted with, with its HTML.
  std::string html = directory_.file("production.html");
  ProcessResult production = run({"report", "show", "m@production", "--report", html});
  ASSERT_EQ(production.exitCode, 0) << production.err;
  EXPECT_THAT(production.out, HasSubstr("gates pass for m@1"));
  EXPECT_TRUE(std::filesystem::file_size(html) > 0);

  ProcessResult list = run({"report", "list", "m", "--json"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_EQ(field(parse(list.out), "reports").list_value().values_size(), 2);
  ProcessResult none = run({"report", "show", "m@3"});
  EXPECT_EQ(none.exitCode, 2);
  EXPECT_THAT(none.err, HasSubstr("no gate report for m@3"));
}

// A refused promotion stored its report but did not say which.
TEST_P(ReadBackTest, RefusedPromotionCarriesItsReportId) {
  registerTwoAndPromoteFirst();
  ProcessResult refused =
      run({"promote", "m@2", "--to", "production", "--policy", fail_, "--json"});
  ASSERT_EQ(refused.exitCode, 1) << refused.err;
  Struct result = parse(refused.out);
  double id = number(result, "report_id");
  ASSERT_GT(id, 0);
  EXPECT_EQ(number(field(result, "report").struct_value(), "report_id"), id);
  EXPECT_FALSE(field(result, "promoted").bool_value());
  ProcessResult shown = run({"report", "show", std::to_string(static_cast<int>(id))});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("gates fail for m@2"));
  ProcessResult text = run({"promote", "m@2", "--to", "production", "--policy", fail_});
  EXPECT_THAT(text.out, HasSubstr("gate report #"));
  EXPECT_THAT(text.out, HasSubstr("production stays at v1"));
}

// "stays at unset" for an alias nobody holds.
TEST_P(ReadBackTest, RefusedFirstPromotionSaysTheAliasStaysUnset) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
  ProcessResult refused = run({"promote", "m@1", "--to", "production", "--policy", fail_});
  ASSERT_EQ(refused.exitCode, 1) << refused.err;
  EXPECT_THAT(refused.out, HasSubstr("production stays unset"));
  EXPECT_THAT(refused.out, Not(HasSubstr("stays at unset")));
}

// A release dashboard's first question in one command: who holds
// production, since when, put there by whom, why, with which report.
TEST_P(ReadBackTest, ShowAliasTellsHowTheHolderGotThere) {
  registerTwoAndPromoteFirst();
  ProcessResult shown = run({"show", "m@production", "--json"});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  Struct version = parse(shown.out);
  EXPECT_EQ(number(version, "version"), 1);
  EXPECT_GT(number(version, "size_bytes"), 0); // a number, not "19691"
  const Struct &holder = field(version, "holder").struct_value();
  EXPECT_EQ(field(holder, "actor").string_value(), "release-bot");
  EXPECT_EQ(field(holder, "reason").string_value(), "first release");
  EXPECT_EQ(field(holder, "action").string_value(), "promote");
  EXPECT_GT(number(holder, "gate_report_id"), 0);
  EXPECT_FALSE(field(holder, "since").string_value().empty());
  EXPECT_THAT(run({"show", "m@production"}).out, HasSubstr("holds:       production since"));
  // m@1 looked up by number has no holder: one version, one shape otherwise.
  EXPECT_EQ(parse(run({"show", "m@1", "--json"}).out).fields().count("holder"), 0u);
}

// After a rollback the audit event said "gate_report_id":"0"; history had
// no report at all.
TEST_P(ReadBackTest, RollbackRecordsTheReportOfTheHolderItRestores) {
  registerTwoAndPromoteFirst();
  double first =
      number(field(parse(run({"show", "m@production", "--json"}).out), "holder").struct_value(),
             "gate_report_id");
  ASSERT_EQ(run({"promote", "m@2", "--to", "production", "--policy", pass_}).exitCode, 0);
  ProcessResult rolled = run({"rollback", "m@production", "--reason", "latency", "--json"});
  ASSERT_EQ(rolled.exitCode, 0) << rolled.err;
  EXPECT_EQ(number(parse(rolled.out), "gate_report_id"), first);
  Struct shown = parse(run({"show", "m@production", "--json"}).out);
  const Struct &holder = field(shown, "holder").struct_value();
  EXPECT_EQ(field(holder, "action").string_value(), "rollback");
  EXPECT_EQ(number(holder, "gate_report_id"), first);
  Struct history = parse(run({"history", "m@production", "--json"}).out);
  const auto &tenures = field(history, "tenures").list_value().values();
  ASSERT_EQ(tenures.size(), 3);
  for (const Value &tenure : tenures)
    EXPECT_GT(number(tenure.struct_value(), "gate_report_id"), 0);
  EXPECT_EQ(run({"check"}).exitCode, 0);
}

// rollback wanted NAME --alias A while promote takes NAME@V --to A, and
// history NAME@ALIAS was refused.
TEST_P(ReadBackTest, RollbackAndHistoryTakeNameAtAlias) {
  registerTwoAndPromoteFirst();
  ASSERT_EQ(run({"promote", "m@2", "--to", "staging", "--policy", pass_}).exitCode, 0);
  ASSERT_EQ(run({"promote", "m@2", "--to", "production", "--policy", pass_}).exitCode, 0);
  ProcessResult history = run({"history", "m@staging"});
  ASSERT_EQ(history.exitCode, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("staging -> v2"));
  EXPECT_THAT(history.out, Not(HasSubstr("production")));
  ProcessResult rolled = run({"rollback", "m@production"});
  ASSERT_EQ(rolled.exitCode, 0) << rolled.err;
  EXPECT_THAT(rolled.out, HasSubstr("v2 -> v1"));
  ProcessResult both = run({"rollback", "m@production", "--alias", "staging"});
  EXPECT_EQ(both.exitCode, 2);
  EXPECT_THAT(both.err, HasSubstr("--alias says 'staging'"));
}

// Polling re-read the whole log: audit had no --since, --action, --alias.
TEST_P(ReadBackTest, AuditFiltersForPolling) {
  registerTwoAndPromoteFirst();
  Struct all = parse(run({"audit", "--json"}).out);
  const auto &events = field(all, "events").list_value().values();
  ASSERT_GE(events.size(), 4);
  double last = number(events[events.size() - 1].struct_value(), "id");
  EXPECT_EQ(
      field(parse(run({"audit", "--since", std::to_string(static_cast<int>(last)), "--json"}).out),
            "events")
          .list_value()
          .values_size(),
      0);
  ASSERT_EQ(run({"promote", "m@2", "--to", "staging", "--policy", pass_}).exitCode, 0);
  Struct since =
      parse(run({"audit", "--since", std::to_string(static_cast<int>(last)), "--json"}).out);
  for (const Value &event : field(since, "events").list_value().values())
    EXPECT_GT(number(event.struct_value(), "id"), last);
  Struct promotions = parse(run({"audit", "--action", "promote", "--json"}).out);
  EXPECT_EQ(field(promotions, "events").list_value().values_size(), 2);
  Struct staging = parse(run({"audit", "--alias", "staging", "--json"}).out);
  ASSERT_EQ(field(staging, "events").list_value().values_size(), 1);
  Struct beforeTime = parse(run({"audit", "--since", "2000-01-01T00:00:00Z", "--json"}).out);
  EXPECT_EQ(field(beforeTime, "events").list_value().values_size(), auditEvents());
  Struct future = parse(run({"audit", "--since", "2999-01-01T00:00:00Z", "--json"}).out);
  EXPECT_EQ(field(future, "events").list_value().values_size(), 0);
  ProcessResult bad = run({"audit", "--since", "yesterday"});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("--since 'yesterday'"));
}

// A promotion's move printed "before":0 and the audit log "before":"" for
// the same fact; gate-report events hid the verdict in "after" and the
// policy in "reason".
TEST_P(ReadBackTest, AuditEventsCarryTypedFacts) {
  registerTwoAndPromoteFirst();
  ASSERT_EQ(run({"promote", "m@2", "--to", "production", "--policy", pass_}).exitCode, 0);
  Struct promotions = parse(run({"audit", "--action", "promote", "--json"}).out);
  const auto &moves = field(promotions, "events").list_value().values();
  ASSERT_EQ(moves.size(), 2);
  EXPECT_EQ(number(moves[0].struct_value(), "before_version"), 0);
  EXPECT_EQ(number(moves[0].struct_value(), "after_version"), 1);
  EXPECT_EQ(number(moves[1].struct_value(), "before_version"), 1);
  EXPECT_EQ(number(moves[1].struct_value(), "after_version"), 2);
  Struct reports = parse(run({"audit", "--action", "gate-report", "--json"}).out);
  const Struct &second = field(reports, "events").list_value().values(1).struct_value();
  EXPECT_EQ(field(second, "verdict").string_value(), "pass");
  EXPECT_EQ(field(second, "baseline").string_value(), "m@1");
  EXPECT_THAT(field(second, "policy_digest").string_value(), ::testing::StartsWith("sha256:"));
}

// With --json, errors were plain text and stdout empty.
TEST_P(ReadBackTest, ErrorsAreJsonWithJson) {
  ProcessResult missing = run({"show", "ghost", "--json"});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_TRUE(missing.out.empty());
  Struct error = parse(missing.err);
  EXPECT_THAT(field(error, "error").string_value(), HasSubstr("no model named 'ghost'"));
  EXPECT_EQ(field(error, "kind").string_value(), "not-found");
  EXPECT_EQ(number(error, "exit_code"), 2);
  EXPECT_EQ(field(error, "where").string_value(), "show");
  Struct usage = parse(run({"register", "m", "--json"}).err);
  EXPECT_EQ(field(usage, "kind").string_value(), "bad-input");
  EXPECT_THAT(field(usage, "error").string_value(), HasSubstr("missing --onnx"));
  Struct unknown = parse(run({"frobnicate", "--json"}).err);
  EXPECT_EQ(number(unknown, "exit_code"), 2);
}

// `init --json` on a store holding models reported "models":0.
TEST_P(ReadBackTest, InitReportsTheModelsThere) {
  registerTwoAndPromoteFirst();
  ASSERT_EQ(run({"register", "other", "--onnx", models_[2]}).exitCode, 0);
  ProcessResult init = run({"init", "--json"});
  ASSERT_EQ(init.exitCode, 0) << init.err;
  EXPECT_EQ(number(parse(init.out), "models"), 2);
}

// A retried job registered identical bytes as a new version.
TEST_P(ReadBackTest, RegisteringIdenticalBytesReturnsTheExistingVersion) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
  int events = auditEvents();
  ProcessResult again = run({"register", "m", "--onnx", models_[0], "--json"});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  Struct result = parse(again.out);
  EXPECT_TRUE(field(result, "existing").bool_value());
  EXPECT_EQ(number(field(result, "version").struct_value(), "version"), 1);
  EXPECT_EQ(auditEvents(), events);
  EXPECT_THAT(run({"register", "m", "--onnx", models_[0]}).out,
              HasSubstr("already registered m@1"));
  // Another model may hold the same bytes; --allow-duplicate forces a version.
  EXPECT_FALSE(field(parse(run({"register", "n", "--onnx", models_[0], "--json"}).out), "existing")
                   .bool_value());
  Struct forced =
      parse(run({"register", "m", "--onnx", models_[0], "--allow-duplicate", "--json"}).out);
  EXPECT_FALSE(field(forced, "existing").bool_value());
  EXPECT_EQ(number(field(forced, "version").struct_value(), "version"), 2);
}

// Promoting the holder again ran the gates and recorded a report and a move.
TEST_P(ReadBackTest, PromotingTheHolderIsANoOp) {
  registerTwoAndPromoteFirst();
  int events = auditEvents();
  ProcessResult again = run({"promote", "m@1", "--to", "production", "--policy", pass_, "--json"});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  Struct result = parse(again.out);
  EXPECT_TRUE(field(result, "unchanged").bool_value());
  EXPECT_FALSE(field(result, "promoted").bool_value());
  EXPECT_EQ(auditEvents(), events);
  EXPECT_THAT(run({"promote", "m@1", "--to", "production", "--policy", pass_}).out,
              HasSubstr("holds production already"));
}

// A pipeline template's `--parent digits@production` failed the first
// registration ("no model named 'digits'").
TEST_P(ReadBackTest, ParentIfExistsLetsTheFirstRegistrationThrough) {
  ProcessResult first = run({"register", "m", "--onnx", models_[0], "--parent-if-exists",
                             "m@production:fine-tuned-from", "--json"});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_EQ(field(parse(first.out), "skipped_parents").list_value().values(0).string_value(),
            "m@production:fine-tuned-from");
  ASSERT_EQ(run({"promote", "m@1", "--to", "production", "--policy", pass_}).exitCode, 0);
  ProcessResult second = run({"register", "m", "--onnx", models_[1], "--parent-if-exists",
                              "m@production:fine-tuned-from"});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_THAT(run({"show", "m@2"}).out, HasSubstr("parent:      m@1 (fine-tuned-from)"));
  // A malformed parent is still an error, not skipped.
  ProcessResult bad =
      run({"register", "m", "--onnx", models_[2], "--parent-if-exists", "m@1:copied-from"});
  EXPECT_EQ(bad.exitCode, 2);
}

// The contract promised exit 4 for a store that is down or locked; every
// failure was 2.
TEST_P(ReadBackTest, UnreachableStoreIsUnavailable) {
  Environment env = env_;
  env["GRACEFUL_STORE"] = GetParam() == Backend::Postgres
                              ? "postgresql://graceful:x@127.0.0.1:9/none"
                              : "sqlite:" + directory_.file("absent/registry.db");
  ProcessResult result = runGraceful({"list", "--json"}, env, directory_.path());
  if (GetParam() == Backend::Postgres) {
    EXPECT_EQ(result.exitCode, 4) << result.err;
    EXPECT_EQ(field(parse(result.err), "kind").string_value(), "unavailable");
  } else {
    // No registry at that path is bad input: retrying will not create it.
    EXPECT_EQ(result.exitCode, 2) << result.err;
  }
}

// `list` on PostgreSQL insisted on --artifacts just to read metadata.
TEST_P(ReadBackTest, MetadataReadsNeedNoArtifactDirectory) {
  registerTwoAndPromoteFirst();
  Environment env = env_;
  env.erase("GRACEFUL_ARTIFACTS");
  env["GRACEFUL_ARTIFACTS"] = "";
  for (std::vector<std::string> args : {std::vector<std::string>{"list"},
                                        {"show", "m@production"},
                                        {"history", "m"},
                                        {"audit"},
                                        {"report", "list", "m"}}) {
    ProcessResult result = runGraceful(args, env, "/");
    EXPECT_EQ(result.exitCode, 0) << args[0] << ": " << result.err;
  }
}

// JUnit got two <testcase name="nfr"> for two gates of one type.
TEST_P(ReadBackTest, NamedGatesNameEveryReportForm) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
  std::ofstream(directory_.file("wide.yaml")) << "name: wide\nmax_params: 100000\n";
  std::string policy = directory_.file("named.yaml");
  std::ofstream(policy) << "gates:\n  - edge: {name: strict, profile: tiny.yaml}\n"
                           "  - edge: {name: loose, profile: wide.yaml}\n";
  std::string junit = directory_.file("r.xml"), markdown = directory_.file("r.md");
  ProcessResult gate = run({"gate", "run", "--policy", policy, "--candidate", "m@1", "--junit",
                            junit, "--markdown", markdown, "--json"});
  ASSERT_EQ(gate.exitCode, 1) << gate.err;
  Struct report = parse(gate.out);
  const auto &gates = field(report, "gates").list_value().values();
  ASSERT_EQ(gates.size(), 2);
  EXPECT_EQ(field(gates[0].struct_value(), "name").string_value(), "strict");
  EXPECT_EQ(field(gates[0].struct_value(), "type").string_value(), "edge");
  EXPECT_EQ(field(gates[0].struct_value(), "verdict").string_value(), "fail");
  EXPECT_EQ(field(gates[1].struct_value(), "name").string_value(), "loose");
  EXPECT_EQ(field(gates[1].struct_value(), "verdict").string_value(), "pass");
  std::ifstream junitFile(junit), markdownFile(markdown);
  std::string xml(std::istreambuf_iterator<char>(junitFile), {});
  std::string md(std::istreambuf_iterator<char>(markdownFile), {});
  EXPECT_THAT(xml, HasSubstr("name=\"strict\""));
  EXPECT_THAT(xml, HasSubstr("name=\"loose\""));
  EXPECT_THAT(md, HasSubstr("| strict |"));
  EXPECT_THAT(run({"report", "show", "m@1"}).out, HasSubstr("  strict: fail"));
}

// There was no way to get an artifact back out, search by tag, or set an
// alias outside promotion.
TEST_P(ReadBackTest, DownloadVerifiesTheDigest) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
  std::string out = directory_.file("copy.onnx");
  ProcessResult downloaded = run({"download", "m@1", "--out", out, "--json"});
  ASSERT_EQ(downloaded.exitCode, 0) << downloaded.err;
  std::ifstream original(models_[0], std::ios::binary), copy(out, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(original), {}),
            std::string(std::istreambuf_iterator<char>(copy), {}));
  // A damaged artifact is refused, and nothing is written.
  std::string digest = field(parse(downloaded.out), "digest").string_value();
  std::string hex = digest.substr(7);
  std::string stored = store_.artifacts + "/sha256/" + hex.substr(0, 2) + "/" + hex;
  std::filesystem::permissions(stored, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::ofstream(stored, std::ios::app) << "x";
  std::string second = directory_.file("second.onnx");
  ProcessResult refused = run({"download", "m@1", "--out", second});
  EXPECT_EQ(refused.exitCode, 2);
  EXPECT_THAT(refused.err, HasSubstr("corrupt"));
  EXPECT_FALSE(std::filesystem::exists(second));
}

TEST_P(ReadBackTest, ListByTag) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0], "--tag", "team=vision"}).exitCode, 0);
  ASSERT_EQ(run({"register", "n", "--onnx", models_[1], "--tag", "team=speech"}).exitCode, 0);
  Struct vision = parse(run({"list", "--tag", "team=vision", "--json"}).out);
  const auto &models = field(vision, "models").list_value().values();
  ASSERT_EQ(models.size(), 1);
  EXPECT_EQ(field(models[0].struct_value(), "name").string_value(), "m");
  EXPECT_EQ(field(parse(run({"list", "--tag", "team=none", "--json"}).out), "models")
                .list_value()
                .values_size(),
            0);
}

TEST_P(ReadBackTest, AliasSetIsAuditedAndRefusedOnAProtectedAlias) {
  registerTwoAndPromoteFirst();
  ProcessResult set = run({"alias", "set", "m@2", "canary", "--reason", "try it", "--json"});
  ASSERT_EQ(set.exitCode, 0) << set.err;
  EXPECT_EQ(number(parse(set.out), "after"), 2);
  Struct canary = parse(run({"show", "m@canary", "--json"}).out);
  EXPECT_EQ(field(field(canary, "holder").struct_value(), "reason").string_value(), "try it");
  std::string bound = directory_.file("bound.yaml");
  std::ofstream(bound) << "gates:\n  - edge: {profile: tiny.yaml}\n";
  ASSERT_EQ(run({"alias", "protect", "m", "production", "--policy", bound}).exitCode, 0);
  int events = auditEvents();
  ProcessResult refused = run({"alias", "set", "m@2", "production"});
  EXPECT_EQ(refused.exitCode, 2);
  EXPECT_THAT(refused.err, HasSubstr("is protected by policy"));
  EXPECT_EQ(auditEvents(), events);
  EXPECT_EQ(run({"check"}).exitCode, 0);
}

TEST_P(ReadBackTest, AliasDeleteIsAuditedAndRefusedOnAProtectedAlias) {
  registerTwoAndPromoteFirst();
  ASSERT_EQ(run({"alias", "set", "m@2", "canary"}).exitCode, 0);
  // NAME@ALIAS and NAME --alias ALIAS, as rollback takes them.
  ProcessResult deleted = run({"alias", "delete", "m@canary", "--reason", "done", "--json"});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.err;
  Struct move = parse(deleted.out);
  EXPECT_EQ(number(move, "before"), 2);
  EXPECT_EQ(number(move, "after"), 0);
  EXPECT_EQ(field(move, "action").string_value(), "alias-delete");
  EXPECT_EQ(run({"show", "m@canary"}).exitCode, 2);
  ProcessResult audit = run({"audit", "--action", "alias-delete"});
  EXPECT_THAT(audit.out, HasSubstr("alias-delete m@2 alias canary: 2 -> - (done)"));
  ProcessResult missing = run({"alias", "delete", "m", "--alias", "canary", "--json"});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_THAT(missing.err, HasSubstr("has no alias 'canary'"));

  std::string bound = directory_.file("bound.yaml");
  std::ofstream(bound) << "gates:\n  - edge: {profile: tiny.yaml}\n";
  ASSERT_EQ(run({"alias", "protect", "m", "production", "--policy", bound}).exitCode, 0);
  int events = auditEvents();
  ProcessResult refused = run({"alias", "delete", "m", "--alias", "production"});
  EXPECT_EQ(refused.exitCode, 2);
  EXPECT_THAT(refused.err, HasSubstr("m@production is protected by policy"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_EQ(auditEvents(), events);
  EXPECT_EQ(number(parse(run({"show", "m@production", "--json"}).out), "version"), 1);
  ProcessResult both = run({"alias", "delete", "m@production", "--alias", "canary"});
  EXPECT_EQ(both.exitCode, 2);
  EXPECT_EQ(run({"check"}).exitCode, 0);
}

// MLflow users expect a model-level description and tags, and to find
// models by them.
TEST_P(ReadBackTest, ModelDescriptionAndTagsAreShownListedAndSearchable) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0], "--tag", "dataset=digits"}).exitCode, 0);
  ASSERT_EQ(run({"register", "n", "--onnx", models_[1]}).exitCode, 0);
  ProcessResult described =
      run({"model", "describe", "m", "--description", "digit classifier", "--json"});
  ASSERT_EQ(described.exitCode, 0) << described.err;
  EXPECT_EQ(field(parse(described.out), "description").string_value(), "digit classifier");
  ProcessResult tagged = run({"model", "tag", "m", "team=vision", "tier=1", "--json"});
  ASSERT_EQ(tagged.exitCode, 0) << tagged.err;
  EXPECT_EQ(field(field(parse(tagged.out), "tags").struct_value(), "team").string_value(),
            "vision");
  EXPECT_THAT(run({"show", "m"}).out,
              HasSubstr("  description: digit classifier\n  tag:         team=vision\n"));
  EXPECT_THAT(run({"list"}).out, HasSubstr("m  latest v1\n  description: digit classifier\n"));
  Struct detail = parse(run({"show", "m", "--json"}).out);
  EXPECT_EQ(field(field(detail, "model").struct_value(), "description").string_value(),
            "digit classifier");

  // list --tag: a model tag, a version tag, or both together.
  for (std::vector<std::string> tags : {std::vector<std::string>{"team=vision"},
                                        {"dataset=digits"},
                                        {"team=vision", "dataset=digits"}}) {
    std::vector<std::string> args = {"list", "--json"};
    for (const std::string &tag : tags)
      args.insert(args.end(), {"--tag", tag});
    Struct listed = parse(run(args).out);
    const auto &models = field(listed, "models").list_value().values();
    ASSERT_EQ(models.size(), 1) << tags[0];
    EXPECT_EQ(field(models[0].struct_value(), "name").string_value(), "m");
  }
  EXPECT_EQ(field(parse(run({"list", "--tag", "team=speech", "--json"}).out), "models")
                .list_value()
                .values_size(),
            0);

  ProcessResult audit = run({"audit", "--model", "m", "--since", "1"});
  EXPECT_THAT(audit.out, HasSubstr("describe m description \"\" -> \"digit classifier\""));
  EXPECT_THAT(audit.out, HasSubstr("model-tag m tags [] -> [team=vision,tier=1]"));
  ProcessResult removed = run({"model", "tag", "m", "--remove", "tier"});
  ASSERT_EQ(removed.exitCode, 0) << removed.err;
  EXPECT_THAT(removed.out, Not(HasSubstr("tier")));
  EXPECT_EQ(run({"check"}).exitCode, 0);
}

TEST_P(ReadBackTest, BadModelDescriptionsAndTagsChangeNothing) {
  ASSERT_EQ(run({"register", "m", "--onnx", models_[0]}).exitCode, 0);
  int events = auditEvents();
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"model", "describe", "m", "--description", std::string(4097, 'x')},
       "--description is 4097 bytes; at most 4096 are allowed"},
      {{"model", "tag", "m", "team=" + std::string(1025, 'x')},
       "the value of tag 'team' is 1025 bytes; at most 1024 are allowed"},
      {{"model", "tag", "m", "bad key=x"}, "invalid tag key 'bad key'"},
      {{"model", "tag", "m", "team"}, "invalid tag 'team': expected K=V"},
      {{"model", "tag", "m", "--remove", "absent"}, "model 'm' has no tag 'absent' to remove"},
      {{"model", "tag", "m"}, "give K=V to set or --remove K"},
      {{"model", "describe", "m"}, "missing --description"},
      {{"model", "describe", "nosuch", "--description", "x"}, "no model named 'nosuch'"},
      {{"model", "describe", "m", "--description", "x", "--reason", std::string(4097, 'r')},
       "--reason is 4097 bytes"},
      {{"alias", "delete", "m", "--alias", "Bad"}, "invalid alias 'Bad'"},
  };
  for (const Case &c : cases) {
    ProcessResult result = run(c.args);
    EXPECT_EQ(result.exitCode, 2) << c.args[2];
    EXPECT_THAT(result.err, HasSubstr(c.says));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
  EXPECT_EQ(auditEvents(), events);
  Struct detail = parse(run({"show", "m", "--json"}).out);
  EXPECT_EQ(field(field(detail, "model").struct_value(), "description").string_value(), "");

  // Control characters are kept but never printed raw: a newline in a
  // description cannot forge the next line of `show` or `audit`.
  ASSERT_EQ(run({"model", "describe", "m", "--description", "ok\nm  latest v9\x1b[2J"}).exitCode,
            0);
  ProcessResult shown = run({"show", "m"});
  EXPECT_THAT(shown.out, HasSubstr("description: ok\\x0am  latest v9\\x1b[2J\n"));
  EXPECT_THAT(run({"audit"}).out, Not(HasSubstr("\x1b")));
  Struct kept = parse(run({"show", "m", "--json"}).out);
  EXPECT_EQ(field(field(kept, "model").struct_value(), "description").string_value(),
            "ok\nm  latest v9\x1b[2J");
}

// The edge promotion said "gates pass for X@3 against X@2" though no gate
// compared it with X@2.
TEST_P(ReadBackTest, GateTextNamesWhatWasCompared) {
  registerTwoAndPromoteFirst();
  std::ofstream(directory_.file("wide.yaml")) << "name: wide\nmax_params: 100000\n";
  std::string policy = directory_.file("edge.yaml");
  std::ofstream(policy) << "gates:\n  - edge: {profile: wide.yaml}\n";
  ProcessResult gate =
      run({"gate", "run", "--policy", policy, "--candidate", "m@2", "--baseline", "m@1"});
  ASSERT_EQ(gate.exitCode, 0) << gate.err;
  EXPECT_THAT(gate.out,
              HasSubstr("gates pass for m@2 (no gate compared it with the baseline m@1)"));
  EXPECT_THAT(gate.out, Not(HasSubstr("against")));
  Struct report = parse(run({"report", "show", "m@2", "--json"}).out);
  const auto &gates = field(field(report, "report").struct_value(), "gates").list_value().values();
  ASSERT_EQ(gates.size(), 1);
  EXPECT_EQ(field(field(gates[0].struct_value(), "details").struct_value(), "compared_with")
                .string_value(),
            "");
}

// `run --input` but `rewrite --inputs`: --input everywhere, the older
// spelling still read.
TEST(ReadBack, OneSpellingOfInput) {
  TemporaryDirectory directory;
  std::string model = directory.file("m.onnx");
  writeTinyOnnxModel(model, 1);
  std::string absent = directory.file("absent.npy");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"rewrite", model, "--out", directory.file("o.onnx"), "--fold-bn",
                                 "--input", absent},
        {"compat", "fit", "--old", model, "--new", model, "--input", absent, "--out",
         directory.file("c.onnx")}}) {
    ProcessResult result = runGraceful(args);
    EXPECT_EQ(result.exitCode, 2) << args[0];
    EXPECT_THAT(result.err, HasSubstr("absent.npy")) << args[0];
  }
  ProcessResult both = runGraceful({"rewrite", model, "--out", directory.file("o.onnx"),
                                    "--fold-bn", "--input", absent, "--inputs", absent});
  EXPECT_EQ(both.exitCode, 2);
  EXPECT_THAT(both.err, HasSubstr("--input and --inputs are one option"));
}

// `graceful help promote` printed the general help; there was no --version.
TEST(ReadBack, HelpForOneCommandAndVersion) {
  ProcessResult help = runGraceful({"help", "promote"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: graceful promote NAME@V --to ALIAS"));
  ProcessResult twoWords = runGraceful({"help", "report", "show"});
  EXPECT_THAT(twoWords.out, HasSubstr("Usage: graceful report show"));
  ProcessResult version = runGraceful({"--version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_THAT(version.out, ::testing::MatchesRegex("graceful [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_EQ(runGraceful({"help", "frobnicate"}).exitCode, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadBackTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return backendName(info.param); });

} // namespace
} // namespace graceful::testing
