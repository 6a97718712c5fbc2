/**
 * The layer cache (issue 11): after one build of examples/flask-app with the minimal runtime, a
 * one-line change to the app is rebuilt with no engine at all — the second build runs with a PATH
 * holding no buildah, podman or docker — reusing the runtime, system and dependencies layers;
 * its push uploads only the app layer and the config; the same inputs give the same digest, and the
 * engine path (`--no-layer-cache`) makes the very same image from the same tree; and a change that
 * breaks the app fails its proof with nothing written. Then examples/c-extension, which installs
 * its own wheel (with a C extension): a change of its Python code patches the project layer with no
 * engine, and the image is the engine path's, byte for byte.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { diffLayouts } from "./helpers/layout-diff.js";

const ROOT = join(import.meta.dirname, "..");
const tb = await readEndpoints();
let work: string;
let app: string;
let cacheHome: string;
let noEngineBin: string;

interface Outcome {
  code: number;
  json: {
    layerCache?: { hit: boolean; why?: string } | null;
    layers?: { role: string; digest: string; status: string }[] | null;
    pushed?: { ref: string; digest: string; blobs?: { digest: string; status: string }[] }[];
    importTest?: { reused: boolean } | null;
    smoke?: { ok: boolean } | null;
    boot?: { outcome: string } | null;
    error?: { message: string; code: string };
  };
  stderr: string;
}

const ref = () => `${tb.registry.host}/slimwheel-layer-cache/flask:t`;

async function build(
  out: string,
  path?: string,
  extra: readonly string[] = [],
  o: { readonly dir?: string; readonly ref?: string; readonly push?: boolean } = {},
): Promise<Outcome> {
  const r = await exec(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "--json",
      "build",
      o.dir ?? app,
      ...["-t", o.ref ?? ref(), "--engine", "buildah", ...(o.push === false ? [] : ["--push"])],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url, "--smoke", "python smoke.py", "--output", `oci:${out}`],
      ...extra,
    ],
    {
      env: { ...process.env, XDG_CACHE_HOME: cacheHome, ...(path ? { PATH: path } : {}) },
      allowFailure: true,
    },
  );
  return { code: r.code, json: JSON.parse(r.stdout || "{}") as Outcome["json"], stderr: r.stderr };
}

const manifestOf = async (dir: string) => {
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const digest = index.manifests[0]!.digest;
  const manifest = JSON.parse(await readFile(join(dir, "blobs", "sha256", digest.slice(7)), "utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  return { digest, config: manifest.config.digest, layers: manifest.layers.map((l) => l.digest) };
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-layer-cache-"));
  app = join(work, "flask-app");
  cacheHome = join(work, "cache");
  await cp(join(ROOT, "examples", "flask-app"), app, { recursive: true });
  // A PATH with the tools a code-only rebuild may use (node for the CLI, git) and no engine.
  noEngineBin = join(work, "bin");
  await mkdir(noEngineBin);
  for (const tool of ["git"]) await symlink(`/usr/bin/${tool}`, join(noEngineBin, tool));
  await symlink(process.execPath, join(noEngineBin, "node"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("a code-only change is rebuilt from the layer cache", () => {
  it("calls no engine, reuses the lower layers, pushes only the app layer and the config, and is reproducible", async () => {
    const first = await build(join(work, "out1"));
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.layerCache?.hit).toBe(false);
    expect(first.json.layers?.map((l) => l.status)).toEqual(["built", "built", "built", "built"]);
    const one = await manifestOf(join(work, "out1"));

    const source = await readFile(join(app, "app.py"), "utf8");
    await writeFile(join(app, "app.py"), `${source}\n# one more line, ${Date.now()}\n`);
    const second = await build(join(work, "out2"), noEngineBin);
    expect(second.code, `${second.stderr}\n${JSON.stringify(second.json.error)}`).toBe(0);
    expect(second.json.layerCache?.hit).toBe(true);
    expect(second.json.layers?.map((l) => `${l.role} ${l.status}`)).toEqual([
      "runtime reused",
      "system reused",
      "dependencies reused",
      "app built",
    ]);
    expect(second.json.importTest?.reused).toBe(true);
    expect(second.json.smoke?.ok).toBe(true);
    expect(second.json.boot?.outcome).toBe("serving");
    const two = await manifestOf(join(work, "out2"));
    expect(two.layers.slice(0, 3)).toEqual(one.layers.slice(0, 3));
    expect(two.layers[3]).not.toBe(one.layers[3]);
    // The registry already had the lower layers: the push sent the app layer and the config.
    const blobs = second.json.pushed?.[0]?.blobs ?? [];
    const uploaded = blobs
      .filter((b) => b.status === "uploaded")
      .map((b) => b.digest)
      .sort();
    expect(uploaded).toEqual([two.layers[3]!, two.config].sort());
    expect(blobs.filter((b) => b.status === "skipped")).toHaveLength(3);

    // The same inputs again: the same image.
    const again = await build(join(work, "out3"), noEngineBin);
    expect(again.code, again.stderr).toBe(0);
    expect((await manifestOf(join(work, "out3"))).digest).toBe(two.digest);
    expect(again.json.pushed?.[0]?.blobs?.every((b) => b.status === "skipped")).toBe(true);

    // The engine path, from the same tree, makes the very same image (the test names what differs).
    const engine = await build(join(work, "out5"), undefined, ["--no-layer-cache"]);
    expect(engine.code, engine.stderr).toBe(0);
    expect(engine.json.layerCache ?? null).toBeNull();
    expect(await diffLayouts(join(work, "out5"), join(work, "out2"))).toEqual([]);

    // A change that breaks the app fails its proof, and writes nothing.
    await writeFile(join(app, "app.py"), `${source}\nraise SystemExit("broken on purpose")\n`);
    const broken = await build(join(work, "out4"), noEngineBin);
    expect(broken.code).not.toBe(0);
    expect(broken.json.error?.message).toMatch(/smoke test failed|boot test failed/);
    expect((await readdir(work)).filter((n) => n.startsWith("out4"))).toEqual([]);
  });

  it("patches the project's own wheel in its layer for a change of its Python code: no engine, the engine path's image", async () => {
    const dir = join(work, "c-extension");
    await cp(join(ROOT, "examples", "c-extension"), dir, { recursive: true });
    const o = { dir, ref: "localhost/slimwheel-layer-cache/c-extension:t", push: false };
    const first = await build(join(work, "c1"), undefined, [], o);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.layers?.map((l) => l.role)).toEqual([
      "runtime",
      "system",
      "dependencies",
      "project",
      "app",
    ]);
    const one = await manifestOf(join(work, "c1"));

    // A change of the installed package's code, which the smoke test checks is what runs.
    const init = join(dir, "src", "wordstats", "__init__.py");
    await writeFile(init, `${await readFile(init, "utf8")}\nTAG = "patched"\n`);
    const smoke = join(dir, "smoke.py");
    const smokeSource = await readFile(smoke, "utf8");
    await writeFile(smoke, `${smokeSource}\nassert wordstats.TAG == "patched", wordstats.TAG\n`);
    const second = await build(join(work, "c2"), noEngineBin, [], o);
    expect(second.code, `${second.stderr}\n${JSON.stringify(second.json.error)}`).toBe(0);
    expect(second.json.layerCache?.hit).toBe(true);
    expect(second.json.layers?.map((l) => `${l.role} ${l.status}`)).toEqual([
      "runtime reused",
      "system reused",
      "dependencies reused",
      "project built",
      "app built",
    ]);
    // The import test imports the project's package: run again, not reused.
    expect(second.json.importTest?.reused).toBe(false);
    expect(second.json.smoke?.ok).toBe(true);
    const two = await manifestOf(join(work, "c2"));
    expect(two.layers.slice(0, 3)).toEqual(one.layers.slice(0, 3));
    expect(two.layers[3]).not.toBe(one.layers[3]);

    // The engine builds the wheel again from the same tree: the very same image (bytecode too).
    const engine = await build(join(work, "c3"), undefined, ["--no-layer-cache"], o);
    expect(engine.code, engine.stderr).toBe(0);
    expect(await diffLayouts(join(work, "c3"), join(work, "c2"))).toEqual([]);

    // The package as it was, and a change of a file the wheel does not install (smoke.py): the
    // cached project layer is the image's again.
    const initSource = (await readFile(init, "utf8")).replace(/\nTAG = "patched"\n$/, "");
    await writeFile(init, initSource);
    await writeFile(smoke, `${smokeSource}\n# one more line\n`);
    const third = await build(join(work, "c4"), noEngineBin, [], o);
    expect(third.code, third.stderr).toBe(0);
    expect(third.json.layers?.map((l) => `${l.role} ${l.status}`).slice(3)).toEqual([
      "project reused",
      "app built",
    ]);
    expect((await manifestOf(join(work, "c4"))).layers[3]).toBe(one.layers[3]);
  });
});
