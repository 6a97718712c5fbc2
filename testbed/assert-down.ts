/**
 * `npm run --silent testbed -- status --json | tsx testbed/assert-down.ts`: exits 1 (naming them)
 * when any of the test bed's processes still runs, 0 when none does. .ci/run calls it after `down`.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { ProcessStatus } from "./testbed.js";

/** The processes of a `testbed status --json` document that still run. */
export function stillRunning(statusJson: string): ProcessStatus[] {
  const s = JSON.parse(statusJson) as { processes?: ProcessStatus[] };
  if (!Array.isArray(s.processes)) throw new Error("not the output of `testbed status --json`: no processes");
  return s.processes.filter((p) => p.running);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const running = stillRunning(readFileSync(0, "utf8"));
  if (running.length) {
    process.stderr.write(
      `test bed processes still running after down: ${running.map((p) => `${p.name} (pid ${p.pid})`).join(", ")}\n`,
    );
    process.exitCode = 1;
  } else {
    process.stdout.write("test bed down: no processes left\n");
  }
}
