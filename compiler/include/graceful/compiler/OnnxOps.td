// The ONNX-level dialect: one op per ONNX node, keeping its op type, domain,
// attributes and name (the op's location), so analysis, rewrites and export
// back to ONNX lose nothing.
#ifndef GRACEFUL_COMPILER_ONNX_OPS
#define GRACEFUL_COMPILER_ONNX_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Onnx_Dialect : Dialect {
  let name = "onnx";
  let summary = "ONNX graphs, one op per node";
  let description = [{
    A graph is a `func.func` whose arguments are the graph inputs and whose
    results are the graph outputs. Initializers are `onnx.constant` ops,
    nodes are `onnx.node` ops, and an omitted optional input is the result
    of `onnx.none`. Model-level facts (IR version, opset imports, producer)
    are attributes of the module.
  }];
  let cppNamespace = "::graceful::compiler::ir";
}

class Onnx_Op<string mnemonic, list<Trait> traits = []> :
    Op<Onnx_Dialect, mnemonic, traits>;

def Onnx_NodeOp : Onnx_Op<"node"> {
  let summary = "one ONNX node";
  let description = [{
    `op_type` and `domain` name the ONNX operator; `onnx_attrs` holds its
    attributes (INT as i64, FLOAT as f32, STRING as string, INTS and FLOATS
    as dense arrays, TENSOR as elements, STRINGS as an array of strings);
    `names` the ONNX names of its outputs. The location is the node's name.
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, StrAttr:$op_type,
                       DefaultValuedStrAttr<StrAttr, "">:$domain,
                       DictionaryAttr:$onnx_attrs,
                       OptionalAttr<StrArrayAttr>:$names);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat = [{
    $op_type `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)
  }];
  let extraClassDeclaration = [{
    // The ONNX node name, from the location.
    std::string nodeName();
    // "node 'NAME' (OpType)", or "node (unnamed) (OpType)", as errors name
    // a node.
    std::string label();
    // Attribute lookups with the ONNX default when absent.
    mlir::Attribute attr(llvm::StringRef name) { return getOnnxAttrs().get(name); }
    int64_t intAttr(llvm::StringRef name, int64_t fallback);
    float floatAttr(llvm::StringRef name, float fallback);
    llvm::SmallVector<int64_t> intsAttr(llvm::StringRef name);
  }];
}

def Onnx_ConstantOp : Onnx_Op<"constant", [Pure, InferTypeOpAdaptor]> {
  let summary = "an ONNX initializer";
  let description = [{
    `name` is the initializer's ONNX name; large values are dense resource
    blobs, so weights are stored once and printed as one hex blob.
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$value);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = "$name `=` $value attr-dict";
}

def Onnx_NoneOp : Onnx_Op<"none", [Pure]> {
  let summary = "an omitted optional input";
  let results = (outs NoneType:$output);
  let assemblyFormat = "attr-dict";
}

#endif // GRACEFUL_COMPILER_ONNX_OPS
