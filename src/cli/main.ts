#!/usr/bin/env node
import { childTempDir } from "../util/child-tmp.js";
import { run } from "./program.js";

const controller = new AbortController();
// The first SIGINT/SIGTERM cancels: running programs are stopped, temporary directories, working
// containers and partial outputs removed, exit 130. A second one exits at once.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("interrupted"));
  });

const children = await childTempDir(process.env);
const code = await run(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: children.env,
  cwd: process.cwd(),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  signal: controller.signal,
});
await children.remove();
process.exitCode = code;
