import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Env } from "./exec.js";

/**
 * A temporary directory for the programs slimwheel starts (buildah, docker, pip): their `TMPDIR`
 * points into it, and it is removed when the command ends — also when it was interrupted and a
 * program was stopped before it could clean up after itself (buildah leaves `buildahNNN`
 * directories when stopped mid-pull or mid-commit).
 */
export async function childTempDir(env: Env): Promise<{ env: Env; remove: () => Promise<void> }> {
  const base = env.TMPDIR || tmpdir();
  let dir: string;
  try {
    dir = await mkdtemp(join(base, "slimwheel-run-"));
  } catch {
    // No writable temporary directory: the programs keep theirs (the command reports its own error).
    return { env, remove: async () => {} };
  }
  return {
    env: { ...env, TMPDIR: dir },
    remove: async () => {
      // Never remove through a mount a stopped program left behind.
      const mounts = await readFile("/proc/self/mounts", "utf8").catch(() => "");
      const inside = mounts
        .split("\n")
        .map((l) => l.split(" ")[1]?.replace(/\\040/g, " ") ?? "")
        .some((m) => m === dir || m.startsWith(`${dir}/`));
      if (!inside) await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
