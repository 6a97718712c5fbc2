/**
 * Concurrency (issue 13): two `slimwheel build`s of the same project at once, then two of different
 * projects (flask-app and c-extension) at once, with buildah, sharing one fresh stage cache (so both
 * build and write the artifacts stage's entry at the same time). Each build succeeds; each
 * `--output oci:DIR` is a whole OCI layout whose every blob has its digest and size; the stage
 * cache holds only whole entries (no temporary file), each naming a stage image the engine has;
 * and a build after them reuses the stage cache. Then two builds with the minimal runtime (the
 * default) at once, sharing one fresh layer cache: both succeed and verify, the layer cache holds
 * only whole entries (no temporary file, none unreadable) whose every blob matches its digest, and a
 * one-line change then rebuilds from it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { layerCacheDirs, readLayerEntry } from "../src/pipeline/layer-cache.js";
import { listLayerCache } from "../src/pipeline/layer-cache-admin.js";
import { readStageCache, stageCacheDir } from "../src/pipeline/stage-cache.js";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { containersOfCli } from "./helpers/buildah.js";
import { verifyOciLayout } from "./helpers/oci-image.js";
import { testContext } from "./helpers/testbed-context.js";

const ROOT = join(import.meta.dirname, "..");
const NAME = "localhost/slimwheel-concurrent-builds";
const tb = await readEndpoints();
let work: string;
let cacheHome: string;
const tags: string[] = [];

const SLIM = ["--runtime", "slim", "--no-boot-test", "--no-import-test"];

/**
 * Runs the CLI's `--json build` of an example (or a project directory) to `oci:<out>`, the stage
 * and layer caches under `cacheHome`; `runtime`: the runtime options (default: slim, no proofs).
 */
function build(example: string, tag: string, out: string, runtime: readonly string[] = SLIM) {
  tags.push(tag);
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "--json",
      "build",
      example.startsWith("/") ? example : join(ROOT, "examples", example),
      ...["-t", tag, "--engine", "buildah", ...runtime, "--sbom", "none"],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url, "--output", `oci:${out}`],
    ],
    { env: { ...process.env, XDG_CACHE_HOME: cacheHome }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string; pid: number }>((res) =>
    child.on("close", (code) => res({ code, stdout, stderr, pid: child.pid! })),
  );
}

/** Every entry of the stage cache is whole and names a stage image the engine has; no temporary file. */
async function cacheConsistent(): Promise<number> {
  const dir = stageCacheDir({ XDG_CACHE_HOME: cacheHome });
  const files = await readdir(dir);
  expect(
    files.filter((f) => !/^[0-9a-f]{64}\.json$/.test(f)),
    "temporary or stray files",
  ).toEqual([]);
  const engine = createEngine("buildah", process.env);
  for (const f of files) {
    const entry = await readStageCache(dir, f.replace(/\.json$/, ""));
    expect(entry, `${f} is not a whole entry`).toBeDefined();
    expect(await engine.imageId(entry!.ref, testContext()), `${f}: ${entry!.ref}`).toBe(
      `sha256:${entry!.imageId.replace(/^sha256:/, "")}`,
    );
  }
  return files.length;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-concurrent-builds-"));
  cacheHome = join(work, "cache");
  await mkdir(cacheHome);
});
afterAll(async () => {
  await exec("buildah", ["rmi", "-f", ...new Set(tags)], { env: process.env, allowFailure: true });
  await rm(work, { recursive: true, force: true });
});

describe("two builds at once", () => {
  it("of the same project, then of two projects: both succeed, both outputs verify, the stage cache stays whole", async () => {
    const [a, b] = await Promise.all([
      build("flask-app", `${NAME}/flask:a`, join(work, "a")),
      build("flask-app", `${NAME}/flask:b`, join(work, "b")),
    ]);
    expect(a.code, a.stderr.slice(-3000)).toBe(0);
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    const [da] = await verifyOciLayout(join(work, "a"));
    const [db] = await verifyOciLayout(join(work, "b"));
    expect(da).toMatch(/^sha256:/);
    expect(db).toMatch(/^sha256:/);
    expect(await cacheConsistent()).toBeGreaterThanOrEqual(1);

    const [f, c] = await Promise.all([
      build("flask-app", `${NAME}/flask:c`, join(work, "f")),
      build("c-extension", `${NAME}/c-ext:t`, join(work, "c")),
    ]);
    expect(f.code, f.stderr.slice(-3000)).toBe(0);
    expect(c.code, c.stderr.slice(-3000)).toBe(0);
    await verifyOciLayout(join(work, "f"));
    await verifyOciLayout(join(work, "c"));
    // One entry for flask-app's artifacts stage, one for c-extension's.
    expect(await cacheConsistent()).toBeGreaterThanOrEqual(2);
    // The flask build that ran beside c-extension found the entry the first two wrote.
    expect(JSON.parse(f.stdout).detected.stageCached, f.stdout.slice(0, 2000)).toBe(true);
    // Only the outputs: no temporary output left beside them.
    expect((await readdir(work)).sort()).toEqual(["a", "b", "c", "cache", "f"]);
    // None of the working containers the CLIs named themselves is left.
    for (const r of [a, b, f, c]) expect(await containersOfCli(r.pid), "working containers left").toEqual([]);
  });
});

describe("two minimal builds at once, sharing one fresh layer cache", () => {
  it("both succeed and verify; the layer cache holds only whole entries whose blobs match their digests; a code change then uses it", async () => {
    const minimal = ["--no-boot-test"]; // the default runtime (minimal), with its import test
    // A copy of its own (the layer cache keys the project's files and its time, from git or not).
    const app = join(work, "flask-copy");
    await cp(join(ROOT, "examples", "flask-app"), app, { recursive: true });
    const [m, n] = await Promise.all([
      build(app, `${NAME}/flask:m`, join(work, "m"), minimal),
      build(app, `${NAME}/flask:n`, join(work, "n"), minimal),
    ]);
    expect(m.code, m.stderr.slice(-3000)).toBe(0);
    expect(n.code, n.stderr.slice(-3000)).toBe(0);
    const [dm] = await verifyOciLayout(join(work, "m"));
    const [dn] = await verifyOciLayout(join(work, "n"));
    expect(dm).toMatch(/^sha256:/);
    expect(dn).toMatch(/^sha256:/);

    const dirs = layerCacheDirs({ XDG_CACHE_HOME: cacheHome });
    const listing = await listLayerCache(dirs);
    expect(
      listing.items.filter((i) => i.kind === "temp" || i.kind === "invalid").map((i) => i.paths),
      "half-written or unreadable entries",
    ).toEqual([]);
    const entries = listing.items.filter((i) => i.kind === "layers");
    expect(entries.length, JSON.stringify(listing.items)).toBeGreaterThanOrEqual(1);
    for (const item of entries) {
      const entry = await readLayerEntry(dirs, item.key);
      expect(entry, item.key).toBeDefined();
      for (const l of entry!.lower) {
        const hex = l.blob.digest.replace(/^sha256:/, "");
        const bytes = await readFile(join(dirs.store, "sha256", hex));
        expect(createHash("sha256").update(bytes).digest("hex"), `${l.role} blob`).toBe(hex);
      }
    }

    // A one-line change: served by the entry the two wrote, without the engine's build.
    await writeFile(join(app, "app.py"), `${await readFile(join(app, "app.py"), "utf8")}\n# changed\n`);
    const w = await build(app, `${NAME}/flask:w`, join(work, "w"), minimal);
    expect(w.code, w.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(w.stdout).layerCache?.hit, JSON.stringify(JSON.parse(w.stdout).layerCache)).toBe(true);
    await verifyOciLayout(join(work, "w"));
    for (const r of [m, n, w]) expect(await containersOfCli(r.pid), "working containers left").toEqual([]);
  });
});
