#!/usr/bin/env bash
# The gates' heavy parts side by side with peers, in one run each:
#   - the nfr gate on 10 million precomputed predictions vs NumPy/SciPy
#   - exact retrieval, 10k queries x 100k gallery x 128 dims, vs FAISS's
#     exact flat index (IndexFlatIP)
#   bench/gates.sh [SAMPLES] [QUERIES] [GALLERY] [DIM]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup" >/dev/null
/usr/bin/python3 "$root/bench/nfr_bench.py" "$root/build/cli/graceful" "${1:-10000000}"
echo
"$root/build/bench/retrieval_bench" "${2:-10000}" "${3:-100000}" "${4:-128}"
