// Open stores shared by the server's threads: a Store is one database
// connection and not thread-safe, so each request borrows one for its
// duration. A store whose request failed as unavailable is dropped rather
// than returned (its connection may be broken), so the next request
// reconnects.
#pragma once

#include "graceful/registry/store.h"

#include <memory>
#include <mutex>
#include <vector>

namespace graceful::server {

class StorePool {
public:
  explicit StorePool(registry::StoreConfig config) : config_(std::move(config)) {}

  class Lease {
  public:
    Lease(StorePool &pool, std::unique_ptr<registry::Store> store)
        : pool_(pool), store_(std::move(store)) {}
    ~Lease() { pool_.giveBack(std::move(store_), keep_); }
    Lease(const Lease &) = delete;
    Lease &operator=(const Lease &) = delete;
    registry::Store &operator*() { return *store_; }
    registry::Store *operator->() { return store_.get(); }
    // The connection may be broken: close it instead of reusing it.
    void discard() { keep_ = false; }

  private:
    StorePool &pool_;
    std::unique_ptr<registry::Store> store_;
    bool keep_ = true;
  };

  llvm::Expected<std::unique_ptr<Lease>> acquire();

private:
  void giveBack(std::unique_ptr<registry::Store> store, bool keep);

  registry::StoreConfig config_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<registry::Store>> idle_;
};

} // namespace graceful::server
