#ifndef GRACEFUL_COMPILER_PASSES
#define GRACEFUL_COMPILER_PASSES

include "mlir/Pass/PassBase.td"

def GracefulAnalyze : Pass<"graceful-analyze", "mlir::ModuleOp"> {
  let summary = "Report op census, parameters, MACs and peak activation memory";
  let description = [{
    Attaches the architecture analysis of the graph to the module as the
    `graceful.analysis` dictionary attribute, and optionally prints it.
  }];
  let options = [
    Option<"print", "print", "bool", /*default=*/"false", "print the analysis to stderr">
  ];
}

def GracefulSignlessIntegers : Pass<"graceful-signless-integers", "mlir::ModuleOp"> {
  let summary = "Make every integer signless, keeping which node values were unsigned";
  let description = [{
    arith operates on signless integers only. Rewrites uiN to iN of the same
    width in signatures, values and constants (the bytes do not change), and
    marks each onnx.node that had unsigned inputs or outputs with the bool
    arrays `graceful.unsigned_inputs` and `graceful.unsigned_outputs`, which
    the lowerings that compare, divide, extend or convert read.
  }];
}

def GracefulWidenHalfFloats : Pass<"graceful-widen-half-floats", "mlir::ModuleOp"> {
  let summary = "Compute float16 and bfloat16 in float32, rounding after each op";
  let description = [{
    LLVM has no math library for half types, and NumPy and ONNX Runtime
    compute most half ops in float32 and round the result. Rewrites f16 and
    bf16 values and constants to f32 (exactly); the signature keeps its half
    types, so arguments widen on entry and results narrow before return.
    Each onnx.node that produced halves is marked `graceful.half_outputs`,
    and the lowering rounds those outputs to their half type.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def GracefulLowerOnnx : Pass<"graceful-lower-onnx", "mlir::ModuleOp"> {
  let summary = "Lower statically shaped onnx.node ops to linalg, tensor, arith and math";
  let description = [{
    Replaces every onnx.node by the lowering registered for its op type and
    every onnx.constant by arith.constant. Fails with an error naming the
    node, its op type and what is unsupported; needs static shapes (the JIT
    specialises inputs to the shapes being run before import).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
                           "mlir::math::MathDialect", "mlir::tensor::TensorDialect",
                           "mlir::scf::SCFDialect", "mlir::memref::MemRefDialect",
                           "mlir::func::FuncDialect",
                           "mlir::bufferization::BufferizationDialect"];
}

def GracefulOutputsToArguments : Pass<"graceful-outputs-to-arguments", "mlir::ModuleOp"> {
  let summary = "Make @main write its results into caller-provided buffers";
  let description = [{
    Appends one memref argument per result, materialises each result into
    it, returns nothing and asks for a C interface, so the caller owns every
    output buffer and nothing the JIT allocates escapes.
  }];
  let dependentDialects = ["mlir::bufferization::BufferizationDialect",
                           "mlir::memref::MemRefDialect"];
}

def GracefulFuseElementwise : Pass<"graceful-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Fuse chains of elementwise linalg.generic ops";
  let description = [{
    Producer/consumer fusion of elementwise generics (BatchNorm, ReLU, Add
    after a convolution become one loop nest). Unlike
    linalg-fuse-elementwise-ops it does not propagate reshapes, which would
    turn the named matrix products meant for BLAS into generic loops.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def GracefulSplitEmptyTensors : Pass<"graceful-split-empty-tensors", "mlir::func::FuncOp"> {
  let summary = "Give each use of a tensor.empty its own";
  let description = [{
    CSE merges identical tensor.empty ops, so every elementwise op of a
    shape ends up writing into one value; one-shot bufferization then
    checks each pair of those writes for conflicts, quadratic in their
    number (a 20,000-Relu chain spent 89 s there, 1 s without the merge).
    A tensor.empty has no contents, so a copy per use changes nothing but
    the analysis' work. Runs right before bufferization.
  }];
  let dependentDialects = ["mlir::tensor::TensorDialect"];
}

def GracefulLinalgToBlas : Pass<"graceful-linalg-to-blas", "mlir::ModuleOp"> {
  let summary = "Call an optimized sgemm for f32 matrix products on buffers";
  let description = [{
    Replaces linalg.matmul and linalg.matmul_transpose_b on f32 memrefs by
    calls to graceful_sgemm (C += A * op(B)), which the JIT binds to
    OpenBLAS, and the per-sample products of convolutions by
    graceful_sgemm_per_sample. A zero fill of C just before is dropped (the
    call overwrites C instead). Elementwise ops that only consume the
    product become its epilogue: a residual Add's other buffer becomes the
    base the product accumulates onto (copied into the Add's output unless
    it is that output, or added into the bias broadcast the product already
    accumulates onto), and a Clip or Relu becomes a clamp the call applies;
    the call then writes where those ops wrote. Runs after bufferization;
    run canonicalize after it to drop the buffers that became dead.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def GracefulContractionToBlas : Pass<"graceful-contraction-to-blas", "mlir::ModuleOp"> {
  let summary = "Call sgemm for the batched products left as generics on buffers";
  let description = [{
    A linalg.generic on f32 buffers with one reduction dim k whose body
    yields out + x * y, where x depends on batch dims, one dim m and k, and
    y on the batch dims, k and one dim n (in any order in each operand), is
    a batch of matrix products: attention's Q K^T and its softmax times V,
    with the transposes and head splits folded into the indexing maps.
    Dims only one factor has besides m and n (samples sharing weights) are
    batch dims too. It becomes loops over the batch dims around one
    graceful_sgemm on 2-D views per batch index. A factor that is not an operand BLAS can read
    (the scaled queries, the softmax's division by its row sums), or an
    operand without a unit stride along k (x) or along k or n (y), is first
    computed into a row-major buffer by a generic of its part of the body.
    The output needs a unit stride along n; a zero fill before it is
    dropped. Runs after graceful-linalg-to-blas.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect", "mlir::scf::SCFDialect"];
}

def GracefulFlattenGlobals : Pass<"graceful-flatten-globals", "mlir::ModuleOp"> {
  let summary = "Store each multi-dimensional constant as one flat array";
  let description = [{
    Rewrites every memref.global of rank above 1 (static shape, identity
    layout, a dense initial value) as a rank-1 global of the same data, and
    each memref.get_global of it as a get_global of the flat one expanded
    back to its shape. LLVM represents a nested array constant as one
    constant per innermost row: a 512x512x3x3 convolution's weights, as a
    model exported with its BatchNorms folded holds them, became 786,432
    arrays of 3 floats, each hashed and uniqued, and code generation of
    ResNet-18 took 9 s instead of about 1.5 s. Runs before the conversion
    to LLVM.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def GracefulDepthwiseToRuntime : Pass<"graceful-depthwise-to-runtime", "mlir::ModuleOp"> {
  let summary = "Call a vectorized kernel for depthwise convolutions on buffers";
  let description = [{
    Replaces linalg.depthwise_conv_2d_nchw_chw on f32 memrefs by calls to
    graceful_depthwise_conv2d (out += depthwise(x, w), with the op's strides,
    dilations and top/left zero padding), which the JIT binds to a kernel
    whose inner loop runs along contiguous rows. When the input is a
    zero-filled buffer that only receives a copy of another buffer and is
    read by the convolution alone (a bufferized tensor.pad), the kernel
    reads that other buffer and treats the border as zeros: the padded
    buffer, its fill and its copy go away. Residual Adds, Clip and Relu
    after the convolution fuse into the call as for
    graceful-linalg-to-blas; the kernel may write its result over its own
    input, as it reads each plane before writing it. A per-channel bias
    broadcast into the output just before (a Conv's bias input) becomes an
    operand of graceful_depthwise_conv2d_bias instead, so that writing over
    the input stays possible. Runs after bufferization.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def GracefulInlineCopies : Pass<"graceful-inline-copies", "mlir::func::FuncOp"> {
  let summary = "Turn memref.copy into linalg.copy, so copies become loops";
  let description = [{
    Bufferization writes padding and layout changes as memref.copy into
    strided views, which lowers to a call into MLIR's generic element-wise
    runtime copy. As linalg.copy they lower to loops that LLVM vectorizes.
    Runs after bufferization.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def GracefulLinearize : Pass<"graceful-linearize", "mlir::ModuleOp"> {
  let summary = "Replace ReLU by LeakyReLU (the first step of linear quadratic fine-tuning)";
  let description = [{
    Turns every Relu node into LeakyRelu(alpha), so the network is smooth
    around its pretrained weights. Reports, as a remark and in the module's
    `graceful.linearize` attribute, how many activations changed and which
    other non-smooth ops remain (max pooling, clipping, ...).
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.01", "slope for negative inputs">
  ];
}

def GracefulFoldBatchNorm : Pass<"graceful-fold-batchnorm", "mlir::ModuleOp"> {
  let summary = "Fold inference BatchNormalization into the preceding Conv or Gemm";
  let description = [{
    W' = W * gamma / sqrt(var + eps) per output channel and
    b' = (b - mean) * gamma / sqrt(var + eps) + beta, when the BatchNorm's
    input is a Conv or Gemm used only by it and every parameter is a
    constant. Reports folded and skipped nodes (with the reason) as a remark
    and in the module's `graceful.fold_batchnorm` attribute.
  }];
}

def GracefulLegalize : Pass<"graceful-legalize", "mlir::ModuleOp"> {
  let summary = "Rewrite ops a device profile does not allow into allowed ones, exactly";
  let description = [{
    For each op outside the profile's allowed ops, applies an exact
    decomposition whose ops are all allowed (Gemm -> [Transpose] MatMul
    [Mul] Add, HardSwish -> x * HardSigmoid(x), Gelu -> its Erf form,
    Flatten -> Reshape, Relu -> Clip, Clip -> Max/Min, LeakyRelu -> Max of
    x and alpha * x). Ops that cannot be legalized stay and are reported as
    violations (remark and `graceful.legalize` attribute), never dropped.
  }];
  let options = [
    Option<"profile", "profile", "std::string", /*default=*/"\"\"", "device profile YAML">
  ];
}

def GracefulAppendProjection : Pass<"graceful-append-projection", "mlir::ModuleOp"> {
  let summary = "Append a linear map y = x W + b to an embedding output";
  let description = [{
    Reads W ([in, out], float32 .npy) and optionally b ([out]) and appends
    MatMul and Add to the graph output `output` (default: the first). The
    output keeps its ONNX name; its last dimension becomes `out`.
  }];
  let options = [
    Option<"weights", "weights", "std::string", /*default=*/"\"\"", "W as a float32 .npy [in, out]">,
    Option<"bias", "bias", "std::string", /*default=*/"\"\"", "b as a float32 .npy [out]">,
    Option<"output", "output", "std::string", /*default=*/"\"\"", "graph output to project">
  ];
}

#endif // GRACEFUL_COMPILER_PASSES
