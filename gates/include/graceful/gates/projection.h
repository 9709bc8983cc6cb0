// Learning a linear map between embedding spaces (graceful compat fit):
// ridge least squares from the new model's embeddings to the old model's,
// solved through LAPACK, with the regularization chosen on held-out rows.
#pragma once

#include "graceful/support/tensor.h"

#include <llvm/Support/Error.h>
#include <vector>

namespace graceful::gates {

struct LinearMap {
  Tensor weights;                       // float32 [new dim, old dim]
  Tensor bias;                          // float32 [old dim]
  double lambda = 0;                    // the chosen ridge strength
  double heldOutR2 = 0;                 // 1 - held-out squared error / held-out variance
  int64_t fitRows = 0, heldOutRows = 0; // rows of the final fit; rows that chose lambda
};

// Fits old ~ new * W + b on paired rows (float32 [n, d_new] and [n, d_old]).
// Every fifth row is held out to choose lambda from a grid scaled by the
// data's variance; the final map is refit on all rows. Needs n >= 10.
llvm::Expected<LinearMap> fitLinearMap(const Tensor &newEmbeddings, const Tensor &oldEmbeddings);

} // namespace graceful::gates
