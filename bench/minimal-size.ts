/**
 * Size of the minimal runtime beside today's `slimwheel` image (slim runtime), on the test bed
 * with buildah: builds each example with today's CLI, assembles its minimal image (closure, one
 * layer per role), then prints both sizes, uncompressed (sum of the layer tars) and compressed
 * (each layer gzipped, default level), and the ratio. The goal: minimal ≤ 0.5× the best
 * classic strategy (≈ today's slimwheel image) on flask-app, c-extension and django-postgres,
 * ≤ 0.75× on data-tools.
 *
 * Usage: npx tsx bench/minimal-size.ts [EXAMPLE...]   (default: flask-app django-postgres)
 */
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { buildMinimalImage } from "../src/minimize/buildah.js";
import { exec } from "../src/util/exec.js";
import { buildExampleWithCli } from "../test/helpers/cli-build.js";
import { readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const CMDS: Record<string, string[]> = {
  "flask-app": ["gunicorn", "app:app"],
  "django-postgres": ["gunicorn", "mysite.wsgi"],
  "c-extension": ["python3", "smoke.py"],
  "data-tools": ["python3", "report.py"],
};

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

/** Uncompressed and gzip bytes of an image's layers (pushed to an OCI layout). */
async function sizes(ref: string): Promise<{ raw: number; gz: number; layers: number }> {
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
const examples = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["flask-app", "django-postgres"];
const tb = await readEndpoints();
await exec("npm", ["run", "--silent", "build"], { cwd: ROOT, env: process.env });
console.log("example          image      layers  uncompressed  compressed   ratio (uncompr. / compr.)");
for (const ex of examples) {
  const slim = `localhost/slimwheel-bench/${ex}:slimwheel`;
  await buildExampleWithCli(tb, ex, slim);
  const minimal = `localhost/slimwheel-bench/${ex}:minimal`;
  const closure = await buildMinimalImage(
    {
      image: slim,
      base: tb.images.runtime.pinned,
      tag: minimal,
      cmd: CMDS[ex] ?? ["python3"],
      user: { name: "app", uid: 10001, gid: 10001 },
    },
    process.env,
  );
  const a = await sizes(slim);
  const b = await sizes(minimal);
  const row = (what: string, s: { raw: number; gz: number; layers: number }, ratio = "") =>
    console.log(
      `${ex.padEnd(16)} ${what.padEnd(10)} ${String(s.layers).padStart(6)}  ${mb(s.raw).padStart(12)}  ${mb(s.gz).padStart(10)}   ${ratio}`,
    );
  row("slimwheel", a);
  row("minimal", b, `${(b.raw / a.raw).toFixed(2)}× / ${(b.gz / a.gz).toFixed(2)}×`);
  const layerLine = closure.layers.map((l) => `${l.role} ${mb(l.bytes)}`).join(", ");
  const dropLine = closure.dropped.map((d) => `${d.group} ${mb(d.bytes)}`).join(", ");
  console.log(`  kept:    ${layerLine}`);
  console.log(`  dropped: ${dropLine}`);
  if (closure.unresolved.length > 0) console.log(`  unresolved: ${JSON.stringify(closure.unresolved)}`);
}
