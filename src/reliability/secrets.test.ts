/**
 * An index password (`user:s3cr3tTOKEN@`) given every way slimwheel accepts one — a requirements
 * file's --index-url / --extra-index-url, PIP_INDEX_URL in the environment, [tool.slimwheel]
 * index-url, the --index-url flag — never appears in anything slimwheel prints or writes: plan
 * (text and --json), dockerfile (every file written), lint (SARIF, to a file), the build context
 * it would send, and error messages.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "../cli/testing.js";
import { assemblePlan } from "../pipeline/assemble.js";
import { prepareContext } from "../pipeline/context.js";
import { strategies } from "../plan/strategies/index.js";
import { readProject } from "../project/read.js";

const TOKEN = "s3cr3tTOKEN";
const URL = `https://user:${TOKEN}@idx.test/simple`;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "slimwheel-secrets-"));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every regular file under `dir` except `skip` (the user's own files, which hold the token by design). */
async function filesUnder(dir: string, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if ((await lstat(join(dir, p))).isFile() && !skip.has(p)) out.push(p);
    }
  };
  await walk("");
  return out;
}

async function expectNoToken(dir: string, skip: ReadonlySet<string> = new Set()): Promise<number> {
  const files = await filesUnder(dir, skip);
  for (const f of files) expect(await readFile(join(dir, f), "latin1"), `${dir}/${f}`).not.toContain(TOKEN);
  return files.length;
}

const expectClean = (r: CliRun, what: string) => {
  expect(r.stdout, `${what} stdout`).not.toContain(TOKEN);
  expect(r.stderr, `${what} stderr`).not.toContain(TOKEN);
};

describe("index credentials never leak", () => {
  it("through plan, dockerfile (every file it writes, every strategy), lint SARIF and the build context", {
    timeout: 120_000,
  }, async () => {
    const dir = join(base, "app");
    await mkdir(dir);
    await writeFile(
      join(dir, "requirements.txt"),
      `--index-url ${URL}\n--extra-index-url https://ci:${TOKEN}@extra.test/simple\n-r base.txt\nflask==3.0.3\n`,
    );
    await writeFile(join(dir, "base.txt"), `--find-links https://u:${TOKEN}@links.test/\nrequests==2.31.0\n`);
    await writeFile(join(dir, "app.py"), "import flask\napp = flask.Flask(__name__)\n");
    const own = new Set(["requirements.txt", "base.txt"]);
    const env = { PIP_INDEX_URL: URL, PIP_EXTRA_INDEX_URL: URL };
    const outputs: [string, CliRun][] = [
      ["plan", await runCli(["plan", dir], { env })],
      ["plan --json", await runCli(["--json", "plan", dir], { env })],
      ["plan -v", await runCli(["--verbose", "plan", dir], { env })],
    ];
    for (const s of strategies) {
      const out = join(base, `Dockerfile.${s.id}`);
      const r = await runCli(["--json", "dockerfile", dir, "-s", s.id, "-o", out, "--force"], { env });
      outputs.push([`dockerfile -s ${s.id}`, r]);
      if (r.code !== 0) {
        // A strategy may refuse this project (alpine, slim): its refusal is checked like any output.
        expect(r.code, r.stdout).toBe(2);
        continue;
      }
      for (const w of JSON.parse(r.stdout).written as string[])
        expect(await readFile(w, "utf8"), w).not.toContain(TOKEN);
      const sarif = join(base, `lint.${s.id}.sarif`);
      outputs.push([`lint ${s.id}`, await runCli(["lint", out, "--format", "sarif", "-o", sarif], { env })]);
      expect(await readFile(sarif, "utf8")).not.toContain(TOKEN);
      outputs.push([`lint --json ${s.id}`, await runCli(["--json", "lint", out], { env })]);
    }
    for (const [what, r] of outputs) expectClean(r, what);
    // Everything dockerfile wrote into the project, the user's two files aside.
    expect(await expectNoToken(dir, own)).toBeGreaterThan(2);
    // The build context slimwheel sends the engine, for every strategy that takes the project.
    const project = await readProject(dir);
    for (const s of strategies) {
      let plan: ReturnType<typeof assemblePlan>;
      try {
        plan = assemblePlan(project, s.id);
      } catch {
        continue;
      }
      const ctx = await prepareContext(project, plan, "0.0.0-test", base);
      try {
        expect(await expectNoToken(ctx.dir)).toBeGreaterThan(0);
      } finally {
        await ctx.cleanup();
      }
    }
  });

  it("through a hand-written Dockerfile's findings (lint text, --json, SARIF)", async () => {
    const dir = join(base, "lint");
    await mkdir(dir);
    const dockerfile = join(dir, "Dockerfile");
    await writeFile(
      dockerfile,
      `FROM python:3.11\nARG PIP_INDEX_URL=${URL}\nENV PIP_EXTRA_INDEX_URL=${URL}\nRUN pip install --index-url ${URL} flask\n`,
    );
    const sarif = join(dir, "out.sarif");
    const runs = [
      await runCli(["lint", dockerfile]),
      await runCli(["--json", "lint", dockerfile]),
      await runCli(["lint", dockerfile, "--format", "sarif"]),
      await runCli(["lint", dockerfile, "--format", "sarif", "-o", sarif]),
    ];
    for (const r of runs) expectClean(r, "lint");
    expect(runs[0]!.stdout).toContain("secret");
    expect(await readFile(sarif, "utf8")).not.toContain(TOKEN);
  });

  it("through error messages: a bad requirement, an include out of the project, a missing directory, a bad flag", async () => {
    const bad = join(base, "bad");
    await mkdir(bad);
    await writeFile(join(bad, "requirements.txt"), `--index-url ${URL}\nflask=== ${URL} !!\n`);
    const outside = join(base, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "requirements.txt"), `--index-url ${URL}\n-r ../../elsewhere.txt\n`);
    const toml = join(base, "toml");
    await mkdir(toml);
    await writeFile(join(toml, "pyproject.toml"), `[tool.slimwheel]\nindex-url = "${URL}\n`);
    const runs: [string, CliRun][] = [];
    for (const argv of [
      ["plan", bad],
      ["--json", "plan", bad],
      ["dockerfile", bad, "-o", "-"],
      ["plan", outside],
      ["--json", "plan", outside],
      ["plan", toml],
      ["--verbose", "plan", toml],
      ["plan", join(base, "nope"), "--index-url", URL],
      ["dockerfile", join(base, "nope"), "--index-url", URL],
      ["plan", "--frobnicate", URL],
      ["lint", URL],
    ]) {
      const r = await runCli(argv, { env: { PIP_INDEX_URL: URL } });
      runs.push([argv.join(" "), r]);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).not.toBe(0);
      expect(r.code).not.toBe(70);
    }
    for (const [what, r] of runs) expectClean(r, what);
  });
});
