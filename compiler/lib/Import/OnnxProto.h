// Internal: reading the ONNX protobufs themselves (nodes, attributes,
// tensors), shared by the importer, the shape folding and the JIT's staged
// runs, which all work on a ModelProto before or without MLIR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>
#include <onnx/onnx_pb.h>
#include <string>
#include <vector>

namespace graceful::compiler {

// "node 'NAME' (OpType)", or "node (unnamed) (OpType)", as errors name a
// node (NodeOp::label formats the dialect's nodes the same way).
std::string nodeLabel(llvm::StringRef name, llvm::StringRef opType);
std::string labelOf(const onnx::NodeProto &node);

// The node's attribute called `name`, or null.
const onnx::AttributeProto *attributeOf(const onnx::NodeProto &node, const std::string &name);
int64_t intAttribute(const onnx::NodeProto &node, const std::string &name, int64_t fallback);

// Row-major strides of `dims`, in elements.
std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &dims);

// How many elements `tensor`'s dims declare, refused when a dim is
// negative or the count of `width`-byte elements overflows int64's bytes
// (checked before anything is allocated: the dims are the file's word).
llvm::Expected<size_t> elementCountOf(const onnx::TensorProto &tensor, size_t width,
                                      const std::string &where);

// The bytes of `tensor`'s `count` elements, `width` bytes each, from its
// raw_data or its typed field (which holds each element widened: int32_data
// carries every type of at most 32 bits, halves as their bits). Errors name
// `where` and the tensor; external data is refused.
llvm::Expected<std::string> tensorProtoBytes(const onnx::TensorProto &tensor, size_t count,
                                             size_t width, const std::string &where);

} // namespace graceful::compiler
