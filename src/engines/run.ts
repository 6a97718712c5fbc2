/**
 * `docker run` / `podman run` of a command in a fresh, named container. The client process is
 * not the container: when the command is cancelled (ctx.signal), the container is removed by
 * name with `rm -f`, so no server keeps running (or holding its port) after a boot test.
 */
import { randomBytes } from "node:crypto";
import type { Context } from "../context.js";
import { type Env, type ExecResult, exec } from "../util/exec.js";
import type { RunOptions } from "./types.js";

export async function runDetachable(
  program: string,
  image: string,
  command: readonly string[],
  ctx: Context,
  env: Env,
  options: RunOptions = {},
): Promise<ExecResult> {
  const name = `slimwheel-run-${process.pid}-${randomBytes(4).toString("hex")}`;
  const args = ["run", "--rm", "--name", name, "--network", options.network ?? "none"];
  if (options.user) args.push("--user", options.user);
  if (options.workdir) args.push("--workdir", options.workdir);
  for (const [k, v] of Object.entries(options.env ?? {})) args.push("--env", `${k}=${v}`);
  try {
    return await exec(program, [...args, image, ...command], { env, signal: ctx.signal, allowFailure: true });
  } finally {
    if (ctx.signal.aborted) await exec(program, ["rm", "-f", name], { env, allowFailure: true });
  }
}
