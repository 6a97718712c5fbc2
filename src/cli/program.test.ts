import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ExitCode, SlimwheelError } from "../errors.js";
import type { CliIO } from "./io.js";
import { reportError, run } from "./program.js";
import { runCli } from "./testing.js";

const version = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

function captureIO(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env: {},
    cwd: "/",
    stderrIsTTY: false,
    stdoutIsTTY: false,
    signal: new AbortController().signal,
  };
}

describe("slimwheel CLI shell", () => {
  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it("--help lists the global flags and the exit codes", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--json", "--quiet", "--verbose", "--no-color"]) expect(r.stdout).toContain(flag);
    expect(r.stdout).toMatch(/Exit codes:[\s\S]*2\s+bad input/);
  });

  it("no arguments prints the help", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: slimwheel");
  });

  it("an unknown flag is a usage error (exit 2) with a hint, not a stack trace", async () => {
    const r = await runCli(["--frobnicate"]);
    expect(r.code).toBe(ExitCode.usage);
    expect(r.stderr).toMatch(/^error: unknown option '--frobnicate'/);
    expect(r.stderr).toContain("hint: run `slimwheel --help`");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });

  it("an unknown command is a usage error", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(ExitCode.usage);
    expect(r.stderr).toMatch(/error: .*frobnicate/);
  });

  it("with --json, a usage error is JSON on stdout and nothing else is there", async () => {
    const r = await runCli(["--json", "--frobnicate"]);
    expect(r.code).toBe(ExitCode.usage);
    const parsed = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; hint: string } };
    expect(parsed.ok).toBe(false);
    expect(parsed.error.code).toBe("usage");
    expect(parsed.error.hint).toMatch(/--help/);
  });
});

describe("reportError", () => {
  it("prints location, details and hint of a SlimwheelError and returns its exit code", () => {
    const io = captureIO();
    const e = new SlimwheelError("input", "expected '=' after a key", {
      location: "pyproject.toml:3:7",
      hint: "check the TOML syntax",
      details: '  3 | name "x"',
    });
    expect(reportError(e, io, { json: false, verbose: false })).toBe(ExitCode.usage);
    expect(io.err.join("")).toBe(
      "error: pyproject.toml:3:7: expected '=' after a key\n  3 | name \"x\"\nhint: check the TOML syntax\n",
    );
  });

  it("failures (not input errors) exit 1", () => {
    const io = captureIO();
    expect(
      reportError(new SlimwheelError("engine", "buildah failed"), io, { json: false, verbose: false }),
    ).toBe(ExitCode.failure);
  });

  it("an unexpected error exits 70, asks for a report and hides the stack unless --verbose", () => {
    const quiet = captureIO();
    expect(reportError(new TypeError("x is undefined"), quiet, { json: false, verbose: false })).toBe(
      ExitCode.internal,
    );
    const text = quiet.err.join("");
    expect(text).toContain("unexpected error (a bug): x is undefined");
    expect(text).toContain("Please report it");
    expect(text).not.toMatch(/\n\s+at /);

    const verbose = captureIO();
    reportError(new TypeError("x is undefined"), verbose, { json: false, verbose: true });
    expect(verbose.err.join("")).toMatch(/\n\s+at /);
  });
});

describe("after an interruption", () => {
  it("reports whatever failed next as the interruption: exit 130, no other error", async () => {
    const controller = new AbortController();
    controller.abort(new Error("interrupted"));
    let stderr = "";
    const code = await run(["plan", "/nonexistent/slimwheel-project"], {
      stdout: () => undefined,
      stderr: (t) => {
        stderr += t;
      },
      env: {},
      cwd: "/",
      stderrIsTTY: false,
      stdoutIsTTY: false,
      signal: controller.signal,
    });
    expect(code).toBe(130);
    expect(stderr).toMatch(/^error: interrupted\nwhile: /);
  });
});
