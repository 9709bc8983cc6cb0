// ONNX Runtime's CPU provider on the same model and batch, for the ratio in
// bench/models.sh. Prints one JSON line: {"ms_per_batch": (median over the
// runs), "load_ms": ...}.
//   node ort_bench.js MODEL.onnx BATCH ITERATIONS
const ort = require('onnxruntime-node');

async function main() {
  const [model, batchText, iterationsText] = process.argv.slice(2);
  const batch = Number(batchText), iterations = Number(iterationsText);
  const start = performance.now();
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 2});
  const loadMs = performance.now() - start;
  const inputName = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  const dims = (meta && meta.shape ? meta.shape : process.env.SHAPE.split(',').map(Number))
      .map((d, i) => (typeof d === 'number' && d > 0 ? d : (i === 0 ? batch : 1)));
  dims[0] = batch;
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size).map(() => Math.random());
  const feeds = {[inputName]: new ort.Tensor('float32', data, dims)};
  await session.run(feeds);  // warm-up
  // The median run, as model_bench reports: robust to a noisy neighbour.
  const runs = [];
  for (let i = 0; i < iterations; ++i) {
    const t0 = performance.now();
    await session.run(feeds);
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  const ms = runs[Math.floor(iterations / 2)];
  console.log(JSON.stringify({ms_per_batch: ms, load_ms: loadMs}));
}

main().catch((e) => { console.error(e.message); process.exit(2); });
