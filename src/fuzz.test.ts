/**
 * The short fuzz run: every target of test/fuzz/targets.ts (each parser slimwheel has) over a few
 * hundred to two thousand generated and mutated inputs, plus every saved regression fixture under
 * test/fixtures/fuzz/. Each input must give a result or a SlimwheelError. The long run is
 * `npm run fuzz` (bench/fuzz.ts). Lives in src/ because the unit project only collects
 * src/**\/*.test.ts; tsconfig.build.json leaves test files out of the package.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fixturesOf, generate, runCase } from "../test/fuzz/engine.js";
import { targets } from "../test/fuzz/targets.js";

const scratchRoot = mkdtempSync(join(tmpdir(), "slimwheel-fuzz-unit-"));
afterAll(() => rmSync(scratchRoot, { recursive: true, force: true }));

/** A fixed seed: the unit run is the same inputs every time (the long run varies with --seed). */
const SEED = 20261129;

describe.each(targets.map((t) => [t.name, t] as const))("fuzz target %s", (name, target) => {
  const scratch = { dir: join(scratchRoot, name) };

  it(`${target.quick} generated and mutated inputs give a result or a SlimwheelError`, async () => {
    const crashes: string[] = [];
    let typed = 0;
    for (let i = 0; i < target.quick; i++) {
      const input = generate(target, SEED, i);
      const o = await runCase(target, input, scratch);
      if (o.kind === "typed") typed++;
      if (o.kind === "crash" && crashes.length < 5)
        crashes.push(
          `case ${i}: ${o.signature}\n${JSON.stringify(target.encode(input).toString("utf8").slice(0, 300))}`,
        );
    }
    expect(crashes).toEqual([]);
    // The generators reach the error paths as well as the happy ones (pep440's predicates answer
    // false rather than throw).
    if (name !== "pep440") expect(typed).toBeGreaterThan(0);
    expect(typed).toBeLessThan(target.quick);
  }, 60_000);

  const fixtures = fixturesOf(target);
  it.runIf(fixtures.length > 0)(`its ${fixtures.length} regression fixture(s) no longer crash`, async () => {
    const crashes: string[] = [];
    for (const { file, input } of fixtures) {
      const o = await runCase(target, input, scratch);
      if (o.kind === "crash") crashes.push(`${file}: ${o.signature}`);
    }
    expect(crashes).toEqual([]);
  });
});

describe("fuzz targets", () => {
  it("cover every parser, each with seeds from the repository or hand-written ones", () => {
    expect(targets.map((t) => t.name)).toEqual([
      "requirements",
      "pyproject",
      "poetry-lock",
      "uv-lock",
      "pipfile",
      "pipfile-lock",
      "pylock",
      "setup-cfg",
      "setup-py",
      "python-version",
      "pep440",
      "pep508",
      "markers",
      "wheel-filename",
      "sdist-filename",
      "elf",
      "tar-layer",
      "oci-layout",
      "docker-archive",
      "dockerfile",
    ]);
    for (const t of targets) expect(t.seeds().length, t.name).toBeGreaterThan(0);
  });

  it("generate the same input for the same seed and index", () => {
    for (const t of targets) {
      expect(t.encode(generate(t, 7, 42)).equals(t.encode(generate(t, 7, 42))), t.name).toBe(true);
    }
  });
});
