/**
 * Engine faults (issue 13): `slimwheel build` of examples/flask-app with buildah, whose `buildah bud`
 * is killed (SIGKILL) from outside while it builds. The CLI must exit 1 (not 130, not 70) with an
 * error naming the engine and the step, no stack trace, no working container left (neither those
 * the CLI names itself nor those its `buildah bud` made, found by the build id each records) and no
 * partial output; and another `buildah bud` from the same base running at that moment keeps its
 * working container and finishes. And `build --output` onto a 2 MiB tmpfs (oci:DIR, docker-archive:FILE): exit 1, the path
 * named, the full disk and the image's size said, nothing left on the tmpfs.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { containersOfBuild } from "../src/engines/build-owner.js";
import { containersOfCli } from "./helpers/buildah.js";

const ROOT = join(import.meta.dirname, "..");
const TAG = "localhost/slimwheel-engine-faults/flask:t";
const FOREIGN = "localhost/slimwheel-engine-faults/foreign:t";
const tb = await readEndpoints();
let work: string;

/** The parent pid of a process, from /proc (undefined when it is gone). */
async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return undefined;
  // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")".
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

async function descendsFrom(pid: number, ancestor: number): Promise<boolean> {
  for (let p: number | undefined = pid, i = 0; p && p > 1 && i < 64; i++) {
    if (p === ancestor) return true;
    p = await parentOf(p);
  }
  return false;
}

/** A `buildah bud` started (directly or not) by `ancestor`, or undefined. */
async function findBud(ancestor: number): Promise<number | undefined> {
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const argv = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (!/(^|\/)buildah$/.test(argv[0] ?? "") || argv[1] !== "bud") continue;
    if (await descendsFrom(pid, ancestor)) return pid;
  }
  return undefined;
}

/** The CLI's build of flask-app (no boot test) to `output`, its programs' TMPDIR `temp`. */
function startBuild(output: string, temp: string, extra: readonly string[] = []) {
  return spawn(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "build",
      join(ROOT, "examples", "flask-app"),
      ...["-t", TAG, "--engine", "buildah", "--runtime", "slim", "--no-boot-test", "--no-import-test"],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url, "--output", output, ...extra],
    ],
    { env: { ...process.env, TMPDIR: temp }, stdio: ["ignore", "pipe", "pipe"] },
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-engine-faults-"));
});
afterAll(async () => {
  spawnSync("umount", [join(work, "full")]);
  await exec("buildah", ["rmi", "-f", TAG, FOREIGN], { env: process.env, allowFailure: true });
  await rm(work, { recursive: true, force: true });
});

describe("the engine killed mid-build", () => {
  it("exits 1 naming buildah and the step; no working container, no partial output, no stack trace", async () => {
    const out = join(work, "out");
    const temp = join(work, "tmp");
    await mkdir(out);
    await mkdir(temp);
    // Another build on the same storage, from the same base (so buildah names its working container
    // like the CLI's): it must survive the CLI's clean-up and finish.
    const foreign = join(work, "foreign");
    await mkdir(foreign);
    await writeFile(join(foreign, "Dockerfile"), `FROM ${tb.images.runtime.pinned}\nRUN sleep 12\n`);
    const other = spawn(
      "buildah",
      ["bud", "--isolation", "chroot", "--tls-verify=false", "-t", FOREIGN, foreign],
      { env: process.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let otherOut = "";
    other.stdout.on("data", (d: Buffer) => (otherOut += d));
    other.stderr.on("data", (d: Buffer) => (otherOut += d));
    const otherDone = new Promise<number | null>((res) => other.on("close", (c) => res(c)));
    const child = startBuild(`oci:${join(out, "image")}`, temp);
    let stderr = "";
    child.stdout.on("data", () => {});
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const closed = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
    let exited = false;
    void closed.then(() => (exited = true));
    let killed: number | undefined;
    let sawContainer = false;
    while (!exited && killed === undefined) {
      const bud = await findBud(child.pid!);
      if (bud !== undefined) {
        // Let it start its work (its working container exists: what a kill leaves behind), then
        // kill it as an OOM killer or an operator would.
        const budContainers = () =>
          containersOfBuild((id) => id.startsWith(`slimwheel-${child.pid}-`), process.env, true);
        for (let i = 0; i < 100 && !exited && (await budContainers()).length === 0; i++)
          await new Promise((r) => setTimeout(r, 100));
        sawContainer ||= (await budContainers()).length > 0;
        try {
          process.kill(bud, "SIGKILL");
          killed = bud;
        } catch {
          // it ended meanwhile: look for the next one
        }
      } else await new Promise((r) => setTimeout(r, 50));
    }
    const code = await closed;
    console.log(`buildah bud ${killed} killed; the CLI said:\n${stderr.slice(-1200)}`);
    expect(killed, `no buildah bud was seen: ${stderr}`).toBeDefined();
    expect(sawContainer, "the killed build had no working container yet").toBe(true);
    expect(code, stderr).toBe(1);
    // The engine and the step (the stage or image being built) are named.
    expect(stderr).toMatch(/buildah was killed by SIGKILL/);
    expect(stderr).toMatch(/building (stage "\w+"|localhost\/slimwheel-engine-faults\/flask:t) with buildah/);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?/); // no stack trace
    expect(stderr).not.toMatch(/unexpected error/i);
    expect(stderr).toContain("killed from outside");
    expect(await readdir(out), "partial output").toEqual([]);
    expect(await readdir(temp), "temporary files left").toEqual([]);
    expect(await containersOfCli(child.pid!), "working containers left").toEqual([]);
    expect(await otherDone, `the other build failed:\n${otherOut.slice(-1500)}`).toBe(0);
  });
});

describe("build --output on a full disk", () => {
  it("oci:DIR and docker-archive:FILE on a 2 MiB tmpfs: exit 1 naming the path and the full disk, nothing left", async (t) => {
    const full = join(work, "full");
    await mkdir(full);
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", full], { encoding: "utf8" });
    if (m.status !== 0) {
      console.warn(`skipped: mount -t tmpfs failed (${m.stderr.trim()}): needs root and CAP_SYS_ADMIN`);
      t.skip();
    }
    const temp = join(work, "tmp-full");
    await mkdir(temp);
    for (const [kind, path] of [
      ["oci", join(full, "image")],
      ["docker-archive", join(full, "image.tar")],
    ] as const) {
      const child = startBuild(`${kind}:${path}`, temp);
      let stderr = "";
      child.stdout.on("data", () => {});
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
      expect(code, stderr.slice(-3000)).toBe(1);
      expect(stderr).toContain(`cannot write ${path}: the disk is full`);
      expect(stderr).toMatch(/which needs about [\d.]+ [KMG]?B uncompressed/); // the bytes needed
      expect(stderr).toContain("ENOSPC");
      expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);
      expect(await readdir(full), `${kind}: partial output`).toEqual([]);
      expect(await readdir(temp), `${kind}: temporary files left`).toEqual([]);
      expect(await containersOfCli(child.pid!), `${kind}: working containers left`).toEqual([]);
    }
  });
});
