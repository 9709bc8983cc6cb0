#include "RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace graceful::compiler {

using namespace mlir;

namespace {

MemRefType anyLayout(MemRefType type) {
  int64_t dynamic = ShapedType::kDynamic;
  SmallVector<int64_t> sizes(type.getRank(), dynamic);
  return MemRefType::get(sizes, type.getElementType(),
                         StridedLayoutAttr::get(type.getContext(), dynamic, sizes));
}

FloatAttr floatConstant(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  return constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
}

bool isZero(Value value) {
  FloatAttr number = floatConstant(value);
  return number && number.getValue().isPosZero();
}

bool yieldsZero(Block &body) {
  Operation *yield = body.getTerminator();
  return yield->getNumOperands() == 1 && isZero(yield->getOperand(0));
}

// True when `op` or an op nested in it has an operand viewing `root` for
// which `matches(nested op, operand)` holds.
bool anyUseOf(Operation *op, Value root, llvm::function_ref<bool(Operation *, Value)> matches) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (isa<BaseMemRefType>(operand.getType()) && rootBuffer(operand) == root &&
          matches(nested, operand))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

// True when `op` or an op nested in it has an operand viewing `root`.
bool touches(Operation *op, Value root) {
  return anyUseOf(op, root, [](Operation *, Value) { return true; });
}

// True when `op` uses a view of `root` other than to make another view
// (views only name a buffer; they neither read nor write it).
bool usesBuffer(Operation *op, Value root) {
  return !isa<ViewLikeOpInterface>(op) && touches(op, root);
}

// True when no op strictly between `first` and `last` (one block) uses
// `root` (see usesBuffer).
bool untouchedBetween(Operation *first, Operation *last, Value root) {
  for (Operation *op = first->getNextNode(); op != last; op = op->getNextNode())
    if (usesBuffer(op, root))
      return false;
  return true;
}

// Whether `output`, a view of a statically shaped buffer, covers all of it.
bool coversRootBuffer(Value output) {
  auto rootType = dyn_cast<MemRefType>(rootBuffer(output).getType());
  auto outputType = dyn_cast<MemRefType>(output.getType());
  return rootType && outputType && rootType.hasStaticShape() && outputType.hasStaticShape() &&
         rootType.getNumElements() == outputType.getNumElements();
}

std::optional<float> constantFloat(Value value) {
  FloatAttr number = floatConstant(value);
  if (!number || !number.getType().isF32())
    return std::nullopt;
  return number.getValue().convertToFloat();
}

// A buffer itself rather than a view of one, of static shape and the
// identity layout.
bool isWholeBuffer(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  return type && type.hasStaticShape() && type.getLayout().isIdentity() &&
         rootBuffer(value) == value;
}

// An f32 linalg.generic of parallel loops and identity maps whose operands
// are whole buffers of one type.
bool isElementwiseOnBuffers(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != op.getNumParallelLoops() ||
      op.getNumDpsInits() != 1)
    return false;
  Type type = op.getDpsInits()[0].getType();
  return cast<MemRefType>(type).getElementType().isF32() &&
         llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) { return map.isIdentity(); }) &&
         llvm::all_of(op->getOperands(),
                      [&](Value v) { return v.getType() == type && isWholeBuffer(v); });
}

// What an elementwise op computes from a kernel's output `root`, when a
// kernel can do it: clamp(root + addend) or clamp(root), where the clamp
// is as Clip and Relu lower, select(x < low, low, select(x > high, high, x))
// with either side possibly absent.
struct FollowerForm {
  Value addend; // null: no Add
  std::optional<std::pair<float, float>> bounds;
};

std::optional<FollowerForm> formOf(linalg::GenericOp op, Value root) {
  Block &body = *op.getBody();
  Value value = body.getTerminator()->getOperand(0);
  float low = -std::numeric_limits<float>::infinity();
  float high = std::numeric_limits<float>::infinity();
  SmallVector<Value> compared; // what each peeled select tests
  // select(x PREDICATE bound, bound, rest): `bound` is set and value becomes rest.
  auto peel = [&](arith::CmpFPredicate predicate, float &bound) {
    auto select = value.getDefiningOp<arith::SelectOp>();
    auto compare = select ? select.getCondition().getDefiningOp<arith::CmpFOp>() : nullptr;
    if (!compare || compare.getPredicate() != predicate)
      return false;
    std::optional<float> limit = constantFloat(compare.getRhs());
    std::optional<float> chosen = constantFloat(select.getTrueValue());
    if (!limit || !chosen || *limit != *chosen)
      return false;
    bound = *limit;
    compared.push_back(compare.getLhs());
    value = select.getFalseValue();
    return true;
  };
  bool lower = peel(arith::CmpFPredicate::OLT, low);
  bool upper = peel(arith::CmpFPredicate::OGT, high);
  if (!llvm::all_of(compared, [&](Value x) { return x == value; }))
    return std::nullopt;
  FollowerForm form;
  if (lower || upper)
    form.bounds = std::make_pair(low, high);
  ValueRange inputs = op.getDpsInputs();
  if (inputs.size() == 1 && inputs[0] == root && value == body.getArgument(0) && form.bounds)
    return form;
  auto sum = value.getDefiningOp<arith::AddFOp>();
  if (inputs.size() != 2 || !sum || (inputs[0] == root) == (inputs[1] == root))
    return std::nullopt;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1);
  if (!((sum.getLhs() == in0 && sum.getRhs() == in1) ||
        (sum.getLhs() == in1 && sum.getRhs() == in0)))
    return std::nullopt;
  form.addend = inputs[0] == root ? inputs[1] : inputs[0];
  return form;
}

// True when `root` is an alloc of `op`'s block that nothing after `op`
// uses except to free it.
bool diesAt(Operation *op, Value root) {
  auto alloc = root.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != op->getBlock())
    return false;
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode())
    if (!isa<memref::DeallocOp>(next) && usesBuffer(next, root))
      return false;
  return true;
}

// True when `buffer` dominates `op` or is an operand-free alloc later in
// `op`'s block, which makeAvailableAt moves up.
bool canBeAvailableAt(Value buffer, Operation *op) {
  if (DominanceInfo().properlyDominates(buffer, op))
    return true;
  auto alloc = buffer.getDefiningOp<memref::AllocOp>();
  return alloc && alloc->getNumOperands() == 0 && alloc->getBlock() == op->getBlock();
}

void makeAvailableAt(Value buffer, Operation *op) {
  if (!DominanceInfo().properlyDominates(buffer, op))
    buffer.getDefiningOp()->moveBefore(op);
}

// `view` rebuilt on `buffer` in place of its root: its chain of views,
// cloned at the builder's position.
Value viewOn(OpBuilder &builder, Value view, Value buffer) {
  SmallVector<Operation *> chain;
  for (Value v = view; auto op = v.getDefiningOp<ViewLikeOpInterface>();) {
    chain.push_back(op);
    v = op.getViewSource();
  }
  IRMapping mapping;
  mapping.map(rootBuffer(view), buffer);
  Value result = buffer;
  for (Operation *op : llvm::reverse(chain))
    result = builder.clone(*op, mapping)->getResult(0);
  return result;
}

// True when the kernel can write `target`, a whole buffer of its output
// buffer's type that `follower` wrote from that output, instead: nothing in
// between uses `target`, the output buffer dies at `follower`, and the
// kernel does not read `target` (unless it may write that input).
bool canRedirect(Operation *kernel, Operation *follower, ValueRange inputs, bool mayWriteInput,
                 Value output, Value target) {
  Value root = rootBuffer(output);
  if (target.getType() != root.getType() || !untouchedBetween(kernel, follower, target) ||
      !diesAt(follower, root) || !canBeAvailableAt(target, kernel))
    return false;
  return llvm::none_of(inputs, [&](Value input) {
    return rootBuffer(input) == target &&
           !(mayWriteInput && input == target && input.getType() == output.getType());
  });
}

void redirect(OpBuilder &builder, Operation *kernel, Epilogue &epilogue, Value target) {
  makeAvailableAt(target, kernel);
  builder.setInsertionPoint(kernel);
  epilogue.output = viewOn(builder, epilogue.output, target);
}

// A kernel accumulating onto its output starts from what the last op before
// it wrote there (a bias broadcast, or a copy of a residual Add's other
// buffer). That op can write `target` instead when it writes all of the
// output buffer `root` without reading it and nothing between it and the
// kernel uses `target`, it does not read `target` (writing there, it would
// read what it writes), and the kernel does not read `root` (a kernel that
// writes over its input: that op then writes the input itself).
Operation *movableBaseWriter(Operation *kernel, ValueRange inputs, Value root, Value target) {
  if (llvm::any_of(inputs, [&](Value input) { return rootBuffer(input) == root; }))
    return nullptr;
  Operation *writer = lastUseBefore(kernel, root);
  auto generic = dyn_cast_or_null<linalg::GenericOp>(writer);
  auto copy = dyn_cast_or_null<memref::CopyOp>(writer);
  SmallVector<Value> reads;
  if (generic && generic.hasPureBufferSemantics() && overwrites(generic, root))
    reads = generic.getDpsInputs();
  else if (copy && copy.getTarget() == root && rootBuffer(copy.getSource()) != root)
    reads = {copy.getSource()};
  else
    return nullptr;
  if (llvm::any_of(reads, [&](Value read) { return rootBuffer(read) == rootBuffer(target); }) ||
      !untouchedBetween(writer, kernel, target) || !canBeAvailableAt(target, writer))
    return nullptr;
  return writer;
}

// Makes `writer` (see movableBaseWriter) write `target` instead.
void retarget(Operation *writer, Value target) {
  makeAvailableAt(target, writer);
  if (auto copy = dyn_cast<memref::CopyOp>(writer))
    copy.getTargetMutable().assign(target);
  else
    cast<linalg::GenericOp>(writer).getDpsInitsMutable()[0].set(target);
}

// Rebuilds `writer` (see movableBaseWriter) to write what it wrote plus
// `addend` into `target`.
void addToBaseWriter(OpBuilder &builder, linalg::GenericOp writer, Value addend, Value target) {
  makeAvailableAt(target, writer);
  builder.setInsertionPoint(writer);
  SmallVector<Value> inputs(writer.getDpsInputs());
  inputs.push_back(addend);
  SmallVector<AffineMap> maps = writer.getIndexingMapsArray();
  maps.insert(maps.end() - 1, builder.getMultiDimIdentityMap(writer.getNumLoops()));
  Block &body = *writer.getBody();
  builder.create<linalg::GenericOp>(
      writer.getLoc(), TypeRange{}, inputs, ValueRange{target}, maps,
      writer.getIteratorTypesArray(), [&](OpBuilder &nested, Location loc, ValueRange args) {
        IRMapping mapping;
        for (unsigned i = 0; i < writer.getNumDpsInputs(); ++i)
          mapping.map(body.getArgument(i), args[i]);
        mapping.map(body.getArguments().back(), args.back());
        for (Operation &op : body.without_terminator())
          nested.clone(op, mapping);
        Value value = mapping.lookupOrDefault(body.getTerminator()->getOperand(0));
        Value sum = nested.create<arith::AddFOp>(loc, value, args[args.size() - 2]);
        nested.create<linalg::YieldOp>(loc, sum);
      });
  writer->erase();
}

// The kernel writing all of `epilogue.output`'s buffer.
bool writesWholeBuffer(const Epilogue &epilogue) {
  return coversRootBuffer(epilogue.output) && isWholeBuffer(rootBuffer(epilogue.output));
}

} // namespace

std::optional<ZeroPadding> zeroPaddingOf(Value padded, Operation *consumer, Operation *kernel,
                                         Value kernelOutput) {
  auto alloc = padded.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != consumer->getBlock() ||
      kernel->getBlock() != consumer->getBlock())
    return std::nullopt;
  Operation *fill = nullptr, *dealloc = nullptr;
  memref::SubViewOp interior;
  memref::CopyOp copy;
  for (Operation *user : alloc->getUsers()) {
    auto subview = dyn_cast<memref::SubViewOp>(user);
    if (user == consumer)
      continue;
    if (isa<memref::DeallocOp>(user) && !dealloc)
      dealloc = user;
    else if (zeroFills(user, padded) && !fill)
      fill = user;
    else if (subview && !interior && subview->hasOneUse() &&
             isa<memref::CopyOp>(*subview->getUsers().begin()))
      interior = subview, copy = cast<memref::CopyOp>(*subview->getUsers().begin());
    else
      return std::nullopt;
  }
  if (!fill || !interior || !dealloc || copy.getTarget() != interior.getResult() ||
      fill->getBlock() != consumer->getBlock() || copy->getBlock() != consumer->getBlock() ||
      !fill->isBeforeInBlock(copy) || !copy->isBeforeInBlock(consumer) ||
      kernel->isBeforeInBlock(consumer))
    return std::nullopt;
  auto offsets = interior.getStaticOffsets();
  if (offsets.size() != 4 || offsets[0] != 0 || offsets[1] != 0 ||
      ShapedType::isDynamic(offsets[2]) || ShapedType::isDynamic(offsets[3]) ||
      !llvm::all_of(interior.getStaticStrides(), [](int64_t s) { return s == 1; }))
    return std::nullopt;
  Value source = copy.getSource(), root = rootBuffer(source);
  if (rootBuffer(kernelOutput) == root)
    return std::nullopt;
  if (mayChangeBetween(copy, kernel, root))
    return std::nullopt;
  return ZeroPadding{source, offsets[2], offsets[3], {copy, interior, fill, dealloc, alloc}};
}

Epilogue fuseEpilogue(OpBuilder &builder, Operation *kernel, ValueRange inputs, Epilogue epilogue,
                      bool mayWriteInput) {
  OpBuilder::InsertionGuard guard(builder);
  while (writesWholeBuffer(epilogue)) {
    Value root = rootBuffer(epilogue.output);
    auto follower = dyn_cast_or_null<linalg::GenericOp>(nextUseOf(kernel, root));
    if (!follower || follower->getBlock() != kernel->getBlock() ||
        !isElementwiseOnBuffers(follower))
      break;
    std::optional<FollowerForm> form = formOf(follower, root);
    if (!form)
      break;
    Value target = follower.getDpsInits()[0];
    // A kernel may write over its input only when nothing writes its output
    // before it runs: a base writer moved to the target would overwrite the
    // input before the kernel reads it.
    bool mayWriteInputNow = mayWriteInput && !epilogue.accumulate;
    if (form->addend) {
      // A residual Add: the other buffer, copied into the target unless it
      // is the target, becomes the base the kernel accumulates onto. An
      // accumulating kernel's own base (a bias broadcast) takes the Add in.
      Value addend = form->addend;
      bool inPlace = addend == target;
      linalg::GenericOp baseWriter;
      if (epilogue.accumulate && (!(baseWriter = dyn_cast_or_null<linalg::GenericOp>(
                                        movableBaseWriter(kernel, inputs, root, target))) ||
                                  !DominanceInfo().properlyDominates(addend, baseWriter) ||
                                  !untouchedBetween(baseWriter, kernel, addend)))
        break;
      if (!DominanceInfo().properlyDominates(addend, kernel) ||
          !untouchedBetween(kernel, follower, addend) ||
          (target != root && !canRedirect(kernel, follower, inputs, mayWriteInputNow && inPlace,
                                          epilogue.output, target)))
        break;
      if (target != root)
        redirect(builder, kernel, epilogue, target);
      if (baseWriter) {
        addToBaseWriter(builder, baseWriter, addend, target);
      } else if (!inPlace) {
        builder.setInsertionPoint(kernel);
        builder.create<memref::CopyOp>(follower.getLoc(), addend, target);
      }
      epilogue.accumulate = true;
    } else if (target != root) {
      // A clamp alone. An accumulating kernel's base moves with its output.
      Operation *baseWriter = nullptr;
      if ((epilogue.accumulate &&
           !(baseWriter = movableBaseWriter(kernel, inputs, root, target))) ||
          !canRedirect(kernel, follower, inputs, mayWriteInputNow, epilogue.output, target))
        break;
      if (baseWriter)
        retarget(baseWriter, target);
      redirect(builder, kernel, epilogue, target);
    }
    follower->erase();
    if (form->bounds) {
      std::tie(epilogue.low, epilogue.high) = *form->bounds;
      break; // a clamp ends what the kernel can take over
    }
  }
  return epilogue;
}

Value rootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

bool zeroFills(Operation *op, Value buffer) {
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return fill.getDpsInits()[0] == buffer && isZero(fill.getDpsInputs()[0]);
  if (auto map = dyn_cast<linalg::MapOp>(op))
    return map.getInputs().empty() && map.getInit() == buffer &&
           yieldsZero(map.getMapper().front());
  auto generic = dyn_cast<linalg::GenericOp>(op);
  return generic && generic.getNumDpsInputs() == 0 && generic.getNumDpsInits() == 1 &&
         generic.getDpsInits()[0] == buffer && generic.getIndexingMapsArray()[0].isIdentity() &&
         yieldsZero(*generic.getBody());
}

bool mayChange(Operation *op, Value root) {
  return anyUseOf(op, root, [](Operation *nested, Value operand) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    return !effects || effects.getEffectOnValue<MemoryEffects::Write>(operand) ||
           effects.getEffectOnValue<MemoryEffects::Free>(operand);
  });
}

bool mayChangeBetween(Operation *first, Operation *last, Value root) {
  for (Operation *op = first->getNextNode(); op != last; op = op->getNextNode())
    if (mayChange(op, root))
      return true;
  return false;
}

bool overwrites(linalg::GenericOp op, Value buffer) {
  return op.getNumDpsInits() == 1 && op.getDpsInits()[0] == buffer &&
         op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity() &&
         !op.payloadUsesValueFromOperand(op.getDpsInitOperand(0)) &&
         llvm::none_of(op.getDpsInputs(), [&](Value in) { return rootBuffer(in) == buffer; });
}

bool eraseZeroFillBefore(Operation *op, Value output) {
  Value root = rootBuffer(output);
  if (!coversRootBuffer(output))
    return false;
  Operation *previous = lastUseBefore(op, root);
  if (!previous || !zeroFills(previous, root))
    return false;
  previous->erase();
  return true;
}

std::optional<Value> eraseChannelBiasBefore(Operation *op, Value output) {
  // The kernel's output itself, not a view: a view may number the dims
  // otherwise, and the writer's dim 1 would not be the kernel's channels.
  Value root = rootBuffer(output);
  if (output != root || !isWholeBuffer(output))
    return std::nullopt;
  auto writer = dyn_cast_or_null<linalg::GenericOp>(lastUseBefore(op, root));
  if (!writer || !writer.hasPureBufferSemantics() || !overwrites(writer, root) ||
      writer.getNumDpsInputs() != 1 || writer.getNumLoops() < 2 ||
      writer.getNumLoops() != writer.getNumParallelLoops())
    return std::nullopt;
  Value bias = writer.getDpsInputs()[0];
  MLIRContext *context = writer.getContext();
  AffineMap channel = AffineMap::get(writer.getNumLoops(), 0, getAffineDimExpr(1, context));
  auto yield = cast<linalg::YieldOp>(writer.getBody()->getTerminator());
  if (!isF32Buffer(bias, 1) || writer.getIndexingMapsArray()[0] != channel ||
      &writer.getBody()->front() != yield.getOperation() ||
      yield.getOperand(0) != writer.getBody()->getArgument(0) ||
      mayChangeBetween(writer, op, rootBuffer(bias)))
    return std::nullopt;
  writer->erase();
  return bias;
}

Operation *nextUseOf(Operation *op, Value root) {
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode())
    if (usesBuffer(next, root))
      return next;
  return nullptr;
}

Operation *lastUseBefore(Operation *op, Value root) {
  for (Operation *previous = op->getPrevNode(); previous; previous = previous->getPrevNode())
    if (usesBuffer(previous, root))
      return previous;
  return nullptr;
}

bool isF32Buffer(Value value, int64_t rank) {
  auto type = dyn_cast<MemRefType>(value.getType());
  return type && type.getElementType().isF32() && type.getRank() == rank;
}

void callRuntime(OpBuilder &builder, ModuleOp module, Location loc, StringRef name,
                 ValueRange buffers, ArrayRef<int64_t> scalars, ArrayRef<float> reals) {
  SmallVector<Value> operands;
  for (Value buffer : buffers)
    operands.push_back(
        builder.create<memref::CastOp>(loc, anyLayout(cast<MemRefType>(buffer.getType())), buffer));
  for (int64_t scalar : scalars)
    operands.push_back(builder.create<arith::ConstantIntOp>(loc, scalar, 64));
  for (float real : reals)
    operands.push_back(
        builder.create<arith::ConstantFloatOp>(loc, APFloat(real), builder.getF32Type()));
  callRuntime(builder, module, loc, name, operands);
}

void callRuntime(OpBuilder &builder, ModuleOp module, Location loc, StringRef name,
                 ValueRange operands) {
  if (!module.lookupSymbol<func::FuncOp>(name)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    auto callee = builder.create<func::FuncOp>(
        module.getLoc(), name, builder.getFunctionType(ValueRange(operands).getTypes(), {}));
    callee.setPrivate();
    callee->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  }
  builder.create<func::CallOp>(loc, name, TypeRange{}, operands);
}

Epilogue startingEpilogue(Operation *kernel, Value output) {
  return {output, !eraseZeroFillBefore(kernel, output)};
}

void callKernel(OpBuilder &builder, ModuleOp module, Operation *kernel, StringRef name,
                ValueRange inputs, Epilogue start, SmallVector<int64_t> flags, bool mayWriteInput) {
  Epilogue epilogue = fuseEpilogue(builder, kernel, inputs, start, mayWriteInput);
  builder.setInsertionPoint(kernel);
  SmallVector<Value> buffers(inputs);
  buffers.push_back(epilogue.output);
  flags.push_back(epilogue.accumulate ? 1 : 0);
  callRuntime(builder, module, kernel->getLoc(), name, buffers, flags,
              {epilogue.low, epilogue.high});
  kernel->erase();
}

} // namespace graceful::compiler
