import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "./exec.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slimwheel-exec-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Whether a process runs (a zombie — ended, not yet reaped by init — does not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};
const settle = () => new Promise((r) => setTimeout(r, 200));

describe("exec with a process group of its own", () => {
  it("ends the program's children too when cancelled (a server a `buildah run` started)", async () => {
    const pidfile = join(dir, "cancelled.pid");
    const abort = new AbortController();
    const running = exec("sh", ["-c", `sleep 60 & echo $! > ${pidfile}; wait`], {
      env: process.env,
      signal: abort.signal,
      group: true,
    });
    await new Promise((r) => setTimeout(r, 300));
    const child = Number(await readFile(pidfile, "utf8"));
    expect(alive(child)).toBe(true);
    abort.abort();
    await expect(running).rejects.toMatchObject({ code: "cancelled" });
    await settle();
    expect(alive(child)).toBe(false);
  });

  it("leaves nothing of the group behind when the program exits; without a group, the child outlives it", async () => {
    const grouped = join(dir, "grouped.pid");
    await exec("sh", ["-c", `sleep 60 >/dev/null 2>&1 & echo $! > ${grouped}`], {
      env: process.env,
      group: true,
    });
    await settle();
    expect(alive(Number(await readFile(grouped, "utf8")))).toBe(false);
    const plain = join(dir, "plain.pid");
    await exec("sh", ["-c", `sleep 60 >/dev/null 2>&1 & echo $! > ${plain}`], { env: process.env });
    const orphan = Number(await readFile(plain, "utf8"));
    expect(alive(orphan)).toBe(true);
    process.kill(orphan, "SIGKILL");
  });
});
