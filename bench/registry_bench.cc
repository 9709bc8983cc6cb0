// Registrations and alias moves per second through the Store API, with one
// or several concurrent clients (threads, each with its own connection).
//
//   registry_bench --store URI --artifacts DIR --clients N --ops M
#include "graceful/registry/store.h"
#include "graceful/support/error.h"
#include "graceful/testing/stores.h"

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <thread>

namespace {

using namespace graceful;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string store;
  std::string artifacts;
  int clients = 1;
  int ops = 200;
};

// Runs `work(client, i)` ops times on each client; returns operations/second.
template <typename Work> double measure(const Options &options, Work work) {
  std::atomic<int> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int client = 0; client < options.clients; ++client)
    threads.emplace_back([&, client] {
      auto store = registry::openStore({options.store, options.artifacts, 60000});
      if (!store) {
        std::cerr << describeError(store.takeError()).message << "\n";
        ++failures;
        return;
      }
      for (int i = 0; i < options.ops; ++i)
        if (!work(**store, client, i))
          ++failures;
    });
  for (auto &thread : threads)
    thread.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failures > 0)
    std::cerr << failures << " operations failed\n";
  return options.clients * options.ops / seconds;
}

} // namespace

int main(int argc, char **argv) {
  namespace po = boost::program_options;
  Options options;
  po::options_description description("registry_bench");
  description.add_options()("store", po::value(&options.store)->required())(
      "artifacts", po::value(&options.artifacts)->required())(
      "clients", po::value(&options.clients))("ops", po::value(&options.ops));
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, description), values);
    po::notify(values);
  } catch (const po::error &e) {
    std::cerr << "registry_bench: " << e.what() << "\n";
    return 2;
  }
  auto init = registry::initStore({options.store, options.artifacts, 60000});
  if (!init) {
    std::cerr << describeError(init.takeError()).message << "\n";
    return 2;
  }
  testing::TemporaryDirectory models;
  std::vector<std::string> files;
  for (int i = 0; i < options.clients * options.ops; ++i) {
    files.push_back(models.file(std::to_string(i) + ".onnx"));
    testing::writeTinyOnnxModel(files.back(), i);
  }
  double registrations = measure(options, [&](registry::Store &store, int client, int i) {
    registry::RegisterRequest request{
        "bench", files[static_cast<size_t>(client * options.ops + i)], "", {}, {}, "bench"};
    auto version = store.registerVersion(request);
    if (!version)
      llvm::consumeError(version.takeError());
    return bool(version);
  });
  double moves = measure(options, [&](registry::Store &store, int client, int i) {
    registry::AliasMoveRequest request{"bench",
                                       "alias-" + std::to_string(client),
                                       1 + i % 10,
                                       std::nullopt,
                                       registry::AliasAction::Move,
                                       "bench",
                                       "",
                                       std::nullopt};
    auto move = store.moveAlias(request);
    if (!move)
      llvm::consumeError(move.takeError());
    return bool(move);
  });
  std::cout << options.clients << "\t" << registrations << "\t" << moves << "\n";
  return 0;
}
