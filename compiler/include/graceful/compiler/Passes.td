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

def GracefulLowerOnnx : Pass<"graceful-lower-onnx", "mlir::ModuleOp"> {
  let summary = "Lower statically shaped onnx.node ops to linalg, tensor, arith and math";
  let description = [{
    Replaces every onnx.node by the lowering registered for its op type and
    every onnx.constant by arith.constant. Fails with an error naming the
    node, its op type and what is unsupported; needs static shapes (the JIT
    specialises inputs to the shapes being run before import).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
                           "mlir::math::MathDialect", "mlir::tensor::TensorDialect"];
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

def GracefulLinalgToBlas : Pass<"graceful-linalg-to-blas", "mlir::ModuleOp"> {
  let summary = "Call an optimized sgemm for f32 matrix products on buffers";
  let description = [{
    Replaces linalg.matmul and linalg.matmul_transpose_b on f32 memrefs by
    calls to graceful_sgemm (C += A * op(B)), which the JIT binds to
    OpenBLAS. Runs after bufferization.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

#endif // GRACEFUL_COMPILER_PASSES
