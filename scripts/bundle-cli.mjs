// Bundles the compiled CLI (dist/cli/main.js, written by tsc) into one CommonJS file,
// dist/cli/slimwheel.cjs, and puts a small loader in main.js's place (scripts/cli-loader.mjs), so a
// command starts without resolving and reading ~200 modules: `slimwheel --version` took
// 0.56–1.00 s against 1.16–1.56 s unbundled on the 2-core test machine at load average 5. The
// loader runs the bundle with V8's code cache: compiling the 1.1 MB bundle was a third of the
// start (63 ms of `--version`'s 200 ms of CPU). The library (dist/index.js and the modules beside
// it) stays unbundled; the bundle is minified. Each file is written to a temporary file and
// renamed: an interrupted build never leaves a half-written CLI.
import { createHash } from "node:crypto";
import { chmod, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "dist", "cli", "main.js");
const bundle = join(root, "dist", "cli", "slimwheel.cjs");
const tmp = `${bundle}.bundle-${process.pid}.tmp`;
await build({
  entryPoints: [entry],
  outfile: tmp,
  bundle: true,
  platform: "node",
  // CommonJS: V8's code cache serves scripts (vm.Script), not ES modules, on Node 20.
  format: "cjs",
  target: "node20",
  // The few `import.meta.url` readers (package.json, a schema, createRequire) get the bundle's
  // own URL: it sits where main.js did, so their relative paths hold.
  define: { "import.meta.url": "__slimwheelImportMetaUrl" },
  banner: { js: 'var __slimwheelImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
  legalComments: "none",
  // Less to read and compile at every start: `slimwheel --version` went from 322–378 ms to
  // 258–316 ms on the 2-core test machine (bare `node -e 0`: 126–167 ms). Names are kept: errors
  // and reports never show a mangled class or function name.
  minify: true,
  keepNames: true,
});
await rename(tmp, bundle);
// The loader tags its code cache with the bundle's digest (see scripts/cli-loader.mjs).
const digest = createHash("sha256")
  .update(await readFile(bundle))
  .digest("hex");
const loader = `${entry}.loader-${process.pid}.tmp`;
const source = await readFile(join(root, "scripts", "cli-loader.mjs"), "utf8");
if (!source.includes('"@@BUNDLE_DIGEST@@"')) throw new Error("scripts/cli-loader.mjs: no digest placeholder");
await writeFile(loader, source.replace('"@@BUNDLE_DIGEST@@"', JSON.stringify(digest)));
await chmod(loader, 0o755);
await rename(loader, entry);
// tsc's map describes the unbundled file, which is gone.
await rm(`${entry}.map`, { force: true });
