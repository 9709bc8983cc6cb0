// Runs an ONNX model in ONNX Runtime (npm's onnxruntime-node, CPU) on one
// float32 input given as raw little-endian bytes, and writes its first
// output the same way. Prints the output shape as JSON.
//   node ort_run.js MODEL.onnx INPUT.bin D0,D1,... OUTPUT.bin
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputPath, shapeText, outputPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const bytes = fs.readFileSync(inputPath);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const dims = shapeText.split(',').map(Number);
  const results = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', data, dims)});
  const output = results[session.outputNames[0]];
  fs.writeFileSync(outputPath, Buffer.from(output.data.buffer, output.data.byteOffset,
                                           output.data.byteLength));
  console.log(JSON.stringify({shape: output.dims}));
}

main().catch((e) => { console.error(e.message); process.exit(2); });
