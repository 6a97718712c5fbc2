/**
 * Two builds at once sharing the stage cache: two node processes write and read the same key
 * concurrently; neither ever reads a half-written entry (writes go to a temporary file, then a
 * rename), and no temporary file is left.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { stageKey } from "../pipeline/stage-cache.js";
import type { BuildPlan } from "../plan/types.js";
import { silentReporter } from "../reporter/index.js";

function worker(
  dir: string,
  key: string,
  me: string,
  rounds: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        resolve(import.meta.dirname, "stage-cache-worker.testutil.ts"),
        dir,
        key,
        me,
        String(rounds),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (out += c));
    child.on("error", fail);
    child.on("close", (code) => done({ code, out }));
  });
}

describe("the stage cache shared by two processes", () => {
  it("never shows a reader half an entry, and leaves no temporary file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-cache-race-"));
    try {
      const key = "f".repeat(64);
      const [a, b] = await Promise.all([worker(dir, key, "a", 60), worker(dir, key, "b", 60)]);
      expect(a.code, a.out).toBe(0);
      expect(b.code, b.out).toBe(0);
      const seenA = JSON.parse(a.out) as Record<string, number>;
      const seenB = JSON.parse(b.out) as Record<string, number>;
      // Each read saw a whole entry (the worker exits 1 otherwise), 180 reads per process.
      expect(seenA.a! + seenA.b! + seenA.missing!).toBe(180);
      expect(seenA.missing).toBe(0);
      expect(seenB.missing).toBe(0);
      expect(await readdir(dir)).toEqual([`${key}.json`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the stage cache key over a hostile build context", () => {
  it("never follows a link out of the context nor opens a FIFO (it would block)", async () => {
    const base = await mkdtemp(join(tmpdir(), "slimwheel-cache-key-"));
    try {
      const context = join(base, "context");
      const outside = join(base, "outside.txt");
      await writeFile(outside, "one");
      const { mkdir } = await import("node:fs/promises");
      await mkdir(context);
      await writeFile(join(context, "requirements.txt"), "flask\n");
      await symlink(outside, join(context, "linked.txt"));
      await symlink("/dev/zero", join(context, "zero"));
      expect(spawnSync("mkfifo", [join(context, "pipe")]).status).toBe(0);
      const plan = {
        strategy: "t",
        summary: "",
        args: [],
        stages: [
          {
            name: "deps",
            from: `python@sha256:${"a".repeat(64)}`,
            why: "",
            steps: [{ kind: "copy", why: "", sources: ["."], dest: "/build/" }],
          },
        ],
        generated: [],
        dockerignore: [],
        libc: "glibc",
        runtimePackages: [],
        buildPackages: [],
        artifacts: { stage: "deps", path: "/wheels" },
      } as unknown as BuildPlan;
      const engine = { id: "docker", imageId: async () => undefined } as unknown as Engine;
      const ctx = {
        signal: new AbortController().signal,
        reporter: silentReporter,
        cwd: base,
        env: {},
        now: Date.now,
      } as Context;
      const key = () => stageKey(plan, "deps", { contextDir: context, buildArgs: {} }, engine, ctx);
      const first = await key();
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      // What the link points to outside the context is not part of the key: it was never read.
      await writeFile(outside, "two");
      expect(await key()).toBe(first);
      // The context's own files are.
      await writeFile(join(context, "requirements.txt"), "flask==3\n");
      expect(await key()).not.toBe(first);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  }, 60_000);
});
