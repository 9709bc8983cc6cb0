// Runs ONNX models in ONNX Runtime (npm's onnxruntime-node, CPU), the
// independent executor graceful's outputs are checked against.
//   node ort_run.js
// One process serves many runs, so that a differential run of thousands
// of graphs does not pay node's and ONNX Runtime's start-up for each: every
// line read on stdin is the path of a manifest, and every manifest is
// answered by one line on stdout, in order.
// The manifest names the model, its inputs in graph order as raw
// little-endian files ({"file", "type", "dims"}) and a directory for the
// outputs ("optimize": false turns ONNX Runtime's graph rewrites off);
// every graph output is written there as OUT_DIR/<index>.bin, and the
// answer is {"outputs": [{"name", "type", "dims", "file"}, ...]} or
// {"error": "why"}.
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const ort = require('onnxruntime-node');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  int16: Int16Array, int8: Int8Array, uint8: Uint8Array, uint16: Uint16Array, float16: Uint16Array,
  uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
};

function tensorOf(input) {
  const bytes = fs.readFileSync(input.file);
  const Kind = ARRAYS[input.type];
  if (!Kind) throw new Error(`unsupported input type ${input.type}`);
  // Copy into an aligned buffer: readFileSync's may start at any offset.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const data = new Kind(aligned.buffer, 0, bytes.length / Kind.BYTES_PER_ELEMENT);
  return new ort.Tensor(input.type, data, input.dims);
}

async function run(manifestPath) {
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const options = {intraOpNumThreads: manifest.threads || 0};
  // Unoptimized, QuantizeLinear/DequantizeLinear pairs run as the spec
  // defines them (optimized, they fuse into fixed-point integer kernels).
  if (manifest.optimize === false) options.graphOptimizationLevel = 'disabled';
  const session = await ort.InferenceSession.create(manifest.model, options);
  try {
    if (manifest.inputs.length !== session.inputNames.length) {
      throw new Error(`model has ${session.inputNames.length} inputs, ${manifest.inputs.length} given`);
    }
    const feeds = {};
    session.inputNames.forEach((name, i) => { feeds[name] = tensorOf(manifest.inputs[i]); });
    const results = await session.run(feeds);
    return session.outputNames.map((name, i) => {
      const output = results[name];
      const file = path.join(manifest.output_dir, `${i}.bin`);
      fs.writeFileSync(file, Buffer.from(output.data.buffer, output.data.byteOffset,
                                         output.data.byteLength));
      return {name, type: output.type, dims: output.dims, file};
    });
  } finally {
    await session.release();
  }
}

async function main() {
  const lines = readline.createInterface({input: process.stdin, terminal: false});
  for await (const line of lines) {
    let answer;
    try {
      answer = {outputs: await run(line)};
    } catch (e) {
      answer = {error: String(e.message || e).replace(/\s+/g, ' ')};
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
}

main();
