/**
 * The npm package as a user gets it: `npm pack` (whose prepack script builds dist/), installed
 * with `npm install` into a fresh directory (dependencies from the registry or npm's cache), then
 * the `slimwheel` binary run, the library imported by an ESM script (docs/api.md's example) and
 * typechecked by a TypeScript consumer. Skipped only when npm is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
};
const TARBALL = `${pkg.name}-${pkg.version}.tgz`;
const hasNpm = spawnSync("npm", ["--version"]).status === 0;
// What a user's shell would have: no SOURCE_DATE_EPOCH (both sides of a comparison must agree).
const env = { ...process.env, SOURCE_DATE_EPOCH: undefined, NO_COLOR: "1" };

const docs = await readFile(join(ROOT, "docs", "api.md"), "utf8");
const block = (lang: string, n = 0) =>
  [...docs.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))][n]![1]!;

// Each step starts node and loads slimwheel: seconds on a busy machine.
describe.skipIf(!hasNpm)("the npm package, packed and installed", { timeout: 60_000 }, () => {
  let tmp: string;
  let consumer: string;
  let files: string[];
  const bin = () => join(consumer, "node_modules", ".bin", "slimwheel");

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "slimwheel-pack-"));
    // `npm test` builds dist/ before the tests: packing it as it is (--ignore-scripts) keeps this
    // test from rebuilding dist/ while the integration tests run the CLI from it. Without a dist/,
    // the prepack script builds it, as for a user.
    const built = existsSync(join(ROOT, "dist", "cli", "main.js"));
    await run("npm", ["pack", ...(built ? ["--ignore-scripts"] : []), "--pack-destination", tmp], {
      cwd: ROOT,
      env,
      maxBuffer: 64 << 20,
    });
    files = (await run("tar", ["-tzf", join(tmp, TARBALL)], { maxBuffer: 64 << 20 })).stdout
      .split("\n")
      .filter(Boolean);
    consumer = join(tmp, "consumer");
    await mkdir(consumer);
    await writeFile(
      join(consumer, "package.json"),
      JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }),
    );
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", join(tmp, TARBALL)],
      { cwd: consumer, env, maxBuffer: 64 << 20 },
    );
  }, 300_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("holds the CLI, the library, the schemas and the README; no sources, tests or fixtures", () => {
    for (const f of [
      "package/package.json",
      "package/README.md",
      "package/dist/cli/main.js",
      "package/dist/cli/slimwheel.cjs",
      "package/dist/index.js",
      "package/dist/index.d.ts",
      "package/schema/plan.schema.json",
      "package/schema/inspect.schema.json",
      "package/schema/slimwheel-config.schema.json",
      "package/schema/pyproject.schema.json",
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith("package/src/") || f.startsWith("package/test/"))).toEqual([]);
    expect(files.filter((f) => /\.test\.(ts|js|d\.ts)$|__fixtures__|__snapshots__/.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(testbed|bench|examples|node_modules)\//.test(f))).toEqual([]);
  });

  it("installs a slimwheel binary that prints its version and help", async () => {
    const version = await run(bin(), ["--version"], { env });
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await run(bin(), ["--help"], { env });
    expect(help.stdout).toContain("Usage: slimwheel");
    for (const c of ["plan", "dockerfile", "build", "compare", "inspect", "lint", "push", "completion"])
      expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, "m"));
  });

  it("prints no stack trace when its reader stops reading (`slimwheel … | head -1`), and exits 0", async () => {
    const app = join(ROOT, "examples", "flask-app");
    // A reader that has closed its end before slimwheel writes: every write fails with EPIPE.
    const r = spawnSync(
      "bash",
      ["-c", 'set -o pipefail; "$0" dockerfile "$1" -o - | { exec 0<&-; sleep 2; }', bin(), app],
      { env, encoding: "utf8" },
    );
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+|Error/);
    expect(r.status).toBe(0);
  });

  it("keeps V8's code cache of the CLI: written at the first start, used as it is after, rewritten when stale or rejected", async () => {
    const home = join(tmp, "code-cache");
    const cacheFile = join(home, "slimwheel", "v8", "cli.cache");
    const withCache = { ...env, XDG_CACHE_HOME: home };
    expect((await run(bin(), ["--version"], { env: withCache })).stdout.trim()).toBe(pkg.version);
    const first = await readFile(cacheFile);
    // Tagged with the bundle's digest (npm gives every packed file the same mtime).
    const bundleDigest = createHash("sha256")
      .update(await readFile(join(consumer, "node_modules", "slimwheel", "dist", "cli", "slimwheel.cjs")))
      .digest("hex");
    expect(first.toString("latin1").split("\n")[0]).toBe(
      `slimwheel-v8 ${process.version} ${process.arch} ${bundleDigest}`,
    );
    expect(first.length).toBeGreaterThan(10_000);
    // Accepted: the same file, not written again.
    await run(bin(), ["--help"], { env: withCache });
    expect((await readFile(cacheFile)).equals(first)).toBe(true);
    // V8 rejects garbage under the right tag: the command runs, and the cache is made again.
    const tagLine = first.subarray(0, first.indexOf(10) + 1);
    await writeFile(cacheFile, Buffer.concat([tagLine, Buffer.alloc(5000, 7)]));
    expect((await run(bin(), ["--version"], { env: withCache })).stdout.trim()).toBe(pkg.version);
    const remade = await readFile(cacheFile);
    expect(remade.subarray(0, tagLine.length).equals(tagLine)).toBe(true);
    expect(remade.subarray(tagLine.length).equals(Buffer.alloc(5000, 7))).toBe(false);
    // Another bundle's cache (another tag): not used, replaced.
    await writeFile(cacheFile, "slimwheel-v8 v0.0.0 none 1 1\nxx");
    await run(bin(), ["--version"], { env: withCache });
    expect((await readFile(cacheFile)).subarray(0, tagLine.length).equals(tagLine)).toBe(true);
    // A cache file another user owns is not read (root with a user's cache directory): made anew.
    if (process.getuid?.() === 0) {
      await chown(cacheFile, 12345, 12345);
      await run(bin(), ["--version"], { env: withCache });
      expect((await stat(cacheFile)).uid).toBe(0);
    }
    // Turned off: neither read nor written.
    await rm(cacheFile);
    await run(bin(), ["--version"], { env: { ...withCache, SLIMWHEEL_NO_CODE_CACHE: "1" } });
    expect(existsSync(cacheFile)).toBe(false);
  });

  it("runs through npx from the tarball, as on a machine without slimwheel installed", async () => {
    const r = await run("npx", ["--yes", "--prefer-offline", `./${TARBALL}`, "--version"], { cwd: tmp, env });
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("runs docs/api.md's example: the same Dockerfile as `slimwheel dockerfile -o -`", async () => {
    await writeFile(join(consumer, "dockerfile-for.mjs"), block("js"));
    const app = join(ROOT, "examples", "flask-app");
    const embedded = await run("node", ["dockerfile-for.mjs", app], { cwd: consumer, env });
    const cli = await run(bin(), ["dockerfile", app, "-o", "-"], { env });
    expect(embedded.stdout).toContain("FROM ");
    expect(embedded.stdout).toContain(`# Generated by slimwheel ${pkg.version}`);
    expect(embedded.stdout).toBe(cli.stdout);
  });

  it("reports bad input through the library as a SlimwheelError (exit 2), not a crash", async () => {
    const bad = join(tmp, "bad");
    await mkdir(bad);
    await writeFile(join(bad, "pyproject.toml"), "[project\nname = 1\n");
    const r = await run("node", ["dockerfile-for.mjs", bad], { cwd: consumer, env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(r).toMatchObject({ code: 2 });
    expect((r as { stderr: string }).stderr).toMatch(/^error: .*pyproject\.toml/m);
  });

  it("types: a TypeScript consumer typechecks against dist/index.d.ts, and a wrong call does not", async () => {
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const tsconfig = (files: string[]) =>
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          typeRoots: [join(ROOT, "node_modules", "@types")],
          types: ["node"],
        },
        files,
      });
    await writeFile(
      join(consumer, "good.ts"),
      `${block("ts")}
import { assemblePlan, compare, compareStrategies, inspectImage, lintText, readProject, renderDockerfile, type BuildPlan, type LintResult, type Project } from "slimwheel";
const project: Project = await readProject(".");
const plan: BuildPlan = assemblePlan(project, "slimwheel");
const text: string = renderDockerfile(plan, { version: "0" });
const linted: LintResult = lintText(text, "Dockerfile");
const same: typeof compareStrategies = compare;
void [linted, same, inspectImage];
`,
    );
    await writeFile(
      join(consumer, "bad.ts"),
      `import { assemblePlan, readProject } from "slimwheel";\nassemblePlan(await readProject("."), 42);\n`,
    );
    // One compilation (it is the slow part): errors in bad.ts only, none in good.ts or in slimwheel's .d.ts.
    await writeFile(join(consumer, "tsconfig.json"), tsconfig(["good.ts", "bad.ts"]));
    const r = await run("node", [tsc, "-p", consumer], { cwd: consumer }).catch(
      (e: { stdout: string; code: number }) => e,
    );
    const errors = r.stdout.split("\n").filter((l) => /error TS/.test(l));
    expect(errors.length, r.stdout).toBe(1);
    expect(errors[0]).toMatch(/^bad\.ts\(2,\d+\): error TS2345/);
  }, 120_000);
});
