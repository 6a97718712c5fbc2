import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import { planDockerfileFiles, writePlannedFiles } from "../generate/dockerfile-files.js";
import { readProject } from "../project/read.js";
import type { ReportEvent } from "../reporter/index.js";
import { chooseDockerfile, type SourceRequest, sourceDockerfile } from "./dockerfile-source.js";
import { resolveRuntime } from "./minimize.js";

const FIXTURES = new URL("../project/__fixtures__/projects/", import.meta.url).pathname;
const dirs: string[] = [];
const VERSION = "1.2.3";

async function project(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sw-source-${name}-`));
  dirs.push(dir);
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** chooseDockerfile as build calls it, with the messages it logged. */
async function choose(dir: string, o: Partial<SourceRequest> = {}, options = {}) {
  const events: ReportEvent[] = [];
  const ctx: Context = {
    signal: new AbortController().signal,
    reporter: { emit: (e) => events.push(e) },
    cwd: dir,
    env: {},
    now: Date.now,
  };
  const p = await readProject(dir);
  const strategy = o.strategy ?? p.config.strategy ?? "slimwheel";
  const runtime = o.file ? "slim" : resolveRuntime(strategy, o.runtime, p.config.runtime);
  const source = await chooseDockerfile(
    p,
    strategy,
    options,
    { version: VERSION, projectName: p.name, runtime },
    { version: VERSION, ...o },
    ctx,
  );
  const logs = events.flatMap((e) => (e.type === "log" ? [`${e.level}: ${e.message}`] : []));
  return { source, logs };
}

describe("which Dockerfile build uses", () => {
  it("the committed one when slimwheel wrote it and it is current, and says so", async () => {
    const dir = await project("uv-service");
    await writePlannedFiles((await planDockerfileFiles(dir, { version: VERSION })).files);
    const { source, logs } = await choose(dir);
    expect(source.kind).toBe("committed");
    expect(logs.join("\n")).toMatch(
      /^info: using the committed Dockerfile Dockerfile \(current: inputs [0-9a-f]{16}\)$/,
    );
    // What is built is the committed text, byte for byte.
    const context = await mkdtemp(join(tmpdir(), "sw-source-ctx-"));
    dirs.push(context);
    const path = await sourceDockerfile({ dir: context }, source, () =>
      Promise.reject(new Error("rendered")),
    );
    expect(await readFile(path, "utf8")).toBe(await readFile(join(dir, "Dockerfile"), "utf8"));
  });

  it("a re-rendering, with the fix, when slimwheel wrote it but the lock changed since", async () => {
    const dir = await project("uv-service");
    await writePlannedFiles((await planDockerfileFiles(dir, { version: VERSION })).files);
    const lock = join(dir, "uv.lock");
    await writeFile(
      lock,
      (await readFile(lock, "utf8")).replace('version = "0.110.1"', 'version = "0.110.2"'),
    );
    const { source, logs } = await choose(dir);
    expect(source.kind).toBe("render");
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^warn: Dockerfile is stale: re-rendered for this build; run slimwheel dockerfile \. to update it \(Dockerfile, \.dockerignore, slimwheel\.requirements\.txt: its inputs changed: written from [0-9a-f]{16}, they are [0-9a-f]{16} now \(pyproject\.toml, uv\.lock\)\)$/,
    );
  });

  it("a re-rendering when the build's own options render another Dockerfile than the committed one", async () => {
    const dir = await project("pipenv-django");
    await writePlannedFiles((await planDockerfileFiles(dir, { version: VERSION })).files);
    expect((await choose(dir)).source.kind).toBe("committed");
    const { source, logs } = await choose(dir, {}, { withoutRuntimePackages: ["libpq5"] });
    expect(source.kind).toBe("render");
    expect(logs[0]).toMatch(/^warn: Dockerfile is stale: this build's options render another Dockerfile/);
  });

  it("slimwheel's rendering when the committed one is for another strategy, without calling it stale", async () => {
    const dir = await project("uv-service");
    await writePlannedFiles((await planDockerfileFiles(dir, { version: VERSION, strategy: "venv" })).files);
    const { source, logs } = await choose(dir);
    expect(source.kind).toBe("render");
    expect(logs).toEqual([
      "info: Dockerfile is slimwheel's venv Dockerfile: rendering the slimwheel strategy for this build instead",
    ]);
    expect((await choose(dir, { strategy: "venv" })).source.kind).toBe("committed");
  });

  it("ignores a Dockerfile slimwheel did not write, with a note naming -f", async () => {
    const dir = await project("uv-service");
    await writeFile(join(dir, "Dockerfile"), "FROM scratch\n");
    const { source, logs } = await choose(dir);
    expect(source).toEqual({ kind: "render", note: expect.any(String) });
    expect(logs).toEqual([
      "info: Dockerfile was not written by slimwheel: ignored, building slimwheel's own rendering (to build yours: slimwheel build -f Dockerfile)",
    ]);
  });

  it("renders silently when there is no Dockerfile, or when asked not to look (compare)", async () => {
    const dir = await project("uv-service");
    expect(await choose(dir)).toEqual({ source: { kind: "render" }, logs: [] });
    await writePlannedFiles((await planDockerfileFiles(dir, { version: VERSION })).files);
    expect(await choose(dir, { committed: false })).toEqual({ source: { kind: "render" }, logs: [] });
  });

  it("-f builds the user's file as it is, and refuses the minimal runtime, which needs slimwheel's plan", async () => {
    const dir = await project("uv-service");
    const file = join(dir, "Dockerfile.mine");
    await writeFile(file, "FROM scratch\n");
    const { source, logs } = await choose(dir, { file });
    expect(source).toEqual({ kind: "user", path: file });
    expect(logs[0]).toMatch(/^info: building your Dockerfile .*Dockerfile\.mine as it is \(slim runtime/);
    expect(await sourceDockerfile({ dir: "/nowhere" }, source, () => Promise.resolve("x"))).toBe(file);
    await expect(choose(dir, { file, runtime: "minimal" })).rejects.toMatchObject({
      code: "usage",
      message: expect.stringMatching(/--runtime minimal needs slimwheel's own plan/),
      hint: expect.stringMatching(/drop -f .* or drop --runtime minimal/),
    });
    await expect(choose(dir, { file: join(dir, "nope") })).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(/nope: no such file/),
    });
  });
});
