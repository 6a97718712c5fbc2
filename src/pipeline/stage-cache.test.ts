import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { mountedStages, stageClosure } from "../plan/stages.js";
import type { BuildPlan } from "../plan/types.js";
import { silentReporter } from "../reporter/index.js";
import { readStageCache, stageKey, writeStageCache } from "./stage-cache.js";

const plan: BuildPlan = {
  strategy: "t",
  summary: "",
  args: [
    { name: "PYTHON_VERSION", default: "3.11", why: "" },
    { name: "BUILDER_IMAGE", default: "python:${PYTHON_VERSION}", why: "" },
  ],
  stages: [
    {
      name: "deps",
      from: "${BUILDER_IMAGE}",
      why: "",
      steps: [
        { kind: "copy", why: "", sources: ["requirements.txt"], dest: "/build/" },
        { kind: "run", why: "", commands: ["pip wheel -w /wheels -r /build/requirements.txt"] },
      ],
    },
    { name: "other", from: "python:3.11", why: "", steps: [] },
    {
      name: "final",
      from: "python:3.11-slim",
      why: "",
      steps: [
        {
          kind: "run",
          why: "",
          commands: ["pip install"],
          mounts: [{ type: "bind", from: "deps", source: "/w", target: "/w" }],
        },
        { kind: "copy", why: "", sources: ["."], dest: "/app/" },
      ],
    },
  ],
  generated: [],
  dockerignore: [],
  libc: "glibc",
  runtimePackages: [],
  buildPackages: [],
  artifacts: { stage: "deps", path: "/wheels" },
};

/** An engine that knows a fixed set of local images: stageKey only asks for image IDs. */
function fakeEngine(images: Record<string, string>): Engine {
  return { id: "buildah", imageId: async (ref: string) => images[ref] } as unknown as Engine;
}

let dir: string;
const ctx: Context = {
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd: process.cwd(),
  env: process.env,
  now: Date.now,
};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slimwheel-stage-cache-"));
  await writeFile(join(dir, "requirements.txt"), "flask==3.0.0\n");
  await writeFile(join(dir, "app.py"), "print(1)\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the stage cache key", () => {
  const engine = fakeEngine({ "python:3.11": `sha256:${"a".repeat(64)}` });
  const key = (p = plan, args: Record<string, string> = {}, e = engine) =>
    stageKey(p, "deps", { contextDir: dir, buildArgs: args }, e, ctx);

  it("covers the stage and the stages it uses, not later ones", () => {
    expect(stageClosure(plan, "final").map((s) => s.name)).toEqual(["deps", "final"]);
    expect(stageClosure(plan, "deps").map((s) => s.name)).toEqual(["deps"]);
  });

  it("knows from the plan's mounts which stages a build mounts", () => {
    expect(mountedStages(plan, "final")).toEqual(["deps"]);
    expect(mountedStages(plan, "deps")).toEqual([]);
  });

  it("stays the same when only the app's code changes", async () => {
    const before = await key();
    await writeFile(join(dir, "app.py"), "print(2)\n");
    expect(await key()).toBe(before);
  });

  it("changes with the dependency list, a build argument, the base image's ID or the stage's steps", async () => {
    const before = await key();
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(await key(plan, { PIP_INDEX_URL: "http://127.0.0.1:1/simple" })).not.toBe(before);
    expect(await key(plan, {}, fakeEngine({ "python:3.11": `sha256:${"b".repeat(64)}` }))).not.toBe(before);
    const changed: BuildPlan = {
      ...plan,
      stages: [
        { ...plan.stages[0]!, steps: [...plan.stages[0]!.steps, { kind: "workdir", why: "", path: "/x" }] },
        ...plan.stages.slice(1),
      ],
    };
    expect(await key(changed)).not.toBe(before);
    await writeFile(join(dir, "requirements.txt"), "flask==3.0.1\n");
    expect(await key()).not.toBe(before);
  });

  it("is unknown when the base image is neither local nor pinned by digest", async () => {
    expect(await key(plan, {}, fakeEngine({}))).toBeUndefined();
    const pinned = `python@sha256:${"c".repeat(64)}`;
    expect(await key(plan, { BUILDER_IMAGE: pinned }, fakeEngine({}))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("stage cache entries", () => {
  it("round-trip, and a corrupt or old entry is a miss", async () => {
    const entry = {
      format: 1,
      imageId: `sha256:${"d".repeat(64)}`,
      ref: "localhost/slimwheel-stage:deps-dddd",
      detection: {
        resolution: { needs: [], provided: [], unresolved: [], packageOf: {} },
        extensions: 0,
        wheels: 3,
      },
    };
    await writeStageCache(dir, "k1", entry);
    expect(await readStageCache(dir, "k1")).toEqual(entry);
    await writeFile(join(dir, "k2.json"), "{not json");
    expect(await readStageCache(dir, "k2")).toBeUndefined();
    await writeStageCache(dir, "k3", { ...entry, format: 0 });
    expect(await readStageCache(dir, "k3")).toBeUndefined();
    expect(await readStageCache(dir, "missing")).toBeUndefined();
  });
});
