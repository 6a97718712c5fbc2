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

// A reader that stops reading (`slimwheel … | head`) is no failure of the command: what it would
// still print is dropped, and the command finishes its work (its files are written atomically).
const closed = new Set<NodeJS.WriteStream>();
for (const s of [process.stdout, process.stderr])
  s.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    closed.add(s);
  });
const write = (s: NodeJS.WriteStream, t: string) => {
  if (!closed.has(s)) s.write(t);
};

// No top-level await: the bundle is CommonJS, which V8's code cache serves (scripts/bundle-cli.mjs).
async function main(): Promise<void> {
  const { childTempDir } = await import("../util/child-tmp.js");
  const { run } = await import("./program.js");
  if (controller.signal.aborted) {
    process.stderr.write("error: interrupted\n");
    process.exitCode = 130;
  } else {
    const children = await childTempDir(process.env);
    const code = await run(process.argv.slice(2), {
      stdout: (t) => write(process.stdout, t),
      stderr: (t) => write(process.stderr, t),
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
    const flushed = (s: NodeJS.WriteStream) =>
      new Promise<void>((r) => (closed.has(s) || s.destroyed ? r() : s.write("", () => r())));
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  }
}

void main();
