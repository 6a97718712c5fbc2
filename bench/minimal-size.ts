/**
 * Size of the minimal runtime beside today's `slimwheel` image on the slim runtime and the
 * classic strategies, in one run on the test bed with buildah. Every image is built by the CLI (the
 * two slimwheel images with their proofs: import test, `python smoke.py`, boot), then measured as pushed: uncompressed
 * (the sum of the layer tars) and compressed (each layer gzipped at the default level). The issue's
 * goal: minimal ≤ 0.5× the best (smallest) classic strategy, uncompressed, on flask-app,
 * c-extension and django-postgres, ≤ 0.75× on data-tools. Prints figures; asserts nothing.
 *
 * Usage: npx tsx bench/minimal-size.ts [EXAMPLE...]   (default: all four examples)
 */
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { exec } from "../src/util/exec.js";
import { buildExampleWithCli } from "../test/helpers/cli-build.js";
import { readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = ["flask-app", "c-extension", "django-postgres", "data-tools"];
const GOAL: Record<string, number> = { "data-tools": 0.75 };
const CLASSIC = ["slim", "slim-apt", "single-layer", "wheels", "venv"];

/** Bytes of a layer as a tar (gunzipped when stored compressed) and gzipped at the default level. */
async function layerBytes(file: string, gzipped: boolean): Promise<{ raw: number; gz: number }> {
  let raw = 0;
  let gz = 0;
  const countRaw = new Transform({
    transform(chunk: Buffer, _e, cb) {
      raw += chunk.length;
      cb(null, chunk);
    },
  });
  const countGz = new Writable({
    write(chunk: Buffer, _e, cb) {
      gz += chunk.length;
      cb();
    },
  });
  const source = createReadStream(file);
  await (gzipped
    ? pipeline(source, createGunzip(), countRaw, createGzip(), countGz)
    : pipeline(source, countRaw, createGzip(), countGz));
  return { raw, gz };
}

interface Size {
  readonly raw: number;
  readonly gz: number;
  readonly layers: number;
}

/** Uncompressed and gzip bytes of an image's layers (pushed to an OCI layout). */
async function sizes(ref: string): Promise<Size> {
  const dir = await mkdtemp(join(tmpdir(), "minimal-size-"));
  try {
    await exec("buildah", ["push", "--disable-compression", ref, `oci:${dir}`], {
      env: process.env,
      doing: `exporting ${ref}`,
    });
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    const blob = (d: string) => join(dir, "blobs", ...d.split(":"));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), "utf8"));
    let raw = 0;
    let gz = 0;
    for (const l of manifest.layers) {
      const b = await layerBytes(blob(l.digest), String(l.mediaType).includes("gzip"));
      raw += b.raw;
      gz += b.gz;
    }
    return { raw, gz, layers: manifest.layers.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const examples = process.argv.slice(2).length > 0 ? process.argv.slice(2) : EXAMPLES;
const tb = await readEndpoints();
await exec("npm", ["run", "--silent", "build"], { cwd: ROOT, env: process.env });
const smoke = ["--smoke", "python3 smoke.py"];
console.log(`minimal runtime sizes, ${new Date().toISOString().slice(0, 10)}, buildah, test bed`);
console.log(
  "example          image            layers  uncompressed  compressed   vs best classic (uncompr. / compr.)",
);
const summary: string[] = [];
for (const ex of examples) {
  const measured: { name: string; size: Size; classic: boolean }[] = [];
  const failed: string[] = [];
  for (const s of CLASSIC) {
    const tag = `localhost/slimwheel-bench/${ex}:${s}`;
    try {
      // The classic images are only measured here (their proofs run in the integration tests).
      await buildExampleWithCli(tb, ex, tag, ["-s", s, "--no-import-test", "--no-boot-test"]);
      measured.push({ name: s, size: await sizes(tag), classic: true });
    } catch (e) {
      // The CLI's own message (e.g. a strategy refusing a compiled project), not exec's exit line.
      // (--json: the CLI's error is a JSON document on stdout, which exec keeps as the details.)
      const said = /"message": "([^"]*)"/.exec(String((e as { details?: string }).details ?? ""))?.[1];
      failed.push(`${s}: ${said ?? (e as Error).message.split("\n")[0]}`);
    }
  }
  const slimTag = `localhost/slimwheel-bench/${ex}:slimwheel-slim`;
  await buildExampleWithCli(tb, ex, slimTag, ["--runtime", "slim", ...smoke]);
  measured.push({ name: "slimwheel/slim", size: await sizes(slimTag), classic: false });
  const minTag = `localhost/slimwheel-bench/${ex}:minimal`;
  const doc = (await buildExampleWithCli(tb, ex, minTag, smoke)) as {
    runtime?: { layers?: { role: string; bytes: number }[]; dropped?: { group: string; bytes: number }[] };
    boot?: unknown;
  };
  measured.push({ name: "slimwheel", size: await sizes(minTag), classic: false });
  const best = measured.filter((m) => m.classic).sort((a, b) => a.size.raw - b.size.raw)[0];
  for (const m of measured) {
    const ratio = best
      ? `${(m.size.raw / best.size.raw).toFixed(2)}× / ${(m.size.gz / best.size.gz).toFixed(2)}×${m === best ? " (best classic)" : ""}`
      : "–";
    console.log(
      `${ex.padEnd(16)} ${m.name.padEnd(16)} ${String(m.size.layers).padStart(6)}  ${mb(m.size.raw).padStart(12)}  ${mb(m.size.gz).padStart(10)}   ${ratio}`,
    );
  }
  for (const f of failed) console.log(`  not built: ${f}`);
  const layers = doc.runtime?.layers ?? [];
  const dropped = (doc.runtime?.dropped ?? []).filter((d) => d.bytes > 0);
  console.log(`  minimal kept:    ${layers.map((l) => `${l.role} ${mb(l.bytes)}`).join(", ")}`);
  console.log(`  minimal dropped: ${dropped.map((d) => `${d.group} ${mb(d.bytes)}`).join(", ")}`);
  const min = measured.at(-1)!;
  if (best) {
    const r = min.size.raw / best.size.raw;
    const goal = GOAL[ex] ?? 0.5;
    summary.push(
      `${ex}: minimal ${mb(min.size.raw)} vs best classic (${best.name}) ${mb(best.size.raw)} = ${r.toFixed(2)}× (goal ≤ ${goal}×: ${r <= goal ? "met" : "MISSED"})`,
    );
  }
}
console.log("");
for (const s of summary) console.log(s);
