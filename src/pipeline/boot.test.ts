/**
 * The boot test's logic over a real loopback server: the "engine" here starts a Node HTTP server on
 * the PORT it is given (as a containerised web server would) and stops when the run is cancelled.
 */
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import type { Engine, RunOptions } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { readProject } from "../project/read.js";
import { silentReporter } from "../reporter/index.js";
import { bootOptions } from "./build-image.js";
import { bootTest, failureHint, findMissing } from "./prove.js";

const ctx = (): Context => ({
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd: "/",
  env: {},
  now: Date.now,
});

/** An engine whose container is a behaviour: serve HTTP on PORT, exit with a code, or keep running. */
function engineThat(
  behaviour: "serve" | "exit0" | "exit1" | "hang" | "serve-elsewhere" | "mute" | "slow" | "runner-fails",
) {
  const seen: { argv: readonly string[]; options?: RunOptions }[] = [];
  const engine = {
    id: "buildah",
    run: async (_image: string, argv: readonly string[], c: Context, options?: RunOptions) => {
      seen.push({ argv, options });
      if (behaviour === "exit0") return { code: 0, stdout: "done\n", stderr: "" };
      if (behaviour === "exit1")
        return { code: 1, stdout: "", stderr: "ModuleNotFoundError: No module named 'gunicorn'\n" };
      if (behaviour === "runner-fails")
        throw new SlimwheelError("engine", "running x in the image's tree: the runner could not set it up");
      // "mute" accepts connections and never answers; "slow" answers its first request after 1.5 s.
      const server = createServer((_req, res) => {
        if (behaviour === "mute") return;
        if (behaviour === "slow") setTimeout(() => res.writeHead(200).end(), 1500);
        else res.writeHead(404).end();
      });
      if (behaviour !== "hang") {
        const port = behaviour === "serve-elsewhere" ? 0 : Number(options?.env?.PORT);
        await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
      }
      await new Promise<void>((r) => c.signal.addEventListener("abort", () => r(), { once: true }));
      server.closeAllConnections();
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

  it("waits for a server whose first answer is slow (its request waits, not a poll), within the window", async () => {
    const r = await bootTest(
      engineThat("slow").engine,
      "img",
      { argv: ["x"], http: true, seconds: 10 },
      ctx(),
    );
    expect(r).toMatchObject({ ok: true, outcome: "serving", status: 200 });
    expect(r.ms).toBeGreaterThanOrEqual(1400);
  });

  it("fails a server that accepts connections but never answers, at the end of the window", async () => {
    const started = Date.now();
    const r = await bootTest(
      engineThat("mute").engine,
      "img",
      { argv: ["x"], http: true, seconds: 1 },
      ctx(),
    );
    expect(r).toMatchObject({ ok: false, outcome: "silent" });
    // The window is the limit (no request outlives it by a timeout of its own).
    expect(Date.now() - started).toBeLessThan(1900);
  });

  it("reports the runner's own failure as such, not as the app exiting", async () => {
    await expect(
      bootTest(engineThat("runner-fails").engine, "img", { argv: ["x"], http: true, seconds: 5 }, ctx()),
    ).rejects.toThrow(/runner could not set it up/);
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
  /** What the closure dropped from a built image (an arm64 one: the path is looked up, not guessed). */
  const dropped = [
    "/usr/bin/perl",
    "/usr/lib/aarch64-linux-gnu/libgomp.so.1",
    "/usr/lib/aarch64-linux-gnu/libgomp.so.1.0.0",
    "/usr/share/misc/magic.mgc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  ];
  const ctypesSmoke = [
    "Traceback (most recent call last):",
    '  File "/app/smoke.py", line 2, in <module>',
    '    ctypes.CDLL("libgomp.so.1")',
    '  File "/usr/local/lib/python3.11/ctypes/__init__.py", line 376, in __init__',
    "    self._handle = _dlopen(self._name, mode)",
    "OSError: libgomp.so.1: cannot open shared object file: No such file or directory",
  ].join("\n");
  const fileBoot = [
    "[2026-11-30 00:10:01 +0000] [1] [INFO] Starting gunicorn 23.0.0",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 4, in <module>',
    '    MAGIC = open("/usr/share/misc/magic.mgc", "rb").read()',
    "FileNotFoundError: [Errno 2] No such file or directory: '/usr/share/misc/magic.mgc'",
    "[2026-11-30 00:10:01 +0000] [1] [ERROR] Worker failed to boot.",
  ].join("\n");

  it("gives the --keep line of the library's real path in the built image (a ctypes dlopen)", () => {
    expect(findMissing(ctypesSmoke, dropped)).toEqual({
      name: "libgomp.so.1",
      kind: "library",
      keep: "/usr/lib/aarch64-linux-gnu/libgomp.so.1",
    });
    const hint = failureHint(ctypesSmoke, { dropped: () => dropped }, "x");
    expect(hint).toContain("--keep /usr/lib/*-linux-gnu*/libgomp.so.1 ");
    // A glob for the multiarch directory: one keep list serves every platform of a build.
    expect(hint).toContain('keep = ["/usr/lib/*-linux-gnu*/libgomp.so.1"]');
    expect(hint).toContain("dropped libgomp.so.1 (/usr/lib/aarch64-linux-gnu/libgomp.so.1)");
    expect(hint).not.toContain("x86_64");
  });

  it("falls back to the plain hint when the dropped files cannot be read (the cache was pruned)", () => {
    const gone = () => {
      throw new Error("reading the layer cache's closure lists: ENOENT");
    };
    expect(failureHint(ctypesSmoke, { dropped: gone }, "see the output above")).toBe("see the output above");
  });

  it("gives the --keep line of a dropped file, or of a directory whose files were dropped", () => {
    expect(failureHint(fileBoot, { dropped: () => dropped }, "x")).toContain(
      "--keep /usr/share/misc/magic.mgc",
    );
    const dir = "FileNotFoundError: [Errno 2] No such file or directory: '/usr/share/fonts/truetype/dejavu'";
    expect(findMissing(dir, dropped)?.keep).toBe("/usr/share/fonts/truetype/dejavu");
  });

  it("names the Debian package route for a library the built image never had", () => {
    const out = "ImportError: libpq.so.5: cannot open shared object file: No such file or directory";
    expect(findMissing(out, dropped)).toEqual({ name: "libpq.so.5", kind: "library" });
    const hint = failureHint(out, { dropped: () => dropped }, "x");
    expect(hint).toContain("libpq.so.5 is not in the built image either");
    expect(hint).toContain("runtime-packages");
    expect(hint).not.toContain("--keep");
  });

  it("falls back to the generic hint on a slim image, a file the image never had, or an unknown failure", () => {
    expect(failureHint(fileBoot, {}, "fallback")).toBe("fallback");
    expect(failureHint(ctypesSmoke, {}, "fallback")).toBe("fallback");
    const appFile = "FileNotFoundError: [Errno 2] No such file or directory: '/app/settings.local.yaml'";
    expect(failureHint(appFile, { dropped: () => dropped }, "fallback")).toBe("fallback");
    expect(failureHint("boom", { dropped: () => dropped }, "fallback")).toBe("fallback");
  });
});
