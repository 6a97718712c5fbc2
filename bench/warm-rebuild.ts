/**
 * Warm rebuild after a one-line app change (issue 11), timed as a user sees it: the whole
 * `slimwheel build DIR -t REF --output oci:DIR --smoke …` command (proofs, export and SBOM
 * included; the layer cache serves the lower layers, the import test may be reused and the output
 * says so) against `buildah bud --layers` of the best classic Dockerfile (`-s wheels`, the
 * 4-stage multi-stage build a careful engineer writes, rendered by `slimwheel dockerfile`) after
 * the same change, in the same run, on the test bed. Goal: ≤ 0.25× the classic time. Each figure
 * is the median of RUNS rebuilds, each after a different one-line change, each started after
 * `sync` and a one-second pause. Prints figures; asserts nothing.
 *
 * Usage: npx tsx bench/warm-rebuild.ts [EXAMPLE...]   (default: all four examples; RUNS=3)
 */
import { appendFile, cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = ["flask-app", "c-extension", "django-postgres", "data-tools"];
/** The file a one-line change goes into, per example. */
const APP_FILE: Record<string, string> = {
  "flask-app": "app.py",
  "c-extension": "src/wordstats/cli.py",
  "django-postgres": "hello/views.py",
  "data-tools": "report.py",
};
const CLASSIC = process.env.CLASSIC ?? "wheels";
const RUNS = Number(process.env.RUNS ?? 3);

const tb = await readEndpoints();
const cli = join(ROOT, "dist", "cli", "main.js");
const sources = ["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Each timed build starts on a settled machine: the previous build's writes flushed (`sync`) and a
 * second's pause, so neither side pays for the other's disk writeback.
 */
async function timed(f: () => Promise<unknown>): Promise<number> {
  await exec("sync", [], { env: process.env });
  await new Promise((r) => setTimeout(r, 1000));
  const t = performance.now();
  await f();
  return performance.now() - t;
}

await exec("npm", ["run", "--silent", "build"], { cwd: ROOT, env: process.env });
const examples = process.argv.slice(2).length ? process.argv.slice(2) : EXAMPLES;
const work = await mkdtemp(join(tmpdir(), "warm-rebuild-"));
console.log(
  `warm rebuild after a one-line app change, ${new Date().toISOString().slice(0, 10)}, test bed, median of ${RUNS}`,
);
console.log(
  `example          buildah bud (-s ${CLASSIC})   slimwheel build --output oci:   ratio   layer cache   goal ≤ 0.25×`,
);
const lines: string[] = [];
try {
  for (const ex of examples) {
    const file = APP_FILE[ex] ?? "app.py";
    // The classic Dockerfile, rendered into its own copy of the project.
    const classic = join(work, `${ex}-classic`);
    await cp(join(ROOT, "examples", ex), classic, { recursive: true });
    await exec(process.execPath, [cli, "--quiet", "dockerfile", classic, "-s", CLASSIC, "--force"], {
      env: process.env,
      doing: `rendering the ${CLASSIC} Dockerfile of ${ex}`,
    });
    const bud = () =>
      exec(
        "buildah",
        [
          "bud",
          ...["--isolation", "chroot", "--layers", "--tls-verify=false"],
          ...["--build-arg", `BUILDER_IMAGE=${tb.images.builder.pinned}`],
          ...["--build-arg", `RUNTIME_IMAGE=${tb.images.runtime.pinned}`],
          ...["--build-arg", `PIP_INDEX_URL=${tb.index.url}`],
          ...[
            "-t",
            `localhost/slimwheel-bench-warm/${ex}:classic`,
            "-f",
            join(classic, "Dockerfile"),
            classic,
          ],
        ],
        { env: process.env, doing: `buildah bud of ${ex}'s ${CLASSIC} Dockerfile` },
      );
    // slimwheel, in its own copy.
    const sw = join(work, `${ex}-slimwheel`);
    await cp(join(ROOT, "examples", ex), sw, { recursive: true });
    const out = join(work, `${ex}-out`);
    let last: { layerCache?: { hit: boolean; why?: string } } = {};
    const build = async () => {
      await rm(out, { recursive: true, force: true });
      const r = await exec(
        process.execPath,
        [
          cli,
          "--quiet",
          "--json",
          "build",
          sw,
          ...["-t", `localhost/slimwheel-bench-warm/${ex}:slimwheel`, "--engine", "buildah", ...sources],
          ...["--index-url", tb.index.url, "--smoke", "python3 smoke.py", "--output", `oci:${out}`],
        ],
        { env: process.env, doing: `slimwheel build of ${ex}` },
      );
      last = JSON.parse(r.stdout);
    };
    // Warm both: the first builds fill the engine's and slimwheel's caches.
    await bud();
    await build();
    const classicMs: number[] = [];
    const slimwheelMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const change = `\n# one-line change ${i} ${Date.now()}\n`;
      await appendFile(join(classic, file), change);
      await appendFile(join(sw, file), change);
      classicMs.push(await timed(bud));
      slimwheelMs.push(await timed(build));
    }
    const c = median(classicMs);
    const w = median(slimwheelMs);
    const ratio = w / c;
    const cache = last.layerCache?.hit ? "hit" : `miss (${last.layerCache?.why ?? "none"})`;
    console.log(
      `${ex.padEnd(16)} ${s(c).padStart(24)}   ${s(w).padStart(28)}   ${ratio.toFixed(2).padStart(5)}×  ${cache.padEnd(12)}  ${ratio <= 0.25 ? "met" : "MISSED"}`,
    );
    lines.push(`${ex}: classic ${classicMs.map(s).join(", ")}; slimwheel ${slimwheelMs.map(s).join(", ")}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log("");
for (const l of lines) console.log(l);
