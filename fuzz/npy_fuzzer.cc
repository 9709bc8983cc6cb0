// The .npy reader: any bytes either load into a tensor whose data matches
// its shape and dtype, or are refused with an error; a loaded tensor
// survives a write and a second read unchanged.
#include "graceful/support/tensor.h"
#include "scratch_file.h"

#include <llvm/Support/Error.h>

using namespace graceful;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto tensor = readNpy(fuzz::writeScratchFile(".npy", data, size));
  if (!tensor) {
    llvm::consumeError(tensor.takeError());
    return 0;
  }
  if (tensor->elementCount() < 0 ||
      tensor->bytes.size() !=
          static_cast<size_t>(tensor->elementCount()) * dtypeSize(tensor->dtype))
    fuzz::invariantFailed("tensor " + tensor->describe() + " holds " +
                          std::to_string(tensor->bytes.size()) + " bytes");
  std::string copy = fuzz::writeScratchFile(".copy.npy", nullptr, 0);
  if (llvm::Error error = writeNpy(copy, *tensor))
    fuzz::invariantFailed("a tensor read cannot be written: " + llvm::toString(std::move(error)));
  auto again = readNpy(copy);
  if (!again)
    fuzz::invariantFailed("a written tensor cannot be read: " + llvm::toString(again.takeError()));
  if (again->dtype != tensor->dtype || again->shape != tensor->shape ||
      again->bytes != tensor->bytes)
    fuzz::invariantFailed("a tensor changed in a write and read: " + tensor->describe() + " -> " +
                          again->describe());
  return 0;
}
