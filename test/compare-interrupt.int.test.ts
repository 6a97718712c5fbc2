/**
 * Interruption of `compare` (issue 13): `slimwheel compare examples/flask-app --strategies slim`
 * with buildah, interrupted with SIGINT at 3 moments chosen by what it prints (--verbose): during
 * the cold engine build, while it measures (exports and reads) the image, and during the cached
 * rebuild. Each time: exit 130, no stack trace, nothing left in TMPDIR (an empty directory of the
 * test's), none of the CLI's working containers (those it names itself, `slimwheel-PID-…`, and
 * those its `buildah bud`s made, found by the build id each records), no image left under
 * compare's tag, and no report — no
 * `--html` file (nor its temporary file), no JSON report on stdout.
 */
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { containersOfCli } from "./helpers/buildah.js";

const ROOT = join(import.meta.dirname, "..");
// A copy of flask-app under its own name: compare tags its images by the project's name, and
// other runs compare examples/flask-app on the same engine storage.
const PROJECT = "flask-compare-interrupt";
const TAG = `localhost/slimwheel-compare/${PROJECT}:slim`;
const tb = await readEndpoints();
let work: string;

/** Runs compare; sends SIGINT `delayMs` after the `nth` (1-based) line of stderr matching `when`. */
function compare(temp: string, html: string, when: RegExp, nth: number, delayMs: number) {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "--verbose",
      "--json",
      "compare",
      join(work, PROJECT),
      ...["--strategies", "slim", "--engine", "buildah", "--html", html],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url],
    ],
    { env: { ...process.env, TMPDIR: temp }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let seen = 0;
  let sent = false;
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => {
    const before = stderr;
    stderr += d;
    if (sent) return;
    // Count matches in whole lines only.
    const lines = stderr
      .slice(before.lastIndexOf("\n") + 1)
      .split("\n")
      .slice(0, -1);
    for (const l of lines) if (when.test(l)) seen++;
    if (seen >= nth) {
      sent = true;
      setTimeout(() => child.kill("SIGINT"), delayMs);
    }
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string; sent: boolean; pid: number }>(
    (res) => child.on("close", (code) => res({ code, stdout, stderr, sent, pid: child.pid! })),
  );
}

const imageExists = async (ref: string) =>
  (await exec("buildah", ["inspect", "--type", "image", ref], { env: process.env, allowFailure: true }))
    .code === 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-compare-interrupt-"));
  await cp(join(ROOT, "examples", "flask-app"), join(work, PROJECT), { recursive: true });
});
afterAll(async () => {
  await exec("buildah", ["rmi", "-f", TAG], { env: process.env, allowFailure: true });
  await rm(work, { recursive: true, force: true });
});

describe("compare interrupted", () => {
  it("exits 130 at each moment, leaving no temporary directory, working container, image or report", async () => {
    const moments = [
      {
        what: "the cold engine build",
        when: /^… building localhost\/slimwheel-compare\//,
        nth: 1,
        delayMs: 1500,
      },
      { what: "measuring the image", when: /^… slim: measuring the image/, nth: 1, delayMs: 100 },
      {
        what: "the cached rebuild",
        when: /^… building localhost\/slimwheel-compare\//,
        nth: 2,
        delayMs: 300,
      },
    ];
    for (const [i, m] of moments.entries()) {
      const temp = join(work, `tmp${i}`);
      const out = join(work, `out${i}`);
      await mkdir(temp);
      await mkdir(out);
      const r = await compare(temp, join(out, "report.html"), m.when, m.nth, m.delayMs);
      expect(r.sent, `${m.what}: the moment never came:\n${r.stderr.slice(-3000)}`).toBe(true);
      expect(r.code, `${m.what}:\n${r.stderr.slice(-3000)}`).toBe(130);
      expect(r.stderr, m.what).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);
      expect(r.stdout, `${m.what}: a report was printed`).not.toContain('"rows"');
      expect(await readdir(out), `${m.what}: partial report`).toEqual([]);
      expect(await readdir(temp), `${m.what}: temporary files left`).toEqual([]);
      expect(await imageExists(TAG), `${m.what}: ${TAG} left`).toBe(false);
      expect(await containersOfCli(r.pid), `${m.what}: working containers left`).toEqual([]);
    }
  });
});
