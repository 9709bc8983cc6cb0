// `graceful serve` as a release tool and CI use it: a real server process
// on loopback over a fresh store (SQLite and PostgreSQL), driven over HTTP,
// checked against the CLI's own answers and the store's `check`.
#include "graceful/registry.pb.h"
#include "graceful/support/digest.h"
#include "graceful/support/json.h"
#include "graceful/support/tensor.h"
#include "graceful/testing/process.h"
#include "graceful/testing/stores.h"
#include "http_client.h"
#include "webhook_receiver.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <set>
#include <sqlite3.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace graceful::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename Message> Message parseJson(const std::string &text) {
  Message message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &message).ok()) << text;
  return message;
}

// A `graceful serve` process on a free port; stopped (SIGTERM) when it goes.
class ServerProcess {
public:
  ServerProcess(const std::vector<std::string> &args, const Environment &env) {
    std::vector<std::string> all = {"serve", "--listen", "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    int out = -1;
    pid_ = spawnGracefulReading(all, env, &out);
    // The first line names the port: "graceful serve: listening on http://127.0.0.1:N".
    std::string line;
    char c;
    while (::read(out, &c, 1) == 1 && c != '\n')
      line.push_back(c);
    ::close(out);
    size_t colon = line.rfind(':');
    if (line.find("listening on") != std::string::npos && colon != std::string::npos)
      port_ = static_cast<unsigned short>(std::stoi(line.substr(colon + 1)));
  }
  ~ServerProcess() {
    if (pid_ > 0)
      stop(SIGTERM);
  }
  ServerProcess(const ServerProcess &) = delete;
  ServerProcess &operator=(const ServerProcess &) = delete;

  unsigned short port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Signals the server and waits: its exit code, -1 when the signal killed it.
  int stop(int signal) {
    ::kill(pid_, signal);
    int code = waitForExit(pid_);
    pid_ = 0;
    return code;
  }

private:
  pid_t pid_ = 0;
  unsigned short port_ = 0;
};

class ServerTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    auto store = makeStore(GetParam(), directory_);
    if (!store)
      GTEST_SKIP() << "GRACEFUL_TEST_PG is not set; ctest sets it";
    store_ = *store;
    env_ = store_.environment();
    env_["GRACEFUL_ACTOR"] = "operator";
    ASSERT_EQ(cli({"init"}).exitCode, 0);
    for (int seed : {1, 2, 3}) {
      models_.push_back(directory_.file("m" + std::to_string(seed) + ".onnx"));
      writeTinyOnnxModel(models_.back(), seed);
    }
    ASSERT_EQ(cli({"register", "m", "--onnx", models_[0], "--tag", "stage=a"}).exitCode, 0);
    ASSERT_EQ(
        cli({"register", "m", "--onnx", models_[1], "--parent", "m@1:fine-tuned-from"}).exitCode,
        0);
    ASSERT_EQ(cli({"register", "other", "--onnx", models_[2]}).exitCode, 0);
    std::filesystem::create_directories(directory_.file("policies"));
    std::ofstream(directory_.file("policies/open.yaml")) << "gates: []\n";
    ASSERT_EQ(cli({"promote", "m@1", "--to", "production", "--policy",
                   directory_.file("policies/open.yaml")})
                  .exitCode,
              0);
  }

  ProcessResult cli(const std::vector<std::string> &args) {
    return runGraceful(args, env_, directory_.path());
  }

  // A token made with the CLI, as an operator with database access does.
  std::string token(const std::string &subject, const std::string &role,
                    const std::vector<std::string> &extra = {}) {
    std::vector<std::string> args = {"token",  "create", "--subject", subject,
                                     "--role", role,     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult created = cli(args);
    EXPECT_EQ(created.exitCode, 0) << created.err;
    return parseJson<proto::ApiToken>(created.out).token();
  }

  std::unique_ptr<ServerProcess> serve(const std::vector<std::string> &extra = {},
                                       Environment env = {}) {
    // A short request timeout unless the test gives its own.
    bool ownTimeout = std::find(extra.begin(), extra.end(), "--request-timeout-ms") != extra.end();
    std::vector<std::string> args = {"--policies", directory_.file("policies"), "--threads", "3"};
    if (!ownTimeout)
      args.insert(args.end(), {"--request-timeout-ms", "1000"});
    args.insert(args.end(), extra.begin(), extra.end());
    Environment merged = env_;
    for (const auto &[key, value] : env)
      merged[key] = value;
    auto server = std::make_unique<ServerProcess>(args, merged);
    EXPECT_NE(server->port(), 0) << "the server did not start";
    return server;
  }

  HttpResult get(const ServerProcess &server, const std::string &target,
                 const std::string &bearer) {
    return http(server.port(), {"GET", target, bearer});
  }

  HttpResult send(const ServerProcess &server, const std::string &method, const std::string &target,
                  const std::string &bearer, const std::string &body) {
    return http(server.port(), {method, target, bearer, body});
  }

  proto::AuditLog audit(const std::vector<std::string> &filter = {}) {
    std::vector<std::string> args = {"audit", "--json"};
    args.insert(args.end(), filter.begin(), filter.end());
    return parseJson<proto::AuditLog>(cli(args).out);
  }

  // policies/x.npy and y.npy, six samples for the tiny models, and
  // policies/strict.yaml, an nfr gate on them.
  void writeEvaluationData() {
    Tensor x = makeTensor(DType::Float32, {6, 4});
    for (int64_t i = 0; i < 24; ++i)
      x.data<float>()[i] = 0.5f * static_cast<float>(i % 7 - 3);
    Tensor y = makeTensor(DType::Int64, {6});
    for (int64_t i = 0; i < 6; ++i)
      y.data<int64_t>()[i] = i % 3;
    ASSERT_FALSE(writeNpy(directory_.file("policies/x.npy"), x));
    ASSERT_FALSE(writeNpy(directory_.file("policies/y.npy"), y));
    std::ofstream(directory_.file("policies/strict.yaml"))
        << "gates:\n  - nfr: {inputs: x.npy, labels: y.npy, max_nfr: 1.0}\n";
  }

  void expectCheckPasses() {
    ProcessResult check = cli({"check"});
    EXPECT_EQ(check.exitCode, 0) << check.out << check.err;
  }

  TemporaryDirectory directory_;
  TestStore store_;
  Environment env_;
  std::vector<std::string> models_;
};

// A release tool's question, "who is production, since when, by whom,
// with which report", and every other read: the same JSON as the CLI's.
TEST_P(ServerTest, ReadsAnswerWithTheCliJson) {
  std::string reader = token("release-tool", "reader");
  auto server = serve();
  std::vector<std::pair<std::string, std::vector<std::string>>> same = {
      {"/api/v1/models", {"list"}},
      {"/api/v1/models?tag=stage%3Da", {"list", "--tag", "stage=a"}},
      {"/api/v1/models/m", {"show", "m"}},
      {"/api/v1/models/m/versions/2", {"show", "m@2"}},
      {"/api/v1/models/m/aliases/production", {"show", "m@production"}},
      {"/api/v1/models/m/lineage", {"lineage", "m"}},
      {"/api/v1/models/m/history", {"history", "m"}},
      {"/api/v1/models/m/history?alias=production", {"history", "m@production"}},
      {"/api/v1/models/m/reports", {"report", "list", "m"}},
      {"/api/v1/reports/m%40production", {"report", "show", "m@production"}},
      {"/api/v1/reports/1", {"report", "show", "1"}},
      {"/api/v1/audit?model=m&since=2", {"audit", "--model", "m", "--since", "2"}},
      {"/api/v1/audit?limit=2", {"audit", "--limit", "2"}},
  };
  for (const auto &[target, command] : same) {
    HttpResult answer = get(*server, target, reader);
    std::vector<std::string> args = command;
    args.push_back("--json");
    ProcessResult expected = cli(args);
    ASSERT_EQ(expected.exitCode, 0) << expected.err;
    EXPECT_EQ(answer.status, 200u) << target << ": " << answer.body;
    EXPECT_EQ(answer.body, expected.out) << target;
    EXPECT_EQ(answer.header("content-type"), "application/json");
    EXPECT_EQ(answer.header("x-graceful-exit-code"), "0");
  }
  auto holder = parseJson<proto::ModelVersion>(
      get(*server, "/api/v1/models/m/aliases/production", reader).body);
  EXPECT_EQ(holder.version(), 1);
  EXPECT_EQ(holder.holder().actor(), "operator");
  EXPECT_NE(holder.holder().gate_report_id(), 0);
}

TEST_P(ServerTest, DownloadsCarryTheirDigest) {
  std::string reader = token("release-tool", "reader");
  auto server = serve();
  std::string bytes = readAll(models_[1]);
  for (const char *target :
       {"/api/v1/models/m/versions/2/artifact", "/api/v1/models/m/aliases/production/artifact"}) {
    HttpResult answer = get(*server, target, reader);
    ASSERT_EQ(answer.status, 200u) << answer.body;
    EXPECT_EQ(answer.header("content-type"), "application/octet-stream");
    EXPECT_EQ(answer.header("x-graceful-digest"), sha256Digest(answer.body));
  }
  HttpResult second = get(*server, "/api/v1/models/m/versions/2/artifact", reader);
  EXPECT_EQ(second.body, bytes);
  auto version = parseJson<proto::ModelVersion>(cli({"show", "m@2", "--json"}).out);
  EXPECT_EQ(second.header("x-graceful-digest"), version.digest());
  EXPECT_EQ(get(*server, "/api/v1/models/m/versions/9/artifact", reader).status, 404u);
}

// Every role against every endpoint: 403 exactly where the role stops,
// and each 403 is an audited denial by the token's subject.
TEST_P(ServerTest, RoleByEndpointMatrix) {
  struct Caller {
    std::string subject, token;
    std::set<std::string> allowed; // endpoints it may use
  };
  const std::set<std::string> reads = {"list",    "show",  "version", "alias",  "lineage",
                                       "history", "audit", "reports", "report", "download"};
  auto with = [&](std::set<std::string> more) {
    more.insert(reads.begin(), reads.end());
    return more;
  };
  std::vector<Caller> callers = {
      {"reader-bot", token("reader-bot", "reader"), reads},
      {"publisher-bot", token("publisher-bot", "publisher"), with({"register", "tag", "gates"})},
      {"staging-bot", token("staging-bot", "promoter", {"--aliases", "staging"}),
       with({"set staging", "promote staging", "rollback staging", "delete staging"})},
      {"admin-bot", token("admin-bot", "admin"),
       with({"register", "tag", "gates", "set staging", "promote staging", "rollback staging",
             "delete staging", "set production", "promote production", "force production",
             "delete production", "protect", "webhooks", "deliveries"})},
      {"other-reader", token("other-reader", "reader", {"--models", "other"}), {}},
  };
  std::ofstream(directory_.file("upload.onnx")) << readAll(models_[2]);
  struct Endpoint {
    std::string name, method, target, body;
    bool upload = false;
  };
  std::vector<Endpoint> endpoints = {
      {"list", "GET", "/api/v1/models", ""},
      {"show", "GET", "/api/v1/models/m", ""},
      {"version", "GET", "/api/v1/models/m/versions/1", ""},
      {"alias", "GET", "/api/v1/models/m/aliases/production", ""},
      {"lineage", "GET", "/api/v1/models/m/lineage", ""},
      {"history", "GET", "/api/v1/models/m/history", ""},
      {"audit", "GET", "/api/v1/audit?model=m", ""},
      {"reports", "GET", "/api/v1/models/m/reports", ""},
      {"report", "GET", "/api/v1/reports/1", ""},
      {"download", "GET", "/api/v1/models/m/versions/1/artifact", ""},
      {"register", "POST", "/api/v1/models/m/versions?allow_duplicate=true", "", true},
      {"tag", "POST", "/api/v1/models/m/versions/1/tags", R"({"set": {"k": "v"}})"},
      {"gates", "POST", "/api/v1/models/m/versions/2/gates",
       R"({"policy": "open.yaml", "baseline": "m@1"})"},
      {"set staging", "PUT", "/api/v1/models/m/aliases/staging", R"({"target": "m@2"})"},
      {"promote staging", "POST", "/api/v1/models/m/aliases/staging/promote",
       R"({"target": "m@1", "policy": "open.yaml"})"},
      {"rollback staging", "POST", "/api/v1/models/m/aliases/staging/rollback", "{}"},
      {"delete staging", "DELETE", "/api/v1/models/m/aliases/staging?reason=retired", ""},
      {"delete production", "DELETE", "/api/v1/models/m/aliases/production", ""},
      {"set production", "PUT", "/api/v1/models/m/aliases/production", R"({"target": "m@2"})"},
      {"promote production", "POST", "/api/v1/models/m/aliases/production/promote",
       R"({"target": "m@1", "policy": "open.yaml"})"},
      {"force production", "POST", "/api/v1/models/m/aliases/production/promote",
       R"({"target": "m@2", "policy": "open.yaml", "force": true, "reason": "drill"})"},
      {"protect", "POST", "/api/v1/models/m/aliases/production/protect",
       R"({"policy": "absent.yaml"})"},
      {"webhooks", "GET", "/api/v1/webhooks", ""},
      {"deliveries", "GET", "/api/v1/webhooks/deliveries?status=pending", ""},
  };
  auto server = serve();
  std::map<std::string, int> denials;
  for (const Caller &caller : callers)
    for (const Endpoint &endpoint : endpoints) {
      HttpRequest request{endpoint.method, endpoint.target, caller.token, endpoint.body};
      if (endpoint.upload) {
        request.body = readAll(models_[2]);
        request.contentType = "application/octet-stream";
      }
      HttpResult answer = http(server->port(), request);
      bool allowed = caller.allowed.contains(endpoint.name);
      if (endpoint.name == "list" && caller.subject == "other-reader")
        allowed = true; // lists, but only its models (below)
      EXPECT_EQ(answer.status == 403, !allowed)
          << caller.subject << " " << endpoint.name << ": " << answer.status << " " << answer.body;
      EXPECT_NE(answer.status, 401u) << caller.subject << " " << endpoint.name;
      if (answer.status == 403) {
        ++denials[caller.subject];
        EXPECT_THAT(answer.body, HasSubstr("\"kind\":\"forbidden\""));
      }
      HttpResult anonymous = http(server->port(), {endpoint.method, endpoint.target, "", "{}"});
      EXPECT_EQ(anonymous.status, 401u) << endpoint.name;
    }
  auto visible =
      parseJson<proto::ModelList>(get(*server, "/api/v1/models", callers.back().token).body);
  ASSERT_EQ(visible.models_size(), 1);
  EXPECT_EQ(visible.models(0).name(), "other");
  std::map<std::string, int> audited;
  proto::AuditLog denied = audit({"--action", "deny"});
  for (const proto::AuditEvent &event : denied.events())
    ++audited[event.actor()];
  EXPECT_EQ(audited, denials);
  // production (set, promote, force, delete), protect, register, tag, gates,
  // webhooks, deliveries.
  EXPECT_EQ(denials["staging-bot"], 10);
  expectCheckPasses();
}

TEST_P(ServerTest, PromoterForStagingCannotMoveProduction) {
  std::string staging = token("ci-staging", "promoter", {"--aliases", "staging"});
  auto server = serve();
  HttpResult refused = send(*server, "POST", "/api/v1/models/m/aliases/production/promote", staging,
                            R"({"target": "m@2", "policy": "open.yaml"})");
  EXPECT_EQ(refused.status, 403u);
  EXPECT_THAT(refused.body, HasSubstr("may not move alias 'production' (only staging)"));
  HttpResult promoted = send(*server, "POST", "/api/v1/models/m/aliases/staging/promote", staging,
                             R"({"target": "m@2", "policy": "open.yaml"})");
  ASSERT_EQ(promoted.status, 200u) << promoted.body;
  EXPECT_TRUE(parseJson<proto::PromotionResult>(promoted.body).promoted());
  auto production = parseJson<proto::ModelVersion>(cli({"show", "m@production", "--json"}).out);
  EXPECT_EQ(production.version(), 1);
  auto denied = audit({"--action", "deny"});
  ASSERT_EQ(denied.events_size(), 1);
  EXPECT_EQ(denied.events(0).actor(), "ci-staging");
  EXPECT_EQ(denied.events(0).alias(), "production");
}

// The audit log names the token's subject, whatever the server's own
// environment or the client claims.
TEST_P(ServerTest, ActorIsTheTokenSubject) {
  std::string bot = token("release-bot", "admin");
  auto server = serve({}, {{"GRACEFUL_ACTOR", "mallory"}});
  HttpRequest request{"PUT", "/api/v1/models/m/aliases/staging", bot,
                      R"({"target": "m@2", "reason": "canary"})"};
  request.headers["X-Graceful-Actor"] = "mallory";
  HttpResult moved = http(server->port(), request);
  ASSERT_EQ(moved.status, 200u) << moved.body;
  auto move = parseJson<proto::AliasMove>(moved.body);
  EXPECT_EQ(move.after(), 2);
  auto log = audit({"--limit", "1"});
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).action(), "alias-move");
  EXPECT_EQ(log.events(0).actor(), "release-bot");
  EXPECT_EQ(log.events(0).reason(), "canary");
}

TEST_P(ServerTest, TokensThatDoNotAuthenticate) {
  std::string good = token("reader-bot", "reader");
  std::string revoked = token("gone-bot", "reader");
  std::string expired = token("old-bot", "reader", {"--expires", "2001-01-01T00:00:00Z"});
  auto id = parseJson<proto::ApiTokenList>(cli({"token", "list", "--json"}).out).tokens(1).id();
  ASSERT_EQ(cli({"token", "revoke", std::to_string(id), "--reason", "left"}).exitCode, 0);
  std::string wrongSecret = good;
  wrongSecret.back() = wrongSecret.back() == '0' ? '1' : '0';
  auto server = serve();
  for (const std::string &bad :
       {std::string(), std::string("gft_1"), std::string("nonsense"), wrongSecret, revoked, expired,
        std::string("gft_999_") + std::string(64, 'a')}) {
    HttpResult answer = get(*server, "/api/v1/models", bad);
    EXPECT_EQ(answer.status, 401u) << bad;
    EXPECT_EQ(answer.header("www-authenticate"), "Bearer");
    EXPECT_THAT(answer.body, HasSubstr("\"kind\":\"unauthorized\""));
  }
  HttpRequest basic{"GET", "/api/v1/models", ""};
  basic.headers["Authorization"] = "Basic " + good;
  EXPECT_EQ(http(server->port(), basic).status, 401u);
  EXPECT_EQ(get(*server, "/api/v1/models", good).status, 200u);
  // The store holds no secret: only its hash.
  ProcessResult listed = cli({"token", "list", "--json"});
  EXPECT_EQ(listed.out.find(good.substr(good.rfind('_') + 1)), std::string::npos);
  auto tokens = parseJson<proto::ApiTokenList>(listed.out);
  EXPECT_TRUE(tokens.tokens(1).has_revoked_at());
  EXPECT_TRUE(tokens.tokens(0).token().empty());
}

TEST_P(ServerTest, EachErrorStatus) {
  std::string admin = token("admin-bot", "admin");
  auto server = serve({"--max-body-bytes", "2000", "--max-header-bytes", "4096"});
  auto expectError = [&](const HttpResult &answer, unsigned status, const std::string &kind,
                         int exitCode) {
    EXPECT_EQ(answer.status, status) << answer.body;
    EXPECT_THAT(answer.body, HasSubstr("\"kind\":\"" + kind + "\""));
    EXPECT_THAT(answer.body, HasSubstr("\"exit_code\":" + std::to_string(exitCode)));
  };
  std::string before = cli({"audit", "--json"}).out;
  expectError(get(*server, "/api/v1/models/absent", admin), 404, "not-found", 2);
  expectError(get(*server, "/api/v1/models/m/aliases/nothing", admin), 404, "not-found", 2);
  expectError(get(*server, "/api/v1/nowhere", admin), 404, "not-found", 2);
  expectError(send(*server, "DELETE", "/api/v1/models/m", admin, ""), 405, "bad-input", 2);
  expectError(get(*server, "/api/v1/models/bad%2", admin), 400, "bad-input", 2);
  expectError(get(*server, "/api/v1/audit?since=yesterday", admin), 400, "bad-input", 2);
  expectError(send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin, "{not json"), 400,
              "bad-input", 2);
  expectError(send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin,
                   R"({"target": "m@2", "actor": "mallory"})"),
              400, "bad-input", 2);
  expectError(
      send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin, R"({"target": "other@1"})"),
      400, "bad-input", 2);
  expectError(send(*server, "POST", "/api/v1/models/m/aliases/production/promote", admin,
                   R"({"target": "m@2", "policy": "/etc/passwd"})"),
              400, "bad-input", 2);
  expectError(send(*server, "POST", "/api/v1/models/m/aliases/production/promote", admin,
                   R"({"target": "m@2", "policy": "open.yaml", "reports": {"html": "/tmp/x"}})"),
              400, "bad-input", 2);
  // A compare-and-set that lost: 409, nothing changed.
  expectError(send(*server, "POST", "/api/v1/models/m/aliases/production/promote", admin,
                   R"({"target": "m@2", "policy": "open.yaml", "expect": "2"})"),
              409, "conflict", 3);
  // Too large: the body (413) and the header (431) are refused before
  // any route runs, and the connection is closed.
  expectError(send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin,
                   R"({"target": "m@2", "reason": ")" + std::string(3000, 'x') + "\"}"),
              413, "bad-input", 2);
  HttpRequest huge{"GET", "/api/v1/models", admin};
  huge.headers["X-Padding"] = std::string(8000, 'p');
  EXPECT_EQ(http(server->port(), huge).status, 431u);
  EXPECT_EQ(cli({"audit", "--json"}).out, before);
  EXPECT_EQ(get(*server, "/healthz", "").status, 200u);
}

// Unavailable (503, exit code 4): the store's lock is held elsewhere
// longer than the server waits for it.
TEST_P(ServerTest, HeldLockIsUnavailable) {
  std::string admin = token("admin-bot", "admin");
  auto server = serve({}, {{"GRACEFUL_BUSY_TIMEOUT_MS", "200"}});
  HttpResult answer;
  if (GetParam() == Backend::Sqlite) {
    sqlite3 *db = nullptr;
    ASSERT_EQ(sqlite3_open(store_.uri.substr(7).c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    answer =
        send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin, R"({"target": "m@2"})");
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  } else {
    pqxx::connection connection(store_.uri);
    pqxx::work work(connection);
    work.exec("SELECT id FROM models WHERE name = 'm' FOR UPDATE");
    answer =
        send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin, R"({"target": "m@2"})");
    work.abort();
  }
  EXPECT_EQ(answer.status, 503u) << answer.body;
  EXPECT_THAT(answer.body, HasSubstr("\"exit_code\":4"));
  EXPECT_EQ(answer.header("x-graceful-exit-code"), "4");
  // Once the lock is gone the same request goes through.
  EXPECT_EQ(send(*server, "PUT", "/api/v1/models/m/aliases/staging", admin, R"({"target": "m@2"})")
                .status,
            200u);
  EXPECT_EQ(get(*server, "/readyz", "").status, 200u);
}

TEST_P(ServerTest, UploadsRegisterAfterTheChecker) {
  std::string publisher = token("publisher-bot", "publisher");
  auto server = serve({"--max-upload-bytes", "4096"});
  std::string bytes = readAll(models_[2]);
  ASSERT_LT(bytes.size(), 4096u);
  HttpRequest upload{"POST",
                     "/api/v1/models/m/versions?parent=m%402%3Adistilled-from&tag=team%3Dml"
                     "&description=from+CI",
                     publisher, bytes, "application/octet-stream"};
  upload.headers["X-Graceful-Digest"] = sha256Digest(bytes);
  HttpResult created = http(server->port(), upload);
  ASSERT_EQ(created.status, 201u) << created.body;
  auto result = parseJson<proto::RegisterResult>(created.body);
  EXPECT_EQ(result.version().version(), 3);
  EXPECT_EQ(result.version().digest(), sha256Digest(bytes));
  EXPECT_EQ(result.version().created_by(), "publisher-bot");
  EXPECT_EQ(result.version().description(), "from CI");
  EXPECT_EQ(result.version().tags().at("team"), "ml");
  ASSERT_EQ(result.version().parents_size(), 1);
  EXPECT_EQ(result.version().parents(0).kind(), "distilled-from");
  // The same bytes again: the existing version, nothing recorded.
  upload.headers.erase("X-Graceful-Digest");
  HttpResult again = http(server->port(), upload);
  EXPECT_EQ(again.status, 200u);
  EXPECT_TRUE(parseJson<proto::RegisterResult>(again.body).existing());

  std::string snapshot = cli({"audit", "--json"}).out + cli({"list", "--json"}).out;
  HttpRequest garbage{"POST", "/api/v1/models/m/versions", publisher, "not an onnx model",
                      "application/octet-stream"};
  HttpResult refused = http(server->port(), garbage);
  EXPECT_EQ(refused.status, 400u) << refused.body;
  garbage.body = bytes;
  garbage.headers["X-Graceful-Digest"] = sha256Digest("something else");
  HttpResult misdigested = http(server->port(), garbage);
  EXPECT_EQ(misdigested.status, 400u);
  // The server names the digest of what it received, hashed on the way in.
  EXPECT_THAT(misdigested.body,
              ::testing::HasSubstr("the upload hashes to " + sha256Digest(bytes)));
  // A chunked upload is hashed across its chunks: the digest it claims
  // matches, and these bytes are the version already there.
  {
    RawConnection chunked(server->port());
    std::string request = "POST /api/v1/models/m/versions HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer " +
                          publisher + "\r\nX-Graceful-Digest: " + sha256Digest(bytes) +
                          "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (size_t at = 0; at < bytes.size(); at += 700) {
      std::string chunk = bytes.substr(at, 700);
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      request += size + chunk + "\r\n";
    }
    chunked.write(request + "0\r\n\r\n");
    std::string answer = chunked.readToEnd();
    EXPECT_EQ(statusOf(answer), 200u) << answer;
    EXPECT_THAT(answer, ::testing::HasSubstr("\"existing\":true"));
  }
  garbage.body = std::string(5000, 'x');
  garbage.headers.clear();
  HttpResult tooLarge = http(server->port(), garbage);
  EXPECT_EQ(tooLarge.status, 413u) << tooLarge.body;
  // A caller who may not upload is refused on the header alone: the
  // server answers without waiting for the (never sent) body.
  std::string reader = token("reader-bot", "reader");
  for (const std::string &who : {std::string(), reader}) {
    RawConnection early(server->port());
    early.write("POST /api/v1/models/m/versions HTTP/1.1\r\nHost: x\r\n" +
                (who.empty() ? "" : "Authorization: Bearer " + who + "\r\n") +
                "Content-Length: 4000\r\n\r\n");
    EXPECT_EQ(statusOf(early.readToEnd()), who.empty() ? 401u : 403u);
  }
  proto::AuditLog after = audit();
  ASSERT_GT(after.events_size(), 0);
  EXPECT_EQ(after.events(after.events_size() - 1).action(), "deny");
  expectCheckPasses();
}

TEST_P(ServerTest, MalformedAndSlowClients) {
  std::string reader = token("reader-bot", "reader");
  auto server = serve();
  {
    RawConnection garbage(server->port());
    ASSERT_TRUE(garbage.connected());
    garbage.write("THIS IS NOT HTTP\r\n\r\n");
    std::string answer = garbage.readToEnd();
    EXPECT_EQ(statusOf(answer), 400u) << answer;
    EXPECT_THAT(answer, HasSubstr("\"kind\":\"bad-input\""));
  }
  {
    RawConnection badLength(server->port());
    badLength.write("POST /api/v1/models/m/aliases/staging/rollback HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: banana\r\n\r\n");
    EXPECT_EQ(statusOf(badLength.readToEnd()), 400u);
  }
  // A client that stops half way through its header holds no thread: the
  // server keeps answering others, then drops it after --request-timeout-ms.
  RawConnection slow(server->port());
  slow.write("GET /api/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + reader);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server->port()));
    idle.back()->write("GET /healthz HTTP/1.1\r\n");
  }
  EXPECT_EQ(get(*server, "/api/v1/models", reader).status, 200u);
  EXPECT_EQ(slow.readToEnd(), ""); // closed without an answer
  for (auto &connection : idle)
    EXPECT_EQ(connection->readToEnd(), "");
  // Keep-alive: several requests on one connection.
  HttpConnection kept(server->port());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(kept.send({"GET", "/api/v1/models/m", reader}).status, 200u);
}

// SIGTERM stops accepting and finishes what is in flight: an upload whose
// body is still arriving completes and is recorded.
TEST_P(ServerTest, SigtermFinishesRequestsInFlight) {
  std::string publisher = token("publisher-bot", "publisher");
  auto server = serve();
  std::string bytes = readAll(models_[2]);
  RawConnection upload(server->port());
  upload.write("POST /api/v1/models/late/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               publisher + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
               std::to_string(bytes.size()) + "\r\n\r\n" + bytes.substr(0, 10));
  // Wait until the server has read the header: the upload is then in
  // flight beside the /metrics request that reports it.
  for (int i = 0; i < 10000; ++i) {
    if (get(*server, "/metrics", "").body.find("graceful_http_requests_in_flight 2\n") !=
        std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(server->pid(), SIGTERM);
  // Draining has begun once new connections are refused.
  for (int i = 0; i < 10000; ++i) {
    RawConnection probe(server->port());
    if (!probe.connected())
      break;
    probe.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (probe.readToEnd().empty())
      break; // accepted by the kernel's backlog only, then closed
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  upload.write(bytes.substr(10));
  std::string answer = upload.readToEnd();
  EXPECT_EQ(statusOf(answer), 201u) << answer;
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_EQ(server->stop(0), 0);
  EXPECT_EQ(cli({"show", "late@1"}).exitCode, 0);
  expectCheckPasses();
}

// SIGKILL at points spread over gated promotions and alias moves: each
// either happened whole or not at all, and `check` passes.
TEST_P(ServerTest, SigkillMidPromotionLeavesACheckableStore) {
  std::string admin = token("admin-bot", "admin");
  for (int round = 0; round < 12; ++round) {
    auto server = serve();
    unsigned short port = server->port();
    std::thread client([port, admin] {
      for (int i = 0;; ++i) {
        std::string target = i % 2 ? "m@1" : "m@2";
        HttpResult answer =
            http(port, {"POST", "/api/v1/models/m/aliases/staging/promote", admin,
                        R"({"target": ")" + target + R"(", "policy": "open.yaml"})"});
        if (answer.status == 0)
          return; // the server is gone
        http(port, {"PUT", "/api/v1/models/m/aliases/canary", admin,
                    R"({"target": ")" + target + R"("})"});
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 37 * round));
    server->stop(SIGKILL);
    client.join();
    expectCheckPasses();
  }
  auto history = parseJson<proto::AliasHistory>(cli({"history", "m@staging", "--json"}).out);
  EXPECT_GT(history.tenures_size(), 0);
}

// A protected alias moves only through its bound policy, which the server
// runs itself on data it holds: no policy, outputs or data from the client.
TEST_P(ServerTest, ProtectedAliasMovesOnlyThroughItsPolicy) {
  std::string admin = token("admin-bot", "admin");
  std::string promoter = token("release-bot", "promoter", {"--aliases", "production"});
  writeEvaluationData();
  auto server = serve();
  EXPECT_EQ(send(*server, "POST", "/api/v1/models/m/aliases/production/protect", promoter,
                 R"({"policy": "strict.yaml"})")
                .status,
            403u);
  HttpResult protectedAlias = send(*server, "POST", "/api/v1/models/m/aliases/production/protect",
                                   admin, R"({"policy": "strict.yaml", "reason": "release"})");
  ASSERT_EQ(protectedAlias.status, 200u) << protectedAlias.body;
  EXPECT_EQ(parseJson<proto::AliasProtection>(protectedAlias.body).created_by(), "admin-bot");
  // Around the policy: an ungated move and another policy are refused.
  EXPECT_EQ(
      send(*server, "PUT", "/api/v1/models/m/aliases/production", promoter, R"({"target": "m@2"})")
          .status,
      400u);
  EXPECT_EQ(send(*server, "POST", "/api/v1/models/m/aliases/production/promote", promoter,
                 R"({"target": "m@2", "policy": "open.yaml"})")
                .status,
            400u);
  EXPECT_EQ(send(*server, "DELETE", "/api/v1/models/m/aliases/production", admin, "").status, 400u);
  EXPECT_EQ(parseJson<proto::ModelVersion>(cli({"show", "m@production", "--json"}).out).version(),
            1);
  // Through it: the bound policy runs on the server.
  HttpResult promoted = send(*server, "POST", "/api/v1/models/m/aliases/production/promote",
                             promoter, R"({"target": "m@2"})");
  ASSERT_EQ(promoted.status, 200u) << promoted.body;
  auto result = parseJson<proto::PromotionResult>(promoted.body);
  EXPECT_TRUE(result.promoted());
  ASSERT_EQ(result.report().gates_size(), 1);
  EXPECT_EQ(result.report().gates(0).name(), "nfr");
  auto holder = parseJson<proto::ModelVersion>(cli({"show", "m@production", "--json"}).out);
  EXPECT_EQ(holder.version(), 2);
  EXPECT_EQ(holder.holder().actor(), "release-bot");
  EXPECT_EQ(holder.holder().gate_report_id(), result.report_id());
  expectCheckPasses();
}

// gate run over HTTP: the report and exit code the CLI gives for the same
// policy, stored, counted in /metrics; the candidate comes from the path,
// the policy from the server's directory, and a token limited to one
// model cannot judge against another's.
TEST_P(ServerTest, GatesRunOnTheServerAsInTheCli) {
  writeEvaluationData();
  std::ofstream(directory_.file("policies/tight.yaml"))
      << "gates:\n  - nfr: {name: tight, inputs: x.npy, labels: y.npy, max_nfr: 0.0,\n"
         "          max_error_rate: 0.0}\n";
  std::string publisher = token("ci-bot", "publisher", {"--models", "m"});
  std::string reader = token("reader-bot", "reader");
  auto server = serve();
  for (const std::string policy : {"strict.yaml", "tight.yaml"}) {
    HttpResult answer = send(*server, "POST", "/api/v1/models/m/versions/2/gates", publisher,
                             R"({"policy": ")" + policy + R"(", "baseline": "m@production"})");
    ASSERT_EQ(answer.status, 200u) << answer.body;
    ProcessResult local = cli({"gate", "run", "--policy", directory_.file("policies/" + policy),
                               "--candidate", "m@2", "--baseline", "m@production", "--json"});
    EXPECT_EQ(answer.header("x-graceful-exit-code"), std::to_string(local.exitCode)) << policy;
    auto remote = parseJson<proto::GateReport>(answer.body);
    auto expected = parseJson<proto::GateReport>(local.out);
    EXPECT_EQ(remote.report_id() + 1, expected.report_id()) << "each run is stored";
    remote.clear_report_id();
    expected.clear_report_id();
    EXPECT_EQ(toJson(remote), toJson(expected)) << policy;
    EXPECT_EQ(remote.candidate(), "m@2");
    EXPECT_EQ(remote.verdict(), policy == "strict.yaml" ? "pass" : "fail");
  }
  HttpResult metrics = get(*server, "/metrics", "");
  EXPECT_THAT(metrics.body, HasSubstr("graceful_gate_verdicts_total{gate=\"report\",verdict="));
  EXPECT_THAT(metrics.body,
              HasSubstr("graceful_gate_verdicts_total{gate=\"nfr\",verdict=\"pass\"} 1\n"));
  struct Refused {
    std::string token, body;
    unsigned status;
  };
  for (const Refused &refused : std::vector<Refused>{
           {reader, R"({"policy": "strict.yaml"})", 403},
           {publisher, R"({"policy": "strict.yaml", "baseline": "other@1"})", 403},
           {publisher, R"({"policy": "strict.yaml", "candidate": "m@1"})", 400},
           {publisher, R"({"policy": "../strict.yaml"})", 400},
           {publisher, R"({"policy": "/etc/passwd"})", 400},
           {publisher, R"({"policy": "..\u0000/strict.yaml"})", 400},
           {publisher, R"({"policy": "strict.yaml\n"})", 400},
           {publisher, R"({})", 400},
           {publisher, R"({"policy": "strict.yaml", "reports": {"html": "/tmp/r.html"}})", 400},
           {publisher, R"({"policy": "strict.yaml", "plugin_dirs": ["/tmp"]})", 400},
           {publisher, R"({"policy": "absent.yaml"})", 404},
           {publisher, R"({"policy": "strict.yaml", "polcy": "x"})", 400},
       }) {
    HttpResult answer =
        send(*server, "POST", "/api/v1/models/m/versions/2/gates", refused.token, refused.body);
    EXPECT_EQ(answer.status, refused.status) << refused.body << ": " << answer.body;
  }
  EXPECT_EQ(send(*server, "POST", "/api/v1/models/m/versions/9/gates", publisher,
                 R"({"policy": "strict.yaml"})")
                .status,
            404u);
  EXPECT_EQ(
      parseJson<proto::GateReportList>(cli({"report", "list", "m", "--json"}).out).reports_size(),
      5)
      << "two runs each way and the setup's promotion, nothing for the refusals";
  expectCheckPasses();
}

// Datasets registered in the store: any token reads them, and a policy
// naming them runs on the server to the verdict a path-named one gives,
// with no data file on the server's disk beside the store.
TEST_P(ServerTest, DatasetsAreReadByEveryTokenAndGatedOnTheServer) {
  writeEvaluationData();
  ProcessResult registered =
      cli({"dataset", "register", "eval", "--inputs", directory_.file("policies/x.npy"), "--labels",
           directory_.file("policies/y.npy")});
  ASSERT_EQ(registered.exitCode, 0) << registered.err;
  std::ofstream(directory_.file("policies/stored.yaml"))
      << "gates:\n  - nfr: {inputs: dataset:eval/inputs, labels: dataset:eval/labels,"
         " max_nfr: 1.0}\n";
  std::string reader = token("other-reader", "reader", {"--models", "other"});
  std::string publisher = token("ci-bot", "publisher", {"--models", "m"});
  auto server = serve();
  for (const auto &[target, command] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"/api/v1/datasets", {"dataset", "list", "--json"}},
           {"/api/v1/datasets/eval", {"dataset", "show", "eval", "--json"}}}) {
    HttpResult answer = get(*server, target, reader);
    EXPECT_EQ(answer.status, 200u) << answer.body;
    EXPECT_EQ(answer.body, cli(command).out) << target;
  }
  EXPECT_EQ(get(*server, "/api/v1/datasets/absent", reader).status, 404u);
  EXPECT_EQ(get(*server, "/api/v1/datasets/..%2Fx", reader).status, 400u);
  EXPECT_EQ(get(*server, "/api/v1/datasets", "").status, 401u);

  std::map<std::string, proto::GateReport> reports;
  for (const std::string policy : {"strict.yaml", "stored.yaml"}) {
    HttpResult answer = send(*server, "POST", "/api/v1/models/m/versions/2/gates", publisher,
                             R"({"policy": ")" + policy + R"(", "baseline": "m@production"})");
    ASSERT_EQ(answer.status, 200u) << answer.body;
    reports[policy] = parseJson<proto::GateReport>(answer.body);
  }
  EXPECT_EQ(reports["stored.yaml"].data_digest(), reports["strict.yaml"].data_digest());
  EXPECT_EQ(toJson(reports["stored.yaml"].gates(0)), toJson(reports["strict.yaml"].gates(0)));
  expectCheckPasses();
}

// A self-signed certificate for 127.0.0.1 and its key, made with the
// openssl tool as an operator would.
void makeCertificate(const std::string &cert, const std::string &key) {
  std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                        "-nodes -days 2 -subj /CN=graceful-test -addext "
                        "subjectAltName=IP:127.0.0.1 -keyout '" +
                        key + "' -out '" + cert + "' 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// HTTPS with --tls-cert and --tls-key: the same answers over TLS, with
// keep-alive; a certificate the client does not trust fails its
// handshake; plain HTTP on the TLS port gets no answer; clients that never
// start a handshake hold no thread and are dropped after the timeout.
TEST_P(ServerTest, HttpsWithACertificate) {
  std::string cert = directory_.file("cert.pem"), key = directory_.file("key.pem");
  std::string otherCert = directory_.file("other.pem"), otherKey = directory_.file("other-key.pem");
  makeCertificate(cert, key);
  makeCertificate(otherCert, otherKey);
  std::string reader = token("reader-bot", "reader");
  auto server = serve({"--tls-cert", cert, "--tls-key", key});
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 4; ++i)
    silent.push_back(std::make_unique<RawConnection>(server->port()));
  {
    HttpConnection secure(server->port(), cert);
    ASSERT_EQ(secure.failure(), "");
    std::string expected = cli({"show", "m@production", "--json"}).out;
    for (int i = 0; i < 3; ++i) {
      HttpResult answer = secure.send({"GET", "/api/v1/models/m/aliases/production", reader});
      EXPECT_EQ(answer.status, 200u);
      EXPECT_EQ(answer.body, expected);
    }
    EXPECT_EQ(secure.send({"GET", "/api/v1/models/m", ""}).status, 401u);
  }
  // The CLI through the same server: trusting the certificate, and not.
  Environment remote = env_;
  remote["GRACEFUL_STORE"] = "https://127.0.0.1:" + std::to_string(server->port());
  remote["GRACEFUL_TOKEN"] = reader;
  remote["GRACEFUL_CA_FILE"] = cert;
  ProcessResult trusted =
      runGraceful({"show", "m@production", "--json"}, remote, directory_.path());
  EXPECT_EQ(trusted.exitCode, 0) << trusted.err;
  EXPECT_EQ(trusted.out, cli({"show", "m@production", "--json"}).out);
  remote["GRACEFUL_CA_FILE"] = otherCert;
  ProcessResult distrusted = runGraceful({"list"}, remote, directory_.path());
  EXPECT_EQ(distrusted.exitCode, 2) << "a certificate that does not verify is not a retry";
  EXPECT_THAT(distrusted.err, HasSubstr("TLS handshake failed"));
  HttpConnection untrusted(server->port(), otherCert);
  EXPECT_NE(untrusted.failure(), "");
  EXPECT_EQ(untrusted.send({"GET", "/healthz"}).status, 0u);
  EXPECT_EQ(http(server->port(), {"GET", "/healthz"}).status, 0u) << "plain HTTP on a TLS port";
  for (auto &connection : silent)
    EXPECT_EQ(connection->readToEnd(), "");
  HttpConnection again(server->port(), cert);
  EXPECT_EQ(again.send({"GET", "/healthz"}).status, 200u);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

// TLS clients that leave: one that hangs up without close_notify (as many
// do) is a closed connection, not a refused request; kept-alive clients
// idle at SIGTERM are closed at once, not after their read's timeout.
TEST_P(ServerTest, TlsClientsThatLeave) {
  std::string cert = directory_.file("cert.pem"), key = directory_.file("key.pem");
  makeCertificate(cert, key);
  std::string reader = token("reader-bot", "reader");
  auto server = serve({"--tls-cert", cert, "--tls-key", key, "--request-timeout-ms", "60000",
                       "--shutdown-grace-ms", "60000"});
  for (int i = 0; i < 3; ++i) {
    HttpConnection abrupt(server->port(), cert);
    EXPECT_EQ(abrupt.send({"GET", "/api/v1/models/m", reader}).status, 200u);
  } // each closes its socket without a TLS shutdown
  HttpConnection watcher(server->port(), cert);
  HttpResult metrics = watcher.send({"GET", "/metrics"});
  EXPECT_THAT(metrics.body, Not(HasSubstr("(refused)"))) << metrics.body;
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<HttpConnection>(server->port(), cert));
    EXPECT_EQ(idle.back()->send({"GET", "/healthz"}).status, 200u);
  }
  // A liveness bound, not a speed one: the idle reads' own deadline is 60 s.
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server->stop(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

// The server refuses to start without a usable certificate and key: one
// without the other, a missing file, a key of another certificate, a
// file that is not PEM; each exit 2 naming the option and file.
TEST_P(ServerTest, TlsNeedsAMatchingCertificateAndKey) {
  std::string cert = directory_.file("cert.pem"), key = directory_.file("key.pem");
  std::string otherCert = directory_.file("other.pem"), otherKey = directory_.file("other-key.pem");
  makeCertificate(cert, key);
  makeCertificate(otherCert, otherKey);
  std::ofstream(directory_.file("junk.pem")) << "-----BEGIN PRIVATE KEY-----\nnot base64\n";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case &refused : std::vector<Case>{
           {{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
           {{"--tls-key", key}, "--tls-cert and --tls-key go together"},
           {{"--tls-cert", directory_.file("absent.pem"), "--tls-key", key},
            "--tls-cert " + directory_.file("absent.pem") + ": does not exist"},
           {{"--tls-cert", cert, "--tls-key", otherKey}, "--tls-key " + otherKey},
           {{"--tls-cert", key, "--tls-key", key}, "--tls-cert " + key + ": not a readable PEM"},
           {{"--tls-cert", cert, "--tls-key", directory_.file("junk.pem")}, "--tls-key"},
       }) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), refused.args.begin(), refused.args.end());
    ProcessResult result = cli(args);
    EXPECT_EQ(result.exitCode, 2) << result.err;
    EXPECT_THAT(result.err, HasSubstr(refused.message));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

// DELETE of an alias removes it, audited with the token's subject and the
// query's reason; a promoter for another alias cannot.
TEST_P(ServerTest, DeletingAnAliasIsAuditedWithItsReason) {
  std::string staging = token("staging-bot", "promoter", {"--aliases", "staging"});
  std::string production = token("release-bot", "promoter", {"--aliases", "production"});
  auto server = serve();
  ASSERT_EQ(
      send(*server, "PUT", "/api/v1/models/m/aliases/staging", staging, R"({"target": "m@2"})")
          .status,
      200u);
  EXPECT_EQ(send(*server, "DELETE", "/api/v1/models/m/aliases/staging", production, "").status,
            403u);
  HttpResult deleted = send(
      *server, "DELETE", "/api/v1/models/m/aliases/staging?reason=retired%20canary", staging, "");
  ASSERT_EQ(deleted.status, 200u) << deleted.body;
  EXPECT_EQ(parseJson<proto::AliasMove>(deleted.body).before(), 2);
  EXPECT_EQ(get(*server, "/api/v1/models/m/aliases/staging", staging).status, 404u);
  EXPECT_EQ(send(*server, "DELETE", "/api/v1/models/m/aliases/staging", staging, "").status, 404u);
  proto::AuditLog log = audit({"--action", "alias-delete"});
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).actor(), "staging-bot");
  EXPECT_EQ(log.events(0).reason(), "retired canary");
  expectCheckPasses();
}

// Downloads take a single byte range (first-last, first-, -suffix) and
// answer 206 with Content-Range; past the end is 416; what is not one
// byte range is ignored and the whole artifact sent.
TEST_P(ServerTest, DownloadsAnswerRangeRequests) {
  std::string reader = token("reader-bot", "reader");
  auto server = serve();
  std::string whole = readAll(models_[0]);
  std::string size = std::to_string(whole.size());
  auto ranged = [&](const std::string &range) {
    HttpRequest request{"GET", "/api/v1/models/m/versions/1/artifact", reader};
    request.headers["Range"] = range;
    return http(server->port(), request);
  };
  HttpResult full = get(*server, "/api/v1/models/m/versions/1/artifact", reader);
  EXPECT_EQ(full.status, 200u);
  EXPECT_EQ(full.header("accept-ranges"), "bytes");
  HttpResult head = ranged("bytes=0-99");
  ASSERT_EQ(head.status, 206u) << head.body;
  EXPECT_EQ(head.body, whole.substr(0, 100));
  EXPECT_EQ(head.header("content-range"), "bytes 0-99/" + size);
  HttpResult tail = ranged("bytes=-10");
  ASSERT_EQ(tail.status, 206u);
  EXPECT_EQ(tail.body, whole.substr(whole.size() - 10));
  HttpResult rest = ranged("bytes=" + std::to_string(whole.size() - 5) + "-");
  ASSERT_EQ(rest.status, 206u);
  EXPECT_EQ(rest.body, whole.substr(whole.size() - 5));
  HttpResult beyond = ranged("bytes=5-99999999999");
  ASSERT_EQ(beyond.status, 206u);
  EXPECT_EQ(beyond.body, whole.substr(5));
  HttpResult past = ranged("bytes=" + size + "-");
  EXPECT_EQ(past.status, 416u);
  EXPECT_EQ(past.header("content-range"), "bytes */" + size);
  EXPECT_EQ(ranged("bytes=-0").status, 416u);
  HttpResult huge = ranged("bytes=3-99999999999999999999999");
  ASSERT_EQ(huge.status, 206u);
  EXPECT_EQ(huge.body, whole.substr(3));
  EXPECT_EQ(ranged("bytes=18446744073709551616-").status, 416u);
  // If-Range: the same ETag gets the slice, another the whole file.
  HttpRequest resumed{"GET", "/api/v1/models/m/versions/1/artifact", reader};
  resumed.headers["Range"] = "bytes=0-9";
  resumed.headers["If-Range"] = full.header("etag");
  EXPECT_EQ(http(server->port(), resumed).status, 206u);
  resumed.headers["If-Range"] = "\"sha256:another\"";
  HttpResult changed = http(server->port(), resumed);
  EXPECT_EQ(changed.status, 200u);
  EXPECT_EQ(changed.body, whole);
  for (const char *ignored : {"bytes=0-1,4-5", "items=0-1", "bytes=9-3", "bytes=x-", "bytes=-"}) {
    HttpResult answer = ranged(ignored);
    EXPECT_EQ(answer.status, 200u) << ignored;
    EXPECT_EQ(answer.body, whole) << ignored;
  }
}

TEST_P(ServerTest, HealthMetricsAndOpenApi) {
  std::string reader = token("reader-bot", "reader");
  auto server = serve();
  EXPECT_EQ(get(*server, "/healthz", "").body, "{\"status\":\"ok\"}\n");
  EXPECT_EQ(get(*server, "/readyz", "").status, 200u);
  for (int i = 0; i < 3; ++i)
    get(*server, "/api/v1/models/m", reader);
  get(*server, "/api/v1/models/absent", reader);
  HttpResult metrics = get(*server, "/metrics", "");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_THAT(metrics.body,
              HasSubstr("graceful_http_requests_total{route=\"GET /api/v1/models/{name}\","
                        "status=\"200\"} 3\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("graceful_http_requests_total{route=\"GET /api/v1/models/{name}\","
                        "status=\"404\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("graceful_http_request_duration_seconds_count{route=\"GET "
                                      "/api/v1/models/{name}\"} 4\n"));
  HttpResult document = get(*server, "/api/v1/openapi.json", "");
  EXPECT_EQ(document.status, 200u);
  EXPECT_EQ(document.body, readAll(GRACEFUL_SOURCE_DIR "/docs/schemas/openapi.json"));
}

// Webhooks as a receiver sees them: made by an admin over HTTP, each
// matching event POSTed with a signature its secret verifies and the
// audit event it announces; a receiver that fails gets the same delivery
// (same key, same bytes) again until it answers 2xx.
TEST_P(ServerTest, WebhooksArriveSignedAndAreRetried) {
  WebhookReceiver receiver;
  receiver.answerWith(503);
  std::string admin = token("release-admin", "admin");
  std::string promoter = token("ci", "promoter");
  auto server = serve({"--webhook-poll-ms", "50", "--webhook-retry-ms", "200"});
  std::string url = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hooks?team=vision";
  std::string body =
      R"({"url": ")" + url +
      R"(", "models": "m", "aliases": "production", "events": ["promoted", "rolled-back"]})";
  EXPECT_EQ(send(*server, "POST", "/api/v1/webhooks", promoter, body).status, 403u);
  HttpResult created = send(*server, "POST", "/api/v1/webhooks", admin, body);
  ASSERT_EQ(created.status, 201u) << created.body;
  auto webhook = parseJson<proto::Webhook>(created.body);
  EXPECT_THAT(webhook.secret(), ::testing::StartsWith("whsec_"));
  EXPECT_EQ(send(*server, "POST", "/api/v1/webhooks", admin, R"({"url": "ftp://host/"})").status,
            400u);
  EXPECT_EQ(send(*server, "POST", "/api/v1/webhooks", admin,
                 R"({"url": "http://127.0.0.1/", "events": ["promotd"]})")
                .status,
            400u);
  // Events on staging, and on other models, are not this webhook's.
  ASSERT_EQ(send(*server, "POST", "/api/v1/models/m/aliases/staging/promote", promoter,
                 R"({"target": "m@2", "policy": "open.yaml"})")
                .status,
            200u);
  HttpResult promoted = send(*server, "POST", "/api/v1/models/m/aliases/production/promote",
                             promoter, R"({"target": "m@2", "policy": "open.yaml"})");
  ASSERT_EQ(promoted.status, 200u) << promoted.body;
  ASSERT_TRUE(receiver.waitForPosts(2, std::chrono::seconds(20)));
  receiver.answerWith(200);
  ASSERT_TRUE(receiver.waitForPosts(3, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<ReceivedPost> posts = receiver.posts();
  ASSERT_EQ(posts.size(), 3u) << "delivered once, after two 503s";
  proto::AuditLog log = audit({"--action", "promote", "--alias", "production"});
  for (const ReceivedPost &post : posts) {
    EXPECT_EQ(post.target, "/hooks?team=vision");
    EXPECT_TRUE(signatureVerifies(post, webhook.secret())) << post.header("graceful-signature");
    EXPECT_FALSE(signatureVerifies(post, webhook.secret() + "x"));
    EXPECT_EQ(post.header("graceful-event"), "promoted");
    EXPECT_EQ(post.header("idempotency-key"), posts[0].header("idempotency-key"));
    EXPECT_EQ(post.body, posts[0].body);
    auto event = parseJson<proto::WebhookEvent>(post.body);
    EXPECT_EQ(event.event(), "promoted");
    EXPECT_EQ(event.webhook_id(), webhook.id());
    EXPECT_EQ("graceful-delivery-" + std::to_string(event.delivery_id()),
              post.header("idempotency-key"));
    EXPECT_EQ(event.audit_event().hash(), log.events(log.events_size() - 1).hash());
    EXPECT_EQ(event.audit_event().actor(), "ci");
    EXPECT_EQ(event.audit_event().after_version(), 2);
  }
  HttpResult deliveries =
      get(*server, "/api/v1/webhooks/deliveries?webhook=" + std::to_string(webhook.id()), admin);
  ASSERT_EQ(deliveries.status, 200u) << deliveries.body;
  auto list = parseJson<proto::WebhookDeliveryList>(deliveries.body);
  ASSERT_EQ(list.deliveries_size(), 1);
  EXPECT_EQ(list.deliveries(0).status(), "delivered");
  EXPECT_EQ(list.deliveries(0).attempts(), 3);
  EXPECT_EQ(list.deliveries(0).last_response(), "HTTP 200");
  HttpResult metrics = get(*server, "/metrics", "");
  EXPECT_THAT(metrics.body,
              HasSubstr("graceful_webhook_deliveries_total{outcome=\"delivered\"} 1\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("graceful_webhook_deliveries_total{outcome=\"retried\"} 2\n"));
  // Sent again by hand: the same delivery, the same key.
  HttpResult redelivered =
      send(*server, "POST",
           "/api/v1/webhooks/deliveries/" + std::to_string(list.deliveries(0).id()) + "/redeliver",
           admin, "");
  ASSERT_EQ(redelivered.status, 200u) << redelivered.body;
  ASSERT_TRUE(receiver.waitForPosts(4, std::chrono::seconds(20)));
  EXPECT_EQ(receiver.posts()[3].header("idempotency-key"), posts[0].header("idempotency-key"));
  // A rollback is announced too; after the webhook is deleted nothing is.
  ASSERT_EQ(
      send(*server, "POST", "/api/v1/models/m/aliases/production/rollback", promoter, "{}").status,
      200u);
  ASSERT_TRUE(receiver.waitForPosts(5, std::chrono::seconds(20)));
  EXPECT_EQ(receiver.posts()[4].header("graceful-event"), "rolled-back");
  HttpResult listed = get(*server, "/api/v1/webhooks", admin);
  ASSERT_EQ(listed.status, 200u);
  EXPECT_THAT(listed.body, Not(HasSubstr("whsec_"))) << "secrets are shown once";
  HttpResult deleted =
      send(*server, "DELETE",
           "/api/v1/webhooks/" + std::to_string(webhook.id()) + "?reason=retired", admin, "");
  ASSERT_EQ(deleted.status, 200u) << deleted.body;
  EXPECT_TRUE(parseJson<proto::Webhook>(deleted.body).has_deleted_at());
  ASSERT_EQ(send(*server, "POST", "/api/v1/models/m/aliases/production/promote", promoter,
                 R"({"target": "m@2", "policy": "open.yaml"})")
                .status,
            200u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(receiver.posts().size(), 5u);
  expectCheckPasses();
}

// Deliveries live in the store: events recorded while no server runs, and
// attempts a server made before it was killed, are delivered by the next
// server once the receiver is back, each exactly once.
TEST_P(ServerTest, WebhooksSurviveARestartAndAReceiverOutage) {
  unsigned short port = 0;
  {
    WebhookReceiver reserve; // a port nothing listens on once it is gone
    port = reserve.port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/events";
  ProcessResult created = cli({"webhook", "create", "--url", url, "--json"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  auto webhook = parseJson<proto::Webhook>(created.out);
  ASSERT_EQ(webhook.events_size(), 5) << "every event by default";
  // Recorded by the CLI, with no server running: queued, not lost.
  ASSERT_EQ(cli({"promote", "m@2", "--to", "production", "--policy",
                 directory_.file("policies/open.yaml")})
                .exitCode,
            0);
  ASSERT_EQ(cli({"register", "other", "--onnx", models_[0]}).exitCode, 0);
  {
    auto server = serve({"--webhook-poll-ms", "50", "--webhook-retry-ms", "100"});
    // The receiver is down: attempts fail and are retried.
    for (int i = 0; i < 100; ++i) {
      auto pending =
          parseJson<proto::WebhookDeliveryList>(cli({"webhook", "deliveries", "--json"}).out);
      if (pending.deliveries_size() == 2 && pending.deliveries(0).attempts() >= 2 &&
          pending.deliveries(1).attempts() >= 2)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(server->stop(SIGKILL), -1);
  }
  auto pending =
      parseJson<proto::WebhookDeliveryList>(cli({"webhook", "deliveries", "--json"}).out);
  ASSERT_EQ(pending.deliveries_size(), 2);
  for (const proto::WebhookDelivery &delivery : pending.deliveries()) {
    EXPECT_EQ(delivery.status(), "pending");
    EXPECT_GE(delivery.attempts(), 2);
    EXPECT_THAT(delivery.last_response(), HasSubstr("cannot connect"));
  }
  WebhookReceiver receiver(port);
  auto server = serve({"--webhook-poll-ms", "50", "--webhook-retry-ms", "100"});
  ASSERT_TRUE(receiver.waitForPosts(2, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<ReceivedPost> posts = receiver.posts();
  ASSERT_EQ(posts.size(), 2u);
  std::set<std::string> events;
  for (const ReceivedPost &post : posts) {
    EXPECT_TRUE(signatureVerifies(post, webhook.secret()));
    events.insert(post.header("graceful-event"));
  }
  EXPECT_EQ(events, (std::set<std::string>{"promoted", "registered"}));
  auto delivered =
      parseJson<proto::WebhookDeliveryList>(cli({"webhook", "deliveries", "--json"}).out);
  for (const proto::WebhookDelivery &delivery : delivered.deliveries())
    EXPECT_EQ(delivery.status(), "delivered");
  expectCheckPasses();
}

// A refused promotion is on the audit log with its report, and announced;
// `webhook deliver` sends what is due without a server.
TEST_P(ServerTest, RefusalsAreAnnouncedAndDeliverRunsWithoutAServer) {
  WebhookReceiver receiver;
  std::string url = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/";
  ProcessResult created =
      cli({"webhook", "create", "--url", url, "--event", "refused", "--event", "forced", "--json"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  auto webhook = parseJson<proto::Webhook>(created.out);
  writeEvaluationData();
  std::ofstream(directory_.file("policies/tight.yaml"))
      << "gates:\n  - nfr: {inputs: x.npy, labels: y.npy, max_nfr: 0.0, max_error_rate: 0.0}\n";
  ProcessResult refused = cli(
      {"promote", "m@2", "--to", "production", "--policy", directory_.file("policies/tight.yaml")});
  ASSERT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  proto::AuditLog log = audit({"--action", "refuse"});
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_GT(log.events(0).gate_report_id(), 0);
  EXPECT_EQ(log.events(0).before_version(), 1);
  ProcessResult deliver = cli({"webhook", "deliver"});
  ASSERT_EQ(deliver.exitCode, 0) << deliver.err;
  EXPECT_THAT(deliver.out, HasSubstr("1 delivered, 0 to retry, 0 failed"));
  ASSERT_EQ(receiver.posts().size(), 1u);
  auto event = parseJson<proto::WebhookEvent>(receiver.posts()[0].body);
  EXPECT_EQ(event.event(), "refused");
  EXPECT_EQ(event.audit_event().gate_report_id(), log.events(0).gate_report_id());
  EXPECT_TRUE(signatureVerifies(receiver.posts()[0], webhook.secret()));
  EXPECT_THAT(cli({"webhook", "deliver"}).out, HasSubstr("0 delivered"));
  expectCheckPasses();
}

// Receivers that do not deliver: one that never answers is cut off at
// the timeout, a redirect is not followed, and the last attempt fails the
// delivery; `webhook redeliver` gives it fresh attempts.
TEST_P(ServerTest, SilentAndRedirectingReceiversDoNotDeliver) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(
      io, {boost::asio::ip::make_address("127.0.0.1"), 0}); // listens, never accepts
  WebhookReceiver redirecting;
  redirecting.answerWith(302);
  for (unsigned short port : {silent.local_endpoint().port(), redirecting.port()})
    ASSERT_EQ(cli({"webhook", "create", "--url", "http://127.0.0.1:" + std::to_string(port) + "/",
                   "--event", "registered"})
                  .exitCode,
              0);
  ASSERT_EQ(cli({"register", "other", "--onnx", models_[0]}).exitCode, 0);
  ProcessResult first = cli({"webhook", "deliver", "--webhook-timeout-ms", "300"});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("0 delivered, 2 to retry, 0 failed"));
  auto pending =
      parseJson<proto::WebhookDeliveryList>(cli({"webhook", "deliveries", "--json"}).out);
  ASSERT_EQ(pending.deliveries_size(), 2);
  EXPECT_THAT(pending.deliveries(0).last_response(), HasSubstr("no answer"));
  EXPECT_EQ(pending.deliveries(1).last_response(), "HTTP 302");
  EXPECT_EQ(redirecting.posts().size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // the first retry's delay
  ProcessResult last =
      cli({"webhook", "deliver", "--webhook-timeout-ms", "300", "--webhook-attempts", "2"});
  EXPECT_THAT(last.out, HasSubstr("0 delivered, 0 to retry, 2 failed"));
  auto failed = parseJson<proto::WebhookDeliveryList>(
      cli({"webhook", "deliveries", "--status", "failed", "--json"}).out);
  ASSERT_EQ(failed.deliveries_size(), 2);
  redirecting.answerWith(200);
  ASSERT_EQ(cli({"webhook", "redeliver", std::to_string(failed.deliveries(1).id())}).exitCode, 0);
  EXPECT_THAT(cli({"webhook", "deliver"}).out, HasSubstr("1 delivered"));
  for (const std::vector<std::string> &bad : std::vector<std::vector<std::string>>{
           {"webhook", "redeliver", "0"},
           {"webhook", "redeliver", "x"},
           {"webhook", "delete", "-1"},
           {"webhook", "deliveries", "--status", "lost"},
           {"webhook", "deliveries", "--webhook", "1e3"},
           {"webhook", "deliver", "--webhook-attempts", "0"},
           {"webhook", "create", "--url", "http://h/\x01"},
           {"webhook", "create", "--url", "http://h/", "--models", "a\nb"}}) {
    ProcessResult refused = cli(bad);
    EXPECT_EQ(refused.exitCode, 2) << bad[1] << " " << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  }
  EXPECT_EQ(cli({"webhook", "redeliver", "99"}).exitCode, 2) << "not found";
  EXPECT_EQ(parseJson<proto::WebhookList>(cli({"webhook", "list", "--json"}).out).webhooks_size(),
            2);
  expectCheckPasses();
}

// The CLI with --store http://HOST:PORT and GRACEFUL_TOKEN: reads answer
// byte for byte what the same command gives on the store itself, changes
// go through the server (the token's subject is the actor, policies are
// the server's), report files and downloads land here, and exit codes
// are the local ones: 1 refused, 2 bad input or not allowed, 3 conflict,
// 4 when the server cannot be reached.
TEST_P(ServerTest, CliWorksThroughAServerWithTheSameAnswers) {
  writeEvaluationData();
  std::ofstream(directory_.file("policies/tight.yaml"))
      << "gates:\n  - nfr: {inputs: x.npy, labels: y.npy, max_nfr: 0.0, max_error_rate: 0.0}\n";
  std::string admin = token("release-admin", "admin");
  std::string reader = token("release-tool", "reader");
  auto server = serve();
  Environment remote = env_;
  remote["GRACEFUL_STORE"] = "http://127.0.0.1:" + std::to_string(server->port());
  remote["GRACEFUL_TOKEN"] = admin;
  remote["GRACEFUL_ACTOR"] = "someone-else";
  auto through = [&](const std::vector<std::string> &args) {
    return runGraceful(args, remote, directory_.path());
  };
  for (const std::vector<std::string> &read : std::vector<std::vector<std::string>>{
           {"list", "--json"},
           {"list"},
           {"show", "m", "--json"},
           {"show", "m@2", "--json"},
           {"show", "m@production"},
           {"lineage", "m", "--json"},
           {"lineage", "m", "--dot"},
           {"history", "m@production", "--json"},
           {"audit", "--json"},
           {"audit", "--model", "m", "--since", "2", "--limit", "2"},
           {"report", "list", "m", "--json"},
           {"report", "show", "m@production", "--json"},
           {"dataset", "list", "--json"},
           {"webhook", "list", "--json"},
       }) {
    ProcessResult local = cli(read), viaServer = through(read);
    EXPECT_EQ(viaServer.exitCode, 0) << read[0] << ": " << viaServer.err;
    EXPECT_EQ(viaServer.out, local.out) << read[0] << " " << read[1];
  }
  // Changes, made by the server as the token's subject.
  std::int64_t lastEvent = audit({"--limit", "1"}).events(0).id();
  std::string copy = directory_.file("copy.onnx");
  std::ofstream(copy, std::ios::binary) << readAll(models_[2]);
  ProcessResult registered =
      through({"register", "m", "--onnx", copy, "--parent", "m@2:fine-tuned-from", "--tag",
               "stage=b", "--description", "third", "--json"});
  ASSERT_EQ(registered.exitCode, 0) << registered.err;
  auto result = parseJson<proto::RegisterResult>(registered.out);
  EXPECT_EQ(result.version().version(), 3);
  EXPECT_EQ(result.version().created_by(), "release-admin");
  EXPECT_EQ(result.version().tags().at("stage"), "b");
  EXPECT_EQ(result.version().parents(0).parent().version(), 2);
  EXPECT_EQ(through({"tag", "m@3", "--set", "owner=vision"}).exitCode, 0);
  EXPECT_EQ(cli({"show", "m@3", "--json"}).out, through({"show", "m@3", "--json"}).out);
  std::string html = directory_.file("refused.html");
  ProcessResult refused = through({"promote", "m@3", "--to", "production", "--policy", "tight.yaml",
                                   "--report", html, "--json"});
  EXPECT_EQ(refused.exitCode, 1) << refused.err;
  EXPECT_FALSE(parseJson<proto::PromotionResult>(refused.out).promoted());
  EXPECT_THAT(readAll(html), HasSubstr("<svg")) << "the report is written here";
  ProcessResult promoted =
      through({"promote", "m@3", "--to", "production", "--policy", "open.yaml", "--json"});
  ASSERT_EQ(promoted.exitCode, 0) << promoted.err;
  EXPECT_TRUE(parseJson<proto::PromotionResult>(promoted.out).promoted());
  EXPECT_EQ(
      through({"promote", "m@1", "--to", "production", "--policy", "open.yaml", "--expect", "2"})
          .exitCode,
      3)
      << "a lost compare-and-set";
  ProcessResult gates = through({"gate", "run", "--policy", "strict.yaml", "--candidate", "m@3",
                                 "--baseline", "m@1", "--junit", directory_.file("g.xml")});
  EXPECT_EQ(gates.exitCode, 0) << gates.err;
  EXPECT_THAT(readAll(directory_.file("g.xml")), HasSubstr("<testsuite"));
  EXPECT_EQ(through({"rollback", "m@production", "--reason", "drill"}).exitCode, 0);
  EXPECT_EQ(through({"alias", "set", "m@1", "--alias", "canary"}).exitCode, 0);
  EXPECT_EQ(through({"alias", "delete", "m@canary", "--reason", "done"}).exitCode, 0);
  std::string out = directory_.file("downloaded.onnx");
  ProcessResult downloaded = through({"download", "m@production", "--out", out, "--json"});
  ASSERT_EQ(downloaded.exitCode, 0) << downloaded.err;
  EXPECT_EQ(readAll(out), readAll(models_[0])) << "m@1, production again after the rollback";
  ProcessResult hook = through({"webhook", "create", "--url", "http://127.0.0.1:9/", "--json"});
  ASSERT_EQ(hook.exitCode, 0) << hook.err;
  EXPECT_EQ(through({"webhook", "deliveries", "--status", "pending"}).exitCode, 0);
  int changes = 0;
  proto::AuditLog changed = audit({"--since", std::to_string(lastEvent)});
  for (const proto::AuditEvent &event : changed.events()) {
    EXPECT_EQ(event.actor(), "release-admin") << event.action();
    ++changes;
  }
  EXPECT_GE(changes, 8) << "register, tag, refuse, promote, gate run, rollback, alias set/delete";
  // Refusals keep their kind.
  EXPECT_EQ(through({"show", "absent"}).exitCode, 2);
  EXPECT_EQ(through({"promote", "m@1", "--to", "production", "--policy", "../open.yaml"}).exitCode,
            2);
  EXPECT_EQ(through({"check"}).exitCode, 2) << "check works on the store itself";
  EXPECT_THAT(through({"check"}).err, HasSubstr("is a server"));
  remote["GRACEFUL_TOKEN"] = reader;
  ProcessResult forbidden = through({"rollback", "m@production"});
  EXPECT_EQ(forbidden.exitCode, 2);
  EXPECT_THAT(forbidden.err, HasSubstr("may not move aliases"));
  EXPECT_EQ(through({"show", "m@production", "--json"}).out,
            cli({"show", "m@production", "--json"}).out);
  remote["GRACEFUL_TOKEN"] = "gft_1_" + std::string(64, '0');
  EXPECT_EQ(through({"list"}).exitCode, 2);
  remote.erase("GRACEFUL_TOKEN");
  EXPECT_THAT(through({"list"}).err, HasSubstr("GRACEFUL_TOKEN is not set"));
  remote["GRACEFUL_TOKEN"] = admin;
  remote["GRACEFUL_STORE"] = "http://127.0.0.1:" + std::to_string(server->port()) + "/api/v1";
  EXPECT_EQ(through({"list"}).exitCode, 2) << "the server, not a route";
  remote["GRACEFUL_STORE"] = "http://127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(server->stop(SIGTERM), 0);
  ProcessResult down = through({"list", "--json"});
  EXPECT_EQ(down.exitCode, 4) << down.err;
  EXPECT_THAT(down.err, HasSubstr("cannot connect"));
  expectCheckPasses();
}

// Datasets registered through the server: one upload of the files' bytes
// with a manifest of names, kinds, sizes and digests. The CLI's `dataset
// register` does it for the user; a manifest that does not match its body
// (sizes, digests, names, kinds, counts) is refused with nothing recorded,
// and only a publisher for every model may register data.
TEST_P(ServerTest, DatasetsAreRegisteredThroughTheServer) {
  writeEvaluationData();
  std::string publisher = token("data-bot", "publisher");
  std::string limited = token("m-bot", "publisher", {"--models", "m"});
  std::string reader = token("reader-bot", "reader");
  auto server = serve();
  Environment remote = env_;
  remote["GRACEFUL_STORE"] = "http://127.0.0.1:" + std::to_string(server->port());
  remote["GRACEFUL_TOKEN"] = publisher;
  auto through = [&](const std::vector<std::string> &args) {
    return runGraceful(args, remote, directory_.path());
  };
  std::string x = directory_.file("policies/x.npy"), y = directory_.file("policies/y.npy");
  ProcessResult registered = through({"dataset", "register", "eval", "--inputs", x, "--labels", y,
                                      "--description", "six samples", "--json"});
  ASSERT_EQ(registered.exitCode, 0) << registered.err;
  auto result = parseJson<proto::DatasetResult>(registered.out);
  EXPECT_FALSE(result.existing());
  ASSERT_EQ(result.dataset().files_size(), 2);
  EXPECT_EQ(result.dataset().files(0).name(), "inputs");
  EXPECT_EQ(result.dataset().files(0).digest(), cantFail(sha256File(x)).digest);
  EXPECT_EQ(result.dataset().files(0).dtype(), "float32");
  EXPECT_THAT(result.dataset().files(0).shape(), ::testing::ElementsAre(6, 4));
  EXPECT_EQ(result.dataset().files(1).digest(), cantFail(sha256File(y)).digest);
  EXPECT_EQ(result.dataset().created_by(), "data-bot");
  EXPECT_EQ(cli({"dataset", "show", "eval", "--json"}).out,
            through({"dataset", "show", "eval", "--json"}).out);
  ProcessResult again =
      through({"dataset", "register", "eval", "--inputs", x, "--labels", y, "--json"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_TRUE(parseJson<proto::DatasetResult>(again.out).existing());
  EXPECT_EQ(through({"dataset", "register", "eval", "--inputs", y, "--labels", y}).exitCode, 3);
  std::string empty = directory_.file("policies/no-ids.txt");
  std::ofstream(empty).close();
  ProcessResult withEmpty =
      through({"dataset", "register", "ids", "--inputs", x, "--file", "ids=" + empty, "--json"});
  ASSERT_EQ(withEmpty.exitCode, 0) << "an empty file is a file: " << withEmpty.err;
  EXPECT_EQ(parseJson<proto::DatasetResult>(withEmpty.out).dataset().files(0).size_bytes(), 0);
  for (const std::string &who : {limited, reader}) {
    remote["GRACEFUL_TOKEN"] = who;
    ProcessResult denied = through({"dataset", "register", "other", "--inputs", x});
    EXPECT_EQ(denied.exitCode, 2);
    EXPECT_THAT(denied.err, HasSubstr("may not"));
  }
  // The same upload by hand, and manifests that do not match their body.
  std::string bytes = readAll(x);
  std::string digest = sha256Digest(bytes);
  auto upload = [&](const std::string &name, const std::string &manifest, const std::string &body) {
    HttpRequest request{"POST", "/api/v1/datasets/" + name, publisher, body,
                        "application/octet-stream"};
    if (!manifest.empty())
      request.headers["X-Graceful-Dataset-Files"] = manifest;
    return http(server->port(), request);
  };
  std::string size = std::to_string(bytes.size());
  HttpResult created = upload("raw", "inputs npy " + size + " " + digest, bytes);
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += (many.empty() ? "" : ", ") + std::string("f") + std::to_string(i) + " raw 0 " +
            sha256Digest("");
  for (const auto &[manifest, body] : std::vector<std::pair<std::string, std::string>>{
           {"", bytes},
           {"inputs npy " + std::to_string(bytes.size() + 1) + " " + digest, bytes},
           {"inputs npy " + std::to_string(bytes.size() - 1) + " " + digest, bytes},
           {"inputs npy " + size + " " + sha256Digest("other"), bytes},
           {"inputs npy -1 " + digest, bytes},
           {"inputs npy 18446744073709551615 " + digest + ", labels raw 2 " + digest, bytes},
           {"inputs npy " + size + " " + digest + ", inputs raw 0 " + sha256Digest(""), bytes},
           {"../inputs npy " + size + " " + digest, bytes},
           {"inputs tar " + size + " " + digest, bytes},
           {"inputs npy " + size + " sha256:xyz", bytes},
           {"inputs npy 5 " + sha256Digest("hello"), "hello"},
           {many, ""},
       }) {
    HttpResult refused = upload("bad", manifest, body);
    EXPECT_EQ(refused.status, 400u) << manifest.substr(0, 120) << ": " << refused.body;
  }
  auto listed = parseJson<proto::DatasetList>(cli({"dataset", "list", "--json"}).out);
  ASSERT_EQ(listed.datasets_size(), 3) << "eval, ids and raw; nothing of the refused";
  expectCheckPasses();
}

// SIGTERM stops the sender before its next attempt: with three
// deliveries due to a receiver that never answers, the server that is told
// to stop during the first attempt makes no other.
TEST_P(ServerTest, SigtermStartsNoMoreDeliveryAttempts) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_EQ(cli({"webhook", "create", "--url",
                 "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/",
                 "--event", "registered"})
                .exitCode,
            0);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(cli({"register", "other", "--onnx", models_[i], "--allow-duplicate"}).exitCode, 0);
  auto server = serve({"--webhook-poll-ms", "50", "--webhook-timeout-ms", "1500"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(server->stop(SIGTERM), 0);
  auto deliveries =
      parseJson<proto::WebhookDeliveryList>(cli({"webhook", "deliveries", "--json"}).out);
  ASSERT_EQ(deliveries.deliveries_size(), 3);
  int attempted = 0;
  for (const proto::WebhookDelivery &delivery : deliveries.deliveries())
    attempted += delivery.attempts() > 0;
  EXPECT_EQ(attempted, 1) << "the attempt under way, and no other";
  expectCheckPasses();
}

// Servers hold no state of their own: two over one store, with promoters
// racing on both for the same compare-and-set, see exactly one winner per
// race, and the history records exactly that winner.
TEST_P(ServerTest, TwoServersOneWinnerPerRace) {
  for (int seed = 4; seed <= 7; ++seed) {
    models_.push_back(directory_.file("m" + std::to_string(seed) + ".onnx"));
    writeTinyOnnxModel(models_.back(), seed);
    ASSERT_EQ(cli({"register", "m", "--onnx", models_.back()}).exitCode, 0);
  }
  std::string promoter = token("release-bot", "promoter", {"--aliases", "production"});
  auto first = serve(), second = serve();
  int holder = 1; // SetUp promoted m@1
  for (int race = 0; race < 4; ++race) {
    std::vector<int> targets;
    for (int version = 1; version <= 6; ++version)
      if (version != holder)
        targets.push_back(version);
    std::vector<HttpResult> answers(targets.size());
    std::atomic<bool> go = false;
    std::vector<std::thread> contenders;
    for (size_t i = 0; i < targets.size(); ++i) {
      unsigned short port = (i % 2 ? first : second)->port();
      std::string body = R"({"target": "m@)" + std::to_string(targets[i]) +
                         R"(", "policy": "open.yaml", "expect": ")" + std::to_string(holder) +
                         R"("})";
      contenders.emplace_back([&, i, port, body] {
        while (!go)
          std::this_thread::yield();
        answers[i] =
            http(port, {"POST", "/api/v1/models/m/aliases/production/promote", promoter, body});
      });
    }
    go = true;
    for (std::thread &contender : contenders)
      contender.join();
    int winners = 0, winner = 0;
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].status == 200u) {
        EXPECT_TRUE(parseJson<proto::PromotionResult>(answers[i].body).promoted());
        ++winners;
        winner = targets[i];
      } else {
        EXPECT_EQ(answers[i].status, 409u) << answers[i].body;
      }
    }
    ASSERT_EQ(winners, 1) << "race " << race;
    auto production = parseJson<proto::ModelVersion>(cli({"show", "m@production", "--json"}).out);
    EXPECT_EQ(production.version(), winner);
    EXPECT_EQ(production.holder().actor(), "release-bot");
    holder = winner;
  }
  auto history = parseJson<proto::AliasHistory>(cli({"history", "m@production", "--json"}).out);
  EXPECT_EQ(history.tenures_size(), 5); // SetUp's and one per race
  expectCheckPasses();
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         [](const auto &info) { return backendName(info.param); });

} // namespace
} // namespace graceful::testing
