import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/testing.js";
import type { CompareReport } from "../src/pipeline/compare.js";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
let tb: Endpoints;
let work: string;
beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-compare-test-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe("slimwheel compare", () => {
  let report: CompareReport;
  const html = () => join(work, "report.html");

  it("builds each strategy cold and warm and reports sizes, layers, times and smoke results as JSON", async () => {
    const r = await runCli(
      [
        "--json",
        "compare",
        join(ROOT, "examples", "flask-app"),
        "--strategies",
        "slim,slimwheel",
        "--engine",
        "buildah",
        "--builder-image",
        tb.images.builder.pinned,
        "--runtime-image",
        tb.images.runtime.pinned,
        "--index-url",
        tb.index.url,
        "--html",
        html(),
      ],
      { env: process.env },
    );
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    report = JSON.parse(r.stdout) as CompareReport;
    expect(report.engine.id).toBe("buildah");
    expect(report.changedFile).toBe("app.py");
    // The slimwheel strategy is measured twice: its minimal runtime (the default) beside the slim one.
    expect(report.rows.map((row) => [row.strategy, row.runtime, row.status])).toEqual([
      ["slim", "slim", "ok"],
      ["slimwheel", "minimal", "ok"],
      ["slimwheel", "slim", "ok"],
    ]);
    for (const row of report.rows) {
      expect(row.coldMs).toBeGreaterThan(0);
      expect(row.warmMs).toBeGreaterThan(0);
      expect(row.compressedBytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(row.uncompressedBytes).toBeGreaterThan(row.compressedBytes!);
      expect(row.smoke?.ok).toBe(true);
      expect(row.smoke?.output).toMatch(/imported \d+ modules/);
    }
    const sw = report.rows.find((row) => row.strategy === "slimwheel" && row.runtime === "slim")!;
    expect(sw.changedLayers).toBe(1);
    expect(sw.toolchainBytes).toBe(0);
    // Only the base's /etc/passwd, rewritten with the app user.
    expect(sw.wasteBytes).toBeLessThan(64 * 1024);
    const minimal = report.rows.find((row) => row.runtime === "minimal")!;
    expect(minimal.changedLayers).toBe(1);
    // The system layer rewrites the runtime layer's /etc/passwd, /etc/group and dpkg status (with
    // the app user and the packages it added): a few KB, by design.
    expect(minimal.wasteBytes).toBeLessThan(64 * 1024);
    expect(minimal.uncompressedBytes).toBeLessThan(sw.uncompressedBytes! * 0.6);
  });

  it("writes a self-contained HTML report that a real browser renders with its bar charts", async () => {
    if (!CHROMIUM)
      throw new Error("chromium is not installed (apt-get install chromium): .ci/run installs it");
    const text = await readFile(html(), "utf8");
    expect(text).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const png = join(work, "report.png");
    await exec(
      CHROMIUM,
      [
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${join(work, "chrome")}`,
        "--window-size=1000,1400",
        `--screenshot=${png}`,
        `file://${html()}`,
      ],
      { env: process.env },
    );
    const buf = await readFile(png);
    expect(buf.subarray(1, 4).toString()).toBe("PNG");
    expect(buf.readUInt32BE(16)).toBe(1000);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    const dom = await exec(
      CHROMIUM,
      [...CHROMIUM_FLAGS, `--user-data-dir=${join(work, "chrome2")}`, "--dump-dom", `file://${html()}`],
      { env: process.env },
    );
    expect(dom.stdout.match(/<rect /g)?.length).toBe(12); // 4 charts × 3 rows
    expect(dom.stdout).toContain("slimwheel/slim");
    expect(dom.stdout).toContain("slimwheel compare: flask-app");
  });
});
