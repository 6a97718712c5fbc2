import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";

const BIN = join(import.meta.dirname, "..", "dist", "cli", "main.js");

// The built `slimwheel` binary (npm test builds before testing), run as a user runs it.
describe("the slimwheel binary", () => {
  it("prints its version and exits 0", async () => {
    const r = await exec(process.execPath, [BIN, "--version"], { env: process.env });
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("exits 2 on a bad flag, without a stack trace", async () => {
    const r = await exec(process.execPath, [BIN, "--nope"], { env: process.env, allowFailure: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option '--nope'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
