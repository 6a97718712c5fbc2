import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { minimalImageEpoch } from "./minimize.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("minimalImageEpoch", { timeout: 30_000 }, () => {
  // Regression: the minimal image was written with epoch 0 whenever SOURCE_DATE_EPOCH was unset,
  // so `created` said 1970 and the last commit (issue 11: "taken from the last git commit when
  // unset") was never read.
  it("is SOURCE_DATE_EPOCH when given, else the project's last commit time, else 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-epoch-"));
    dirs.push(dir);
    const env = { PATH: process.env.PATH, HOME: dir };
    expect(await minimalImageEpoch(undefined, env, dir)).toBe(0);
    const git = (...args: string[]) =>
      spawnSync("git", args, {
        cwd: dir,
        env: {
          ...env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.invalid",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.invalid",
          GIT_AUTHOR_DATE: "@1700000000 +0000",
          GIT_COMMITTER_DATE: "@1700000321 +0000",
        },
      });
    git("init", "-q");
    await writeFile(join(dir, "app.py"), "print(1)\n");
    git("add", "app.py");
    git("commit", "-q", "-m", "one");
    expect(await minimalImageEpoch(undefined, env, dir)).toBe(1700000321);
    expect(await minimalImageEpoch(42, env, dir)).toBe(42);
  });
});
