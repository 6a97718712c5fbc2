#!/usr/bin/env node
import { run } from "./program.js";

const controller = new AbortController();
process.once("SIGINT", () => controller.abort(new Error("interrupted")));

const code = await run(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  signal: controller.signal,
});
process.exitCode = code;
