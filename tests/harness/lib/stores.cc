#include "graceful/testing/stores.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <onnx/onnx_pb.h>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>
#include <unistd.h>

namespace graceful::testing {

std::string backendName(Backend backend) {
  return backend == Backend::Sqlite ? "Sqlite" : "Postgres";
}

TemporaryDirectory::TemporaryDirectory() {
  std::string pattern = (std::filesystem::temp_directory_path() / "graceful-test.XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Environment TestStore::environment() const {
  return {{"GRACEFUL_STORE", uri}, {"GRACEFUL_ARTIFACTS", artifacts}};
}

std::optional<std::string> postgresAdminUri() {
  const char *uri = std::getenv("GRACEFUL_TEST_PG");
  if (uri == nullptr || *uri == '\0')
    return std::nullopt;
  return std::string(uri);
}

std::optional<TestStore> makeStore(Backend backend, const TemporaryDirectory &directory) {
  TestStore store;
  store.artifacts = directory.file("artifacts");
  if (backend == Backend::Sqlite) {
    store.uri = "sqlite:" + directory.file("registry.db");
    return store;
  }
  std::optional<std::string> admin = postgresAdminUri();
  if (!admin)
    return std::nullopt;
  static std::atomic<int> counter{0};
  std::string database = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
                         std::to_string(std::random_device{}() % 100000);
  pqxx::connection connection(*admin);
  pqxx::nontransaction(connection).exec("CREATE DATABASE " + database);
  std::string base = admin->substr(0, admin->rfind('/'));
  store.uri = base + "/" + database;
  return store;
}

void writeTinyOnnxModel(const std::string &path, int seed, int inputWidth) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("graceful-tests");
  model.add_opset_import()->set_version(13);
  onnx::GraphProto *graph = model.mutable_graph();
  graph->set_name("tiny");
  onnx::NodeProto *node = graph->add_node();
  node->set_op_type("MatMul");
  node->set_name("matmul");
  node->add_input("x");
  node->add_input("W");
  node->add_output("y");
  onnx::TensorProto *weights = graph->add_initializer();
  weights->set_name("W");
  weights->set_data_type(onnx::TensorProto::FLOAT);
  weights->add_dims(inputWidth);
  weights->add_dims(3);
  std::mt19937 random(static_cast<unsigned>(seed));
  std::normal_distribution<float> normal;
  for (int i = 0; i < inputWidth * 3; ++i)
    weights->add_float_data(normal(random));
  auto describe = [](onnx::ValueInfoProto *value, const char *name, int columns) {
    value->set_name(name);
    auto *tensor = value->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    tensor->mutable_shape()->add_dim()->set_dim_param("N");
    tensor->mutable_shape()->add_dim()->set_dim_value(columns);
  };
  describe(graph->add_input(), "x", inputWidth);
  describe(graph->add_output(), "y", 3);
  std::ofstream out(path, std::ios::binary);
  model.SerializeToOstream(&out);
}

} // namespace graceful::testing
