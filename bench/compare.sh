#!/usr/bin/env bash
# Runs `slimwheel compare` (all strategies but alpine) on every example app against the test bed
# and prints each table, then checks the issue-4 targets from the JSON:
#   - the slimwheel image is no larger than the smallest other strategy (compressed and uncompressed);
#   - its warm rebuild is no slower than the wheels strategy's, measured in the same run.
# Usage: bench/compare.sh [ENGINE]   (default buildah). Takes ~15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-buildah}
npm run --silent build
npx --no-install tsx testbed/cli.ts up >/dev/null
eval "$(node -e '
  const e = require(process.env.HOME + "/.cache/slimwheel-testbed/endpoints.json");
  console.log(`B=${e.images.builder.pinned} R=${e.images.runtime.pinned} I=${e.index.url}`);
')"
[ -n "${SLIMWHEEL_TESTBED_DIR:-}" ] && echo "note: SLIMWHEEL_TESTBED_DIR is set; endpoints read from the default dir" >&2
out=$(mktemp -d)
for ex in flask-app django-postgres c-extension data-tools; do
  echo "=== $ex ($engine)"
  node dist/cli/main.js --quiet --json compare "examples/$ex" --engine "$engine" \
    --builder-image "$B" --runtime-image "$R" --index-url "$I" \
    --strategies full,slim,slim-apt,single-layer,wheels,venv,slimwheel --smoke "python smoke.py" \
    --html "$out/$ex.html" > "$out/$ex.json" || true
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const mb = (n) => (n / 1048576).toFixed(1) + " MB";
    const s = (ms) => ms === undefined ? "–" : (ms / 1000).toFixed(1) + " s";
    const rows = r.rows.filter((x) => x.compressedBytes !== undefined).sort((a, b) => a.compressedBytes - b.compressedBytes);
    for (const x of rows) console.log(`${x.strategy.padEnd(13)} ${mb(x.compressedBytes).padStart(9)} ${mb(x.uncompressedBytes).padStart(9)}  cold ${s(x.coldMs).padStart(7)}  warm ${s(x.warmMs).padStart(6)}  rebuilt ${x.changedLayers}/${x.layers}  smoke ${x.smoke && x.smoke.ok ? "pass" : "FAIL"}  tools ${mb(x.toolchainBytes)}`);
    for (const x of r.rows.filter((x) => x.status !== "ok")) console.log(`${x.strategy.padEnd(13)} ${x.status}: ${(x.error || "").split("\n")[0]}`);
    const sw = r.rows.find((x) => x.strategy === "slimwheel"), wh = r.rows.find((x) => x.strategy === "wheels");
    const others = rows.filter((x) => x.strategy !== "slimwheel");
    const minC = Math.min(...others.map((x) => x.compressedBytes)), minU = Math.min(...others.map((x) => x.uncompressedBytes));
    console.log(`target size: slimwheel ${mb(sw.compressedBytes)} / ${mb(sw.uncompressedBytes)} vs smallest other ${mb(minC)} / ${mb(minU)}: ${sw.compressedBytes <= minC && sw.uncompressedBytes <= minU ? "MET" : "NOT MET"}`);
    console.log(`target warm rebuild: slimwheel ${s(sw.warmMs)} vs wheels ${s(wh.warmMs)}: ${sw.warmMs <= wh.warmMs ? "MET" : "NOT MET"}`);
  ' "$out/$ex.json"
done
echo "reports: $out"
