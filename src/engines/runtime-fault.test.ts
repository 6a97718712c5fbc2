import { describe, expect, it } from "vitest";
import type { ExecOptions, ExecResult } from "../util/exec.js";
import { execRetryingRuntimeFault } from "./runtime-fault.js";

const FAULT = "Close_Fd sealing memfd copy: Device or resource busy\nError: exit status 1";

/** A `run` that answers from a script of results and records each call's options. */
function scripted(results: ExecResult[]) {
  const calls: ExecOptions[] = [];
  const run = async (_f: string, _a: readonly string[], o: ExecOptions) => {
    calls.push(o);
    return results[Math.min(calls.length - 1, results.length - 1)]!;
  };
  return { run, calls };
}
const result = (code: number, stderr = "", stdout = ""): ExecResult =>
  ({ code, stdout, stderr }) as ExecResult;

describe("execRetryingRuntimeFault", () => {
  it("runs again after the runtime's start-up fault, and returns the run that worked", async () => {
    const s = scripted([result(1, FAULT), result(0, "", "ok")]);
    const r = await execRetryingRuntimeFault("buildah", ["run"], { env: {} }, s.run);
    expect(r.stdout).toBe("ok");
    expect(s.calls).toHaveLength(2);
    expect(s.calls.every((c) => c.allowFailure)).toBe(true);
  });
  it("gives up after three attempts and returns the last failure", async () => {
    const s = scripted([result(1, FAULT)]);
    const r = await execRetryingRuntimeFault("buildah", ["run"], { env: {} }, s.run);
    expect(r.code).toBe(1);
    expect(s.calls).toHaveLength(3);
  });
  it("never runs again a command that failed on its own", async () => {
    const s = scripted([result(1, "ModuleNotFoundError: No module named 'x'")]);
    const r = await execRetryingRuntimeFault("buildah", ["run"], { env: {} }, s.run);
    expect(r.stderr).toContain("ModuleNotFoundError");
    expect(s.calls).toHaveLength(1);
  });
});
