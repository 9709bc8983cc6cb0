#include "graceful/compiler/Jit.h"

#include "CompileCache.h"
#include "Prepare.h"
#include "Runtime.h"
#include "graceful/compiler/Importer.h"
#include "graceful/compiler/OnnxDialect.h"
#include "graceful/compiler/OnnxTypes.h"
#include "graceful/compiler/Passes.h"
#include "graceful/support/digest.h"
#include "graceful/support/error.h"
#include "graceful/support/files.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/SectionMemoryManager.h>
#include <llvm/Support/Format.h>
#include <llvm/Support/TargetSelect.h>
#include <mutex>
#include <onnx/onnx_pb.h>
#include <unistd.h>

namespace graceful::compiler {

using namespace mlir;

namespace {

// Fold inference BatchNorms into the convolutions before them (one pass
// over each activation less, and a quarter of the compile time on
// torchvision models), lower to linalg, bufferize, free what is allocated,
// call the runtime's kernels (they take over the clamps and residual Adds
// after them; canonicalize drops the buffers that leaves dead), lower to
// loops (integer powers to functions) and then to LLVM.
constexpr const char *kLoweringPipeline =
    "graceful-fold-batchnorm, graceful-signless-integers, graceful-widen-half-floats, "
    "graceful-lower-onnx, "
    "graceful-outputs-to-arguments, canonicalize, "
    "cse,"
    "func.func(graceful-fuse-elementwise, graceful-split-empty-tensors),"
    "one-shot-bufferize{bufferize-function-boundaries allow-return-allocs-from-loops "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-deallocation-pipeline, graceful-linalg-to-blas, graceful-depthwise-to-runtime, "
    "graceful-contraction-to-blas, graceful-flatten-globals, "
    "canonicalize,"
    "func.func(graceful-inline-copies, convert-linalg-to-loops), convert-math-to-funcs, "
    "convert-scf-to-cf, "
    "expand-strided-metadata,"
    "lower-affine, finalize-memref-to-llvm, convert-math-to-llvm, convert-math-to-libm,"
    "convert-arith-to-llvm, convert-index-to-llvm, convert-func-to-llvm, convert-cf-to-llvm,"
    "reconcile-unrealized-casts";

void initializeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    registerAllPasses();
    registerGracefulPasses();
  });
}

DialectRegistry &jitRegistry() {
  static DialectRegistry registry = [] {
    DialectRegistry r;
    registerAllDialects(r);
    registerAllExtensions(r);
    registerCompilerDialects(r);
    registerBuiltinDialectTranslation(r);
    registerLLVMDialectTranslation(r);
    return r;
  }();
  return registry;
}

// Tensors beyond this many elements are refused when compiling.
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

// Every tensor of @main that is read statically shaped, or an error naming
// the first node whose output shape depends on values computed at run time
// or whose output is too large to allocate.
llvm::Error checkStaticShapes(ModuleOp module, const std::string &source) {
  auto isStatic = [](Type type) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    return tensor && tensor.hasStaticShape();
  };
  // Tensors something reads (a GRU's unused outputs may stay open; an
  // omitted optional operand is no tensor).
  auto resolved = [&](Value value) {
    return !isa<TensorType>(value.getType()) || value.use_empty() || isStatic(value.getType());
  };
  // True past kMaxElements elements (the byte counts would overflow the
  // sizes the generated code allocates).
  auto tooLarge = [](Value value) {
    auto tensor = dyn_cast<RankedTensorType>(value.getType());
    if (!tensor || !tensor.hasStaticShape())
      return false;
    uint64_t count = 1;
    for (int64_t dim : tensor.getShape()) {
      if (dim != 0 && count > kMaxElements / static_cast<uint64_t>(dim))
        return true;
      count *= static_cast<uint64_t>(dim);
    }
    return false;
  };
  auto function = module.lookupSymbol<func::FuncOp>("main");
  for (Operation &op : function.getBody().getOps()) {
    auto node = dyn_cast<ir::NodeOp>(op);
    std::string label = node ? node.label() : "an " + op.getName().getStringRef().str() + " op";
    if (llvm::any_of(op.getResults(), tooLarge))
      return makeError(ErrorKind::BadInput, source + ": " + label + ": an output of more than " +
                                                std::to_string(kMaxElements) + " elements");
    if (llvm::all_of(op.getResults(), resolved))
      continue;
    return makeError(ErrorKind::BadInput,
                     source + ": " + label +
                         ": its output's shape depends on values computed at run time "
                         "(data-dependent shapes are not supported here)");
  }
  for (Type type : function.getResultTypes())
    if (!isStatic(type))
      return makeError(ErrorKind::BadInput,
                       source + ": an output has no static shape after shape inference");
  return llvm::Error::success();
}

// A memref descriptor as the C interface lays it out: allocated and
// aligned pointers, offset, sizes, strides.
std::vector<int64_t> descriptorFor(void *data, const std::vector<int64_t> &shape) {
  std::vector<int64_t> descriptor{reinterpret_cast<int64_t>(data), reinterpret_cast<int64_t>(data),
                                  0};
  descriptor.insert(descriptor.end(), shape.begin(), shape.end());
  int64_t stride = 1;
  std::vector<int64_t> strides(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  descriptor.insert(descriptor.end(), strides.begin(), strides.end());
  return descriptor;
}

} // namespace

namespace {

// The packed entry point ExecutionEngine wraps around main's C interface.
constexpr llvm::StringLiteral kPackedEntry = "_mlir__mlir_ciface_main";

// memref.copy between strided views calls memrefCopy from MLIR's runtime.
const std::string &runnerUtilsLibrary() {
  static const std::string path =
      std::string(GRACEFUL_MLIR_LIBRARY_DIR) + "/libmlir_c_runner_utils.so";
  return path;
}

llvm::orc::SymbolMap runtimeSymbolMap(llvm::orc::MangleAndInterner &interner) {
  llvm::orc::SymbolMap symbols;
  for (const auto &[name, address] : runtimeSymbols())
    symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                               llvm::JITSymbolFlags::Exported};
  return symbols;
}

// Links an object file from the cache the way ExecutionEngine links the
// code it compiles: RuntimeDyld, this process's symbols, MLIR's runner
// utilities and our runtime functions.
llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
loadObject(std::unique_ptr<llvm::MemoryBuffer> object) {
  auto jit = llvm::orc::LLJITBuilder()
                 .setObjectLinkingLayerCreator(
                     [](llvm::orc::ExecutionSession &session, const llvm::Triple &) {
                       return std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(
                           session, [] { return std::make_unique<llvm::SectionMemoryManager>(); });
                     })
                 .create();
  if (!jit)
    return jit.takeError();
  llvm::orc::JITDylib &library = (*jit)->getMainJITDylib();
  char prefix = (*jit)->getDataLayout().getGlobalPrefix();
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(prefix);
  if (!process)
    return process.takeError();
  library.addGenerator(std::move(*process));
  auto runner =
      llvm::orc::DynamicLibrarySearchGenerator::Load(runnerUtilsLibrary().c_str(), prefix);
  if (!runner)
    return runner.takeError();
  library.addGenerator(std::move(*runner));
  llvm::orc::MangleAndInterner interner((*jit)->getExecutionSession(), (*jit)->getDataLayout());
  if (llvm::Error error = library.define(llvm::orc::absoluteSymbols(runtimeSymbolMap(interner))))
    return error;
  if (llvm::Error error = (*jit)->addObjectFile(std::move(object)))
    return error;
  return std::move(*jit);
}

} // namespace

std::string defaultCompileCacheDirectory() {
  const char *root = std::getenv("GRACEFUL_CACHE");
  if (root && std::string(root) == "off")
    return "";
  if (root && *root)
    return std::string(root) + "/compiled";
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/graceful/compiled";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/graceful/compiled";
  return "";
}

struct CompiledModel::State {
  std::unique_ptr<ExecutionEngine> engine;  // code compiled in this process
  std::unique_ptr<llvm::orc::LLJIT> loaded; // code read back from the cache
  void (*entry)(void **) = nullptr;
  std::vector<TensorSpec> inputs, outputs;
  std::vector<std::optional<Tensor>> fixed; // per input: the value built in
};

namespace {

// The outputs' shapes, built into the compiled code as a global so that
// code loaded from the cache needs no import to know them:
// [outputs, rank, dims..., rank, dims..., ...].
constexpr llvm::StringLiteral kOutputShapes = "graceful_output_shapes";

void recordOutputShapes(ModuleOp module, const std::vector<TensorSpec> &outputs) {
  std::vector<int64_t> encoded{static_cast<int64_t>(outputs.size())};
  for (const TensorSpec &output : outputs) {
    encoded.push_back(static_cast<int64_t>(output.shape.size()));
    encoded.insert(encoded.end(), output.shape.begin(), output.shape.end());
  }
  module.getContext()->getOrLoadDialect<memref::MemRefDialect>();
  auto builder = OpBuilder::atBlockBegin(module.getBody());
  int64_t size = static_cast<int64_t>(encoded.size());
  builder.create<memref::GlobalOp>(
      module.getLoc(), kOutputShapes, /*sym_visibility=*/StringAttr(),
      MemRefType::get({size}, builder.getI64Type()),
      DenseIntElementsAttr::get(RankedTensorType::get({size}, builder.getI64Type()),
                                llvm::ArrayRef(encoded)),
      /*constant=*/true, /*alignment=*/IntegerAttr());
}

// Fills in `outputs`' shapes from what recordOutputShapes wrote; false when
// it does not describe these outputs.
bool readOutputShapes(const int64_t *encoded, std::vector<TensorSpec> &outputs) {
  constexpr int64_t kMaxRank = 64;
  if (encoded[0] != static_cast<int64_t>(outputs.size()))
    return false;
  const int64_t *next = encoded + 1;
  for (TensorSpec &output : outputs) {
    int64_t rank = *next++;
    if (rank < 0 || rank > kMaxRank ||
        std::any_of(next, next + rank, [](int64_t d) { return d < 0; }))
      return false;
    output.shape.assign(next, next + rank);
    next += rank;
  }
  return true;
}

// For compiler developers: with GRACEFUL_TIMING set, how long each phase
// of a compile took (and, for the lowering, each pass) goes to stderr.
bool timingRequested() {
  const char *timing = std::getenv("GRACEFUL_TIMING");
  return timing != nullptr && *timing;
}

class PhaseTimer {
public:
  explicit PhaseTimer(const char *phase)
      : phase_(phase), start_(std::chrono::steady_clock::now()) {}
  ~PhaseTimer() {
    if (timingRequested())
      llvm::errs()
          << "graceful: " << phase_ << " took "
          << llvm::format(
                 "%.3f",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count())
          << " s\n";
  }

private:
  const char *phase_;
  std::chrono::steady_clock::time_point start_;
};

// Lowers the imported module to LLVM and JIT-compiles it into `state`;
// with a non-empty `objectPath` the object code is also written there.
llvm::Error compileModule(ModuleOp module, const std::string &onnxPath,
                          const std::string &diagnostic, const std::string &objectPath,
                          CompiledModel::State &state) {
  {
    PhaseTimer timer("lowering");
    PassManager manager(module.getContext());
    if (failed(parsePassPipeline(kLoweringPipeline, manager)))
      return makeError(ErrorKind::BadInput, "internal: the lowering pipeline does not parse");
    if (timingRequested())
      manager.enableTiming();
    if (failed(manager.run(module)))
      return makeError(ErrorKind::BadInput,
                       onnxPath + ": " + (diagnostic.empty() ? "lowering failed" : diagnostic));
  }
  PhaseTimer timer("LLVM code generation");

  // Without a target machine LLVM's cost models see no vector registers and
  // its vectorizers leave every loop the JIT emits scalar; the host's lets
  // them use its AVX2 or AVX-512 (code generation targets the host anyway).
  // One per compile: a TargetMachine caches subtargets without a lock.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return makeError(ErrorKind::BadInput, "internal: no target for this host: " +
                                              llvm::toString(machineBuilder.takeError()));
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return makeError(ErrorKind::BadInput, "internal: no target machine for this host: " +
                                              llvm::toString(machine.takeError()));
  // -O2: with the target's vectors, -O3's extra unrolling took twice as long
  // (transformer encoder at batch 8: 2.9 against 1.4 s) for slower code.
  // The options hold a function_ref: the transformer must outlive create().
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(2, 0, machine->get());
  // For compiler developers: the lowered module, as the JIT receives it.
  if (const char *dump = std::getenv("GRACEFUL_DUMP_LOWERED"); dump != nullptr && *dump) {
    std::error_code ec;
    llvm::raw_fd_ostream out(dump, ec);
    if (!ec)
      module->print(out, OpPrintingFlags().elideLargeElementsAttrs(8));
  }
  ExecutionEngineOptions options;
  options.transformer = optimize;
  options.enableObjectDump = !objectPath.empty();
  static const llvm::StringRef libraries[] = {runnerUtilsLibrary()};
  options.sharedLibPaths = libraries;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine)
    return makeError(ErrorKind::BadInput,
                     onnxPath + ": JIT compilation failed: " + llvm::toString(engine.takeError()));
  state.engine = std::move(*engine);
  state.engine->registerSymbols(
      [](llvm::orc::MangleAndInterner interner) { return runtimeSymbolMap(interner); });
  auto entry = state.engine->lookupPacked("_mlir_ciface_main");
  if (!entry)
    return makeError(ErrorKind::BadInput,
                     onnxPath + ": JIT compilation failed: " + llvm::toString(entry.takeError()));
  state.entry = *entry;
  if (!objectPath.empty())
    state.engine->dumpToObjectFile(objectPath);
  return llvm::Error::success();
}

// Code for `key` from the cache, linked and ready, or null (absent, or not
// loadable: then it is compiled afresh and the entry replaced).
bool loadCached(const CompileCache &cache, const std::string &key, CompiledModel::State &state) {
  auto object = cache.find(key);
  if (!object)
    return false;
  auto jit = loadObject(std::move(object));
  if (!jit) {
    llvm::consumeError(jit.takeError());
    return false;
  }
  auto entry = (*jit)->lookup(kPackedEntry);
  if (!entry) {
    llvm::consumeError(entry.takeError());
    return false;
  }
  auto shapes = (*jit)->lookup(kOutputShapes);
  if (!shapes) {
    llvm::consumeError(shapes.takeError());
    return false;
  }
  if (!readOutputShapes(shapes->toPtr<const int64_t *>(), state.outputs))
    return false;
  state.loaded = std::move(*jit);
  state.entry = entry->toPtr<void (*)(void **)>();
  return true;
}

// Stores the object the compiler dumped; the cache is an optimization, so
// a directory that cannot be written only costs the next compile.
void storeCompiled(const CompileCache &cache, const std::string &key,
                   const std::string &objectPath) {
  auto object = llvm::MemoryBuffer::getFile(objectPath, false, false);
  if (object)
    llvm::consumeError(cache.store(key, (*object)->getBuffer()));
  std::error_code ignored;
  std::filesystem::remove(objectPath, ignored);
}

} // namespace

CompiledModel::CompiledModel(std::unique_ptr<State> state) : state_(std::move(state)) {}
CompiledModel::~CompiledModel() = default;
const std::vector<TensorSpec> &CompiledModel::inputs() const { return state_->inputs; }
const std::vector<TensorSpec> &CompiledModel::outputs() const { return state_->outputs; }
bool CompiledModel::loadedFromCache() const { return state_->loaded != nullptr; }

size_t CompileOptions::fixShapeInputs(const ModelSignature &signature,
                                      const std::vector<Tensor> &inputs) {
  size_t fixed = 0;
  for (size_t i = 0; i < inputs.size() && i < signature.inputs.size(); ++i)
    // An empty one is left out: ONNX 1.12's data propagation reads past
    // the end of an empty shape broadcast against one of size 1 (an Add).
    if (inputs[i].dtype == DType::Int64 && inputs[i].elementCount() > 0 &&
        inputs[i].elementCount() <= kShapeInputElements) {
      fixedInputs[signature.inputs[i].name] = inputs[i];
      ++fixed;
    }
  return fixed;
}

llvm::Error specializeInputShapes(onnx::ModelProto &model,
                                  const std::vector<std::vector<int64_t>> &inputShapes,
                                  const std::string &source) {
  auto signature = signatureOf(model, source);
  if (!signature)
    return signature.takeError();
  return specialize(model, signature->inputs, inputShapes, source);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::compile(const std::string &onnxPath,
                       const std::vector<std::vector<int64_t>> &inputShapes,
                       const CompileOptions &options) {
  auto loaded = loadModel(onnxPath);
  if (!loaded)
    return loaded.takeError();
  return compile(*loaded, inputShapes, options);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::compile(const LoadedModel &model,
                       const std::vector<std::vector<int64_t>> &inputShapes,
                       const CompileOptions &options) {
  return compileModel(*model.proto, model.path, inputShapes, options, model.digest);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::compileModel(onnx::ModelProto model, const std::string &sourceName,
                            const std::vector<std::vector<int64_t>> &inputShapes,
                            const CompileOptions &options, const std::string &digest) {
  // Taken before the model moves on (a moved-from model serializes empty,
  // which would key every such model alike), and only for a cache.
  std::string key = digest.empty() && !options.cacheDirectory.empty()
                        ? sha256Digest(model.SerializeAsString())
                        : digest;
  return compileLoaded(std::move(model), sourceName, inputShapes, options, key);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::compileLoaded(onnx::ModelProto model, const std::string &onnxPath,
                             const std::vector<std::vector<int64_t>> &inputShapes,
                             const CompileOptions &options, const std::string &digest) {
  initializeOnce();
  auto signature = signatureOf(model, onnxPath);
  if (!signature)
    return signature.takeError();
  if (llvm::Error error = specialize(model, signature->inputs, inputShapes, onnxPath))
    return error;
  if (llvm::Error error = fixInputs(model, options.fixedInputs, onnxPath))
    return error;

  auto state = std::make_unique<State>();
  for (size_t i = 0; i < signature->inputs.size(); ++i) {
    auto it = options.fixedInputs.find(signature->inputs[i].name);
    state->fixed.push_back(it == options.fixedInputs.end() ? std::nullopt
                                                           : std::optional<Tensor>(it->second));
  }
  // Inputs take the shapes asked for (fixed ones, their values' shapes), so
  // the cache is consulted before anything is imported.
  state->inputs = signature->inputs;
  for (size_t i = 0; i < state->inputs.size(); ++i)
    state->inputs[i].shape = state->fixed[i] ? state->fixed[i]->shape : inputShapes[i];
  state->outputs = signature->outputs;
  std::string key, objectPath;
  CompileCache cache(options.cacheDirectory, options.cacheLimitBytes);
  if (!options.cacheDirectory.empty())
    key = compileCacheKey(digest, state->inputs, state->fixed);
  if (!key.empty()) {
    if (loadCached(cache, key, *state))
      return std::unique_ptr<CompiledModel>(new CompiledModel(std::move(state)));
    objectPath = options.cacheDirectory + "/" + key + ".dump." + std::to_string(getpid());
    if (llvm::Error error = createDirectories(options.cacheDirectory)) {
      llvm::consumeError(std::move(error));
      objectPath.clear();
    }
  }

  MLIRContext context(jitRegistry());
  std::string diagnostic;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error && diagnostic.empty())
      diagnostic = d.str();
    return success();
  });
  auto module = [&] {
    PhaseTimer timer("import");
    return importOnnxModel(std::move(model), onnxPath, context);
  }();
  if (!module)
    return module.takeError();
  if (llvm::Error error = checkStaticShapes(**module, onnxPath))
    return error;
  auto function = (*module)->lookupSymbol<func::FuncOp>("main");
  for (auto [index, type] : llvm::enumerate(function.getResultTypes()))
    state->outputs[index].shape.assign(cast<RankedTensorType>(type).getShape().begin(),
                                       cast<RankedTensorType>(type).getShape().end());
  recordOutputShapes(**module, state->outputs);
  if (llvm::Error error = compileModule(**module, onnxPath, diagnostic, objectPath, *state))
    return error;
  if (!objectPath.empty())
    storeCompiled(cache, key, objectPath);
  return std::unique_ptr<CompiledModel>(new CompiledModel(std::move(state)));
}

llvm::Expected<std::vector<Tensor>> CompiledModel::run(const std::vector<Tensor> &inputs) {
  if (inputs.size() != state_->inputs.size())
    return makeError(ErrorKind::BadInput, "the model takes " +
                                              std::to_string(state_->inputs.size()) +
                                              " inputs, got " + std::to_string(inputs.size()));
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &spec = state_->inputs[i];
    if (inputs[i].dtype != spec.dtype || inputs[i].shape != spec.shape) {
      Tensor expected{spec.dtype, spec.shape, {}};
      return makeError(ErrorKind::BadInput, "input '" + spec.name + "' must be " +
                                                expected.describe() + ", got " +
                                                inputs[i].describe());
    }
    if (state_->fixed[i]) {
      if (state_->fixed[i]->bytes != inputs[i].bytes)
        return makeError(ErrorKind::BadInput, "input '" + spec.name +
                                                  "' was built into the compiled code with "
                                                  "other values; compile again for these");
      continue;
    }
    descriptors.push_back(
        descriptorFor(const_cast<char *>(inputs[i].bytes.data()), inputs[i].shape));
  }
  for (const TensorSpec &spec : state_->outputs) {
    outputs.push_back(makeTensor(spec.dtype, spec.shape));
    descriptors.push_back(descriptorFor(outputs.back().bytes.data(), spec.shape));
  }
  std::vector<void *> pointers, arguments;
  for (auto &descriptor : descriptors)
    pointers.push_back(descriptor.data());
  for (void *&pointer : pointers)
    arguments.push_back(&pointer);
  state_->entry(arguments.data());
  if (std::optional<std::string> fault = takeRunFault())
    return makeError(ErrorKind::BadInput, *fault);
  return outputs;
}

llvm::Expected<std::vector<Tensor>>
runBatched(const std::string &onnxPath, const std::vector<Tensor> &inputs, int64_t batchSize,
           const std::function<void(int64_t, int64_t)> &progress, const CompileOptions &options) {
  auto loaded = loadModel(onnxPath);
  if (!loaded)
    return loaded.takeError();
  return runBatched(*loaded, inputs, batchSize, progress, options);
}

llvm::Expected<std::vector<Tensor>>
runBatched(const LoadedModel &loaded, const std::vector<Tensor> &inputs, int64_t batchSize,
           const std::function<void(int64_t, int64_t)> &progress, const CompileOptions &options) {
  if (inputs.empty() || inputs[0].shape.empty())
    return makeError(ErrorKind::BadInput, "runBatched needs inputs with a sample axis");
  int64_t total = inputs[0].shape[0];
  for (const Tensor &tensor : inputs)
    if (tensor.shape.empty() || tensor.shape[0] != total)
      return makeError(ErrorKind::BadInput, "every input must have " + std::to_string(total) +
                                                " samples along its first axis, got " +
                                                tensor.describe());
  std::map<int64_t, std::unique_ptr<CompiledModel>> compiled;
  std::vector<Tensor> outputs;
  for (int64_t start = 0; start < total; start += batchSize) {
    int64_t count = std::min(batchSize, total - start);
    std::vector<Tensor> batch;
    std::vector<std::vector<int64_t>> shapes;
    for (const Tensor &tensor : inputs) {
      std::vector<int64_t> shape = tensor.shape;
      shape[0] = count;
      Tensor slice = makeTensor(tensor.dtype, shape);
      size_t rowBytes = slice.bytes.size() / static_cast<size_t>(count);
      std::memcpy(slice.bytes.data(), tensor.bytes.data() + static_cast<size_t>(start) * rowBytes,
                  slice.bytes.size());
      shapes.push_back(shape);
      batch.push_back(std::move(slice));
    }
    auto &model = compiled[count];
    if (!model) {
      auto fresh = CompiledModel::compile(loaded, shapes, options);
      if (!fresh)
        return fresh.takeError();
      model = std::move(*fresh);
    }
    auto results = model->run(batch);
    if (!results)
      return results.takeError();
    if (outputs.empty())
      for (const Tensor &result : *results) {
        std::vector<int64_t> shape = result.shape;
        shape[0] = total;
        outputs.push_back(makeTensor(result.dtype, shape));
      }
    for (size_t o = 0; o < results->size(); ++o) {
      size_t rowBytes = outputs[o].bytes.size() / static_cast<size_t>(total);
      std::memcpy(outputs[o].bytes.data() + static_cast<size_t>(start) * rowBytes,
                  (*results)[o].bytes.data(), (*results)[o].bytes.size());
    }
    if (progress)
      progress(start + count, total);
  }
  return outputs;
}

} // namespace graceful::compiler
