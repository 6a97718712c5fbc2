/**
 * The boot test's logic over a real loopback server: the "engine" here starts a Node HTTP server on
 * the PORT it is given (as a containerised web server would) and stops when the run is cancelled.
 */
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { Engine, RunOptions } from "../engines/types.js";
import { readProject } from "../project/read.js";
import { silentReporter } from "../reporter/index.js";
import { bootOptions } from "./build-image.js";
import { bootTest, failureHint } from "./prove.js";

const ctx = (): Context => ({
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd: "/",
  env: {},
  now: Date.now,
});

/** An engine whose container is a behaviour: serve HTTP on PORT, exit with a code, or keep running. */
function engineThat(behaviour: "serve" | "exit0" | "exit1" | "hang" | "serve-elsewhere") {
  const seen: { argv: readonly string[]; options?: RunOptions }[] = [];
  const engine = {
    id: "buildah",
    run: async (_image: string, argv: readonly string[], c: Context, options?: RunOptions) => {
      seen.push({ argv, options });
      if (behaviour === "exit0") return { code: 0, stdout: "done\n", stderr: "" };
      if (behaviour === "exit1")
        return { code: 1, stdout: "", stderr: "ModuleNotFoundError: No module named 'gunicorn'\n" };
      const server = createServer((_req, res) => res.writeHead(404).end());
      if (behaviour !== "hang") {
        const port = behaviour === "serve" ? Number(options?.env?.PORT) : 0;
        await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
      }
      await new Promise<void>((r) => c.signal.addEventListener("abort", () => r(), { once: true }));
      await new Promise<void>((r) => server.close(() => r()));
      throw new Error("cancelled");
    },
  } as unknown as Engine;
  return { engine, seen };
}

describe("the boot test", () => {
  it("passes when the server answers HTTP on the PORT it was given (any status), on the host's network", async () => {
    const { engine, seen } = engineThat("serve");
    const r = await bootTest(
      engine,
      "img",
      { argv: ["gunicorn", "app:app"], http: true, seconds: 10 },
      ctx(),
    );
    expect(r).toMatchObject({ ok: true, outcome: "serving", status: 404 });
    expect(seen[0]!.options).toMatchObject({ network: "host", env: { PORT: String(r.port) } });
  });

  it("fails when the server exits, with its output", async () => {
    const r = await bootTest(
      engineThat("exit1").engine,
      "img",
      { argv: ["gunicorn"], http: true, seconds: 10 },
      ctx(),
    );
    expect(r).toMatchObject({ ok: false, outcome: "exited" });
    expect(r.output).toContain("No module named 'gunicorn'");
  });

  it("fails when a server does not answer on PORT within the window", async () => {
    const r = await bootTest(
      engineThat("serve-elsewhere").engine,
      "img",
      { argv: ["x"], http: true, seconds: 1 },
      ctx(),
    );
    expect(r).toMatchObject({ ok: false, outcome: "silent" });
  });

  it("passes a command that is not a server when it keeps running, or exits 0; fails on another exit code", async () => {
    expect(
      await bootTest(engineThat("hang").engine, "img", { argv: ["worker"], http: false, seconds: 1 }, ctx()),
    ).toMatchObject({
      ok: true,
      outcome: "running",
    });
    expect(
      await bootTest(engineThat("exit0").engine, "img", { argv: ["cli"], http: false }, ctx()),
    ).toMatchObject({
      ok: true,
      outcome: "completed",
    });
    expect(
      await bootTest(engineThat("exit1").engine, "img", { argv: ["cli"], http: false }, ctx()),
    ).toMatchObject({
      ok: false,
      outcome: "exited",
    });
  });

  it("runs the start command as the image does: through sh on the slim runtime, in exec form on the minimal one", async () => {
    const flask = await readProject(`${import.meta.dirname}/../../examples/flask-app`);
    expect(bootOptions(flask, false)).toMatchObject({ argv: ["sh", "-c", flask.start!.command], http: true });
    expect(bootOptions(flask, true)?.argv[0]).toBe("python3");
    expect(bootOptions(flask, true)?.fixedPort).toBeUndefined();
  });
});

describe("the hint of a failed proof", () => {
  const out =
    "Traceback…\nFileNotFoundError: [Errno 2] No such file or directory: '/usr/share/misc/magic.mgc'\n";
  it("names the missing file and the --keep line for a minimal image", () => {
    expect(failureHint(out, { keepHint: true }, "x")).toContain("--keep /usr/share/misc/magic.mgc");
    expect(failureHint("libmagic.so.1: cannot open shared object file", { keepHint: true }, "x")).toContain(
      "libmagic.so.1 is not in the minimal image",
    );
  });
  it("falls back to the generic hint on a slim image or an unknown failure", () => {
    expect(failureHint(out, { keepHint: false }, "fallback")).toBe("fallback");
    expect(failureHint("boom", { keepHint: true }, "fallback")).toBe("fallback");
  });
});
