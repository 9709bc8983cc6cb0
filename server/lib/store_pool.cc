#include "store_pool.h"

namespace graceful::server {

llvm::Expected<std::unique_ptr<StorePool::Lease>> StorePool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto store = std::move(idle_.back());
      idle_.pop_back();
      return std::make_unique<Lease>(*this, std::move(store));
    }
  }
  auto store = registry::openStore(config_);
  if (!store)
    return store.takeError();
  return std::make_unique<Lease>(*this, std::move(*store));
}

void StorePool::giveBack(std::unique_ptr<registry::Store> store, bool keep) {
  if (!keep || !store)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(store));
}

} // namespace graceful::server
