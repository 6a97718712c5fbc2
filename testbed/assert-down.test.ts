import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stillRunning } from "./assert-down.js";

const SCRIPT = join(import.meta.dirname, "assert-down.ts");
const TSX = join(import.meta.dirname, "..", "node_modules", ".bin", "tsx");

const statusJson = (processes: { name: string; pid: number; running: boolean }[]) =>
  JSON.stringify({ processes });

// What .ci/run does after `testbed down`, fed fabricated `status --json` documents (the real test
// bed is never touched).
const check = (input: string) => spawnSync(TSX, [SCRIPT], { input, encoding: "utf8" });

// Each check starts tsx (a second or more on a loaded 2-core machine): a generous timeout.
describe("the CI check that `down` left no process running", { timeout: 60_000 }, () => {
  it("fails, naming the process, when one still runs", () => {
    const r = check(
      statusJson([
        { name: "registry", pid: 11, running: false },
        { name: "dockerd", pid: 4242, running: true },
      ]),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/still running after down: dockerd \(pid 4242\)/);
  });

  it("passes when none runs, or none was recorded", () => {
    expect(check(statusJson([{ name: "index", pid: 12, running: false }])).status).toBe(0);
    const empty = check(statusJson([]));
    expect(empty.status).toBe(0);
    expect(empty.stdout).toMatch(/no processes left/);
  });

  it("fails on input that is not a status document", () => {
    expect(check("{}").status).not.toBe(0);
    expect(() => stillRunning("{}")).toThrow(/not the output/);
  });
});
