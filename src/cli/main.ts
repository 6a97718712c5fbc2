#!/usr/bin/env node
// The signal handlers come first, before the modules load (that takes a few hundred ms): an
// interruption at any moment after Node itself has started is a cancellation, exit 130.
const controller = new AbortController();
// The first SIGINT/SIGTERM cancels: running programs are stopped, temporary directories, working
// containers and partial outputs removed, exit 130. A second one exits at once.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("interrupted"));
  });

const { childTempDir } = await import("../util/child-tmp.js");
const { run } = await import("./program.js");
if (controller.signal.aborted) {
  process.stderr.write("error: interrupted\n");
  process.exitCode = 130;
} else {
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
  // Exit once stdout and stderr are flushed, without waiting for the event loop to drain: that
  // would also wait for V8's background work — the WebAssembly of undici's HTTP parser, which V8
  // goes on optimizing after a push or a registry read — which added 120–300 ms to a command.
  const flushed = (s: NodeJS.WriteStream) => new Promise<void>((r) => s.write("", () => r()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
