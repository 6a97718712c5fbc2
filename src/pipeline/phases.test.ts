/**
 * The phases' own logic, with a scripted engine that records what it is asked (the real engines are
 * exercised by the integration tests under test/): which stages a build mounts, how proofs run and
 * what a failed import says, what publishing pushes, and a stage-cache hit that builds nothing.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { BuildRequest, Engine } from "../engines/types.js";
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { readProject } from "../project/read.js";
import { silentReporter } from "../reporter/index.js";
import type { ImportFailure } from "../sysdeps/import-test.js";
import type { ExecResult } from "../util/exec.js";
import { assembleArtifacts, assemblePlan } from "./assemble.js";
import { detectRuntimeNeeds } from "./detect.js";
import { proveImage } from "./prove.js";
import { exportAtomically, publishImage } from "./publish.js";
import { stageCacheDir, stageKey, writeStageCache } from "./stage-cache.js";
import { buildStages } from "./stages.js";

let cache: string;
beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), "slimwheel-phases-"));
});
afterAll(() => rm(cache, { recursive: true, force: true }));

const ctx = (): Context => ({
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd: "/",
  env: { XDG_CACHE_HOME: cache },
  now: () => 0,
});

/** An engine whose `run` answers from a script and that records every call. */
function scriptedEngine(run: (argv: readonly string[], image: string) => Partial<ExecResult> = () => ({})) {
  const calls: { op: string; args: unknown[] }[] = [];
  const record =
    (op: string, result: unknown = undefined) =>
    async (...args: unknown[]) => {
      calls.push({ op, args });
      return result;
    };
  const engine = {
    id: "buildah",
    build: async (req: BuildRequest) => {
      calls.push({ op: "build", args: [req] });
      return { imageId: `sha256:${"b".repeat(64)}`, durationMs: 1 };
    },
    run: async (image: string, argv: readonly string[]) => {
      calls.push({ op: "run", args: [image, argv] });
      return { code: 0, stdout: "", stderr: "", ...run(argv, image) };
    },
    // Writes a directory at the target, as `buildah push oci:DIR` does.
    exportImage: async (image: string, target: { path: string }) => {
      calls.push({ op: "export", args: [image, target] });
      await mkdir(target.path, { recursive: true });
      await writeFile(join(target.path, "index.json"), "{}");
    },
    push: record("push", "sha256:pushed"),
    tag: record("tag"),
    imageId: async (ref: string) =>
      ref.startsWith("localhost/slimwheel-stage:") ? `sha256:${"c".repeat(64)}` : undefined,
  } as unknown as Engine;
  return { engine, calls };
}

const example = (name: string) => readProject(join(import.meta.dirname, "..", "..", "examples", name));

describe("the build phase", () => {
  it("mounts the stages the plan's final stage bind-mounts, as the artifacts stage's image", async () => {
    const plan = assemblePlan(await example("flask-app"), "slimwheel");
    const { engine, calls } = scriptedEngine();
    const request = { contextDir: "/c", dockerfile: "/c/D", tags: ["t"], buildArgs: {} };
    await buildStages(
      engine,
      plan,
      request,
      { name: "deps", ref: "localhost/slimwheel-stage:deps-1" },
      ctx(),
    );
    expect(calls[0]!.args[0]).toMatchObject({
      mountedStages: ["deps"],
      stageImages: { deps: "localhost/slimwheel-stage:deps-1" },
    });
    const full = assemblePlan(await example("flask-app"), "full");
    await buildStages(engine, full, request, undefined, ctx());
    expect(calls[1]!.args[0]).toMatchObject({ mountedStages: [], stageImages: undefined });
  });
});

describe("the prove phase", () => {
  const ok = JSON.stringify({ python: "3.11", checked: [{ module: "yaml", dist: "PyYAML" }], failures: [] });
  const opts = { builderImage: "builder", packageOf: {}, name: "img" };

  it("runs the smoke command through sh, or in exec form when the image has no shell", async () => {
    const { engine, calls } = scriptedEngine(() => ({ stdout: ok }));
    await proveImage(engine, "img", { ...opts, smoke: "python smoke.py" }, ctx());
    expect(calls.at(-1)!.args[1]).toEqual(["sh", "-c", "python smoke.py"]);
    await proveImage(engine, "img", { ...opts, smoke: "python smoke.py", noShell: true }, ctx());
    expect(calls.at(-1)!.args[1]).toEqual(["python", "smoke.py"]);
  });

  /** An image whose import test fails so; dpkg in the builder finds libpq.so.5 in libpq5. */
  const failingImports = (...failures: ImportFailure[]) =>
    scriptedEngine((argv) =>
      argv[0] === "sh"
        ? { stdout: "libpq.so.5\tlibpq5:amd64: /usr/lib/x86_64-linux-gnu/libpq.so.5\n" }
        : { stdout: JSON.stringify({ python: "3.11", checked: [], failures }) },
    );
  const psycopg2 = (error: string): ImportFailure => ({
    module: "psycopg2",
    dist: "psycopg2",
    error,
    library: "libpq.so.5",
  });

  it("names the library a module could not load and the Debian package that ships it", async () => {
    const { engine } = failingImports(psycopg2("libpq.so.5: cannot open shared object file"));
    const e = await proveImage(engine, "img", opts, ctx()).catch((x: unknown) => x);
    expect(isSlimwheelError(e)).toBe(true);
    expect((e as Error).message).toContain(
      "psycopg2 (from psycopg2) cannot load libpq.so.5, which Debian package libpq5 provides",
    );
    expect((e as { hint?: string }).hint).toContain('runtime-packages = ["libpq5"]');
  });

  it("on a minimal image: the --keep line for a library the closure dropped, the package for one never installed", async () => {
    const { engine, calls } = failingImports(
      {
        module: "pyvips",
        dist: "pyvips",
        error:
          "OSError: cannot load library 'libvips.so.42': libvips.so.42: cannot open shared object file: No such file or directory",
        library: "libvips.so.42",
      },
      psycopg2("ImportError: libpq.so.5: cannot open shared object file: No such file or directory"),
    );
    const dropped = [
      "/usr/lib/x86_64-linux-gnu/libvips.so.42",
      "/usr/lib/x86_64-linux-gnu/libvips.so.42.17.1",
    ];
    const e = await proveImage(engine, "img", { ...opts, dropped: () => dropped }, ctx()).catch(
      (x: unknown) => x,
    );
    expect(isSlimwheelError(e)).toBe(true);
    expect((e as Error).message).toContain(
      "pyvips (from pyvips) cannot load libvips.so.42: the minimal image dropped /usr/lib/x86_64-linux-gnu/libvips.so.42",
    );
    const hint = (e as { hint: string }).hint;
    expect(hint).toContain("--keep /usr/lib/*-linux-gnu*/libvips.so.42 ");
    expect(hint).toContain('runtime-packages = ["libpq5"]');
    expect(hint).not.toContain("libvips.so.42.17.1");
    // Only the library that was never installed is searched for its package.
    const searched = calls.filter((c) => (c.args[1] as string[])[0] === "sh").map((c) => c.args[1]);
    expect(searched).toHaveLength(1);
    expect(searched[0]).not.toContain("libvips.so.42");
    expect(searched[0]).toContain("libpq.so.5");
  });

  it("refuses a --smoke command that needs a shell on a minimal image, naming --smoke", async () => {
    const { engine } = scriptedEngine(() => ({ stdout: ok }));
    await expect(
      proveImage(engine, "img", { ...opts, smoke: "python smoke.py | cat", noShell: true }, ctx()),
    ).rejects.toSatisfy((e: unknown) => isSlimwheelError(e) && /give --smoke/.test(e.hint ?? ""));
  });

  it("fails, with the command's output, when the smoke command fails", async () => {
    const { engine } = scriptedEngine((argv) =>
      argv[0] === "sh" ? { code: 3, stderr: "boom" } : { stdout: ok },
    );
    await expect(proveImage(engine, "img", { ...opts, smoke: "false" }, ctx())).rejects.toSatisfy(
      (e: unknown) => isSlimwheelError(e) && /smoke test failed/.test(e.message) && e.details === "boom",
    );
  });
});

describe("the publish phase", () => {
  it("writes the output, then pushes every tag (loopback registries without TLS)", async () => {
    const { engine, calls } = scriptedEngine();
    const tags = ["127.0.0.1:5000/a:1", "registry.example/a:1"];
    const dir = await mkdtemp(join(cache, "publish-"));
    const out = await publishImage(
      engine,
      tags,
      { output: { kind: "oci-dir", path: join(dir, "o") }, push: true },
      ctx(),
    );
    expect(calls.map((c) => c.op)).toEqual(["export", "push", "push"]);
    // Written under a temporary name beside it, then renamed: only the output is left.
    expect(await readdir(dir)).toEqual(["o"]);
    expect(await readdir(join(dir, "o"))).toEqual(["index.json"]);
    expect(calls[1]!.args[3]).toEqual({ insecure: true });
    expect(calls[2]!.args[3]).toEqual({ insecure: false });
    expect(out.pushed.map((p) => p.ref)).toEqual(tags);
  });
});

describe("the export, when the engine fails", () => {
  it("leaves nothing at the output, keeps what was there, and names the path when the disk is full", async () => {
    const dir = await mkdtemp(join(cache, "export-fails-"));
    await mkdir(join(dir, "o"));
    await writeFile(join(dir, "o", "old"), "the previous image");
    const { engine } = scriptedEngine();
    (engine as { exportImage: unknown }).exportImage = async (_: string, target: { path: string }) => {
      await mkdir(target.path, { recursive: true });
      await writeFile(join(target.path, "half-a-blob"), "x");
      throw new SlimwheelError("engine", `exporting img to ${target.path}: buildah exited with code 125`, {
        details: "Error: writing blob: write /x/blobs/sha256/ab: no space left on device",
      });
    };
    const e = await exportAtomically(engine, "img", { kind: "oci-dir", path: join(dir, "o") }, ctx()).catch(
      (x: unknown) => x,
    );
    expect(isSlimwheelError(e)).toBe(true);
    expect(e).toMatchObject({ code: "io" });
    expect((e as Error).message).toBe(
      `cannot write ${join(dir, "o")}: the disk is full (buildah ran out of space writing the image; ENOSPC)`,
    );
    expect(await readdir(dir)).toEqual(["o"]);
    expect(await readdir(join(dir, "o"))).toEqual(["old"]);
  });
});

describe("the detect phase", () => {
  it("takes the stage and its runtime needs from the stage cache: nothing is built or read", async () => {
    const project = await example("flask-app");
    const plan = assembleArtifacts(project, "slimwheel")!;
    const { engine, calls } = scriptedEngine();
    const request = {
      contextDir: project.dir,
      dockerfile: "/d",
      buildArgs: { BUILDER_IMAGE: `b@sha256:${"a".repeat(64)}` },
    };
    const key = (await stageKey(plan, "deps", request, engine, ctx()))!;
    const resolution = { needs: [], provided: [], unresolved: [], packageOf: {} } as never;
    const ref = "localhost/slimwheel-stage:deps-cccc";
    await writeStageCache(stageCacheDir(ctx().env), key, {
      format: 1,
      imageId: `sha256:${"c".repeat(64)}`,
      ref,
      detection: { resolution, extensions: 0, wheels: 3 },
    });
    const needs = await detectRuntimeNeeds(engine, plan, request, "runtime", "flask-app", ctx());
    expect(needs.stage).toEqual({ name: "deps", ref, cached: true });
    expect(needs.wheels).toBe(3);
    expect(calls.filter((c) => c.op === "build")).toEqual([]);
  });
});
