import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

describe("slimwheel lint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "slimwheel-lint-cli-"));
    await writeFile(
      join(dir, "Dockerfile"),
      "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n",
    );
    await writeFile(
      join(dir, "good.Dockerfile"),
      "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\nUSER 10001\n",
    );
    await writeFile(
      join(dir, "info.Dockerfile"),
      "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n",
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lints ./Dockerfile by default, prints findings with cost and fix, exits 1 on warnings", async () => {
    const r = await runCli(["lint"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "Dockerfile:1:1  warning  full-python-final  the final image starts from python:3.12",
    );
    expect(r.stdout).toContain("Dockerfile:4:1  warning  deps-after-copy-all");
    expect(r.stdout).toContain("cost: ≈ 900 MB");
    expect(r.stdout).toContain("fix:  use python:3.12-slim for the final stage");
  });

  it("exits 0 when nothing reaches --severity, 1 when something does", async () => {
    expect((await runCli(["lint", "good.Dockerfile"], { cwd: dir })).code).toBe(0);
    expect((await runCli(["lint", "info.Dockerfile"], { cwd: dir })).code).toBe(0);
    expect((await runCli(["lint", "info.Dockerfile", "--severity", "info"], { cwd: dir })).code).toBe(1);
    expect((await runCli(["lint", "Dockerfile", "--severity", "error"], { cwd: dir })).code).toBe(0);
  });

  it("--json prints the findings and a summary", async () => {
    const r = await runCli(["--json", "lint"], { cwd: dir });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      findings: { rule: string; line: number }[];
      summary: Record<string, unknown>;
    };
    expect(out.ok).toBe(false);
    expect(out.findings.map((f) => f.rule).sort()).toEqual([
      "deps-after-copy-all",
      "full-python-final",
      "pip-cache-in-layer",
      "runs-as-root",
    ]);
    expect(out.summary).toMatchObject({
      files: 1,
      findings: 4,
      error: 0,
      warning: 3,
      info: 1,
      threshold: "warning",
    });
  });

  it("--format sarif writes SARIF 2.1.0, to a file with -o", async () => {
    const r = await runCli(["lint", "--format", "sarif", "-o", "out.sarif"], { cwd: dir });
    expect(r.code).toBe(1);
    const sarif = JSON.parse(await readFile(join(dir, "out.sarif"), "utf8")) as {
      version: string;
      runs: { results: { ruleId: string }[] }[];
    };
    expect(sarif.version).toBe("2.1.0");
    expect(sarif.runs[0]?.results.length).toBe(4);
  });

  it("a directory means its Dockerfile", async () => {
    const r = await runCli(["lint", "."], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Dockerfile:4:1  warning  deps-after-copy-all");
  });

  it("a missing file exits 2 naming the path", async () => {
    const r = await runCli(["lint", "no/Dockerfile"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no/Dockerfile does not exist");
    const j = await runCli(["--json", "lint", "no/Dockerfile"], { cwd: dir });
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "input" } });
  });

  it("a bad --severity is a usage error", async () => {
    const r = await runCli(["lint", "--severity", "loud"], { cwd: dir });
    expect(r.code).toBe(2);
  });
});
