/**
 * The corpus: realistic Dockerfiles under test/fixtures/lint/, each with `<name>.expect.json`
 * listing the rules it must produce (exactly those) and some it must not. And every Dockerfile
 * slimwheel renders (src/render/dockerfile/__snapshots__/): slimwheel, wheels and venv lint clean
 * at warning severity (wheels with an inline ignore of its documented caveat, wheels-stored-twice), slim-apt
 * shows its later purge.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { failsAt, lintText } from "./lint.js";
import { rules } from "./rules/index.js";
import { severityRank } from "./types.js";

const root = join(import.meta.dirname, "..", "..");
const corpus = join(root, "test", "fixtures", "lint");
const snapshots = join(root, "src", "render", "dockerfile", "__snapshots__");
const ids = new Set(rules.map((r) => r.id));

describe("the lint corpus", () => {
  const files = readdirSync(corpus).filter((f) => f.endsWith(".Dockerfile"));
  it("has at least 20 Dockerfiles, each with expectations", () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const f of files) expect(readdirSync(corpus)).toContain(f.replace(/\.Dockerfile$/, ".expect.json"));
  });
  for (const f of files) {
    it(f, () => {
      const exp = JSON.parse(
        readFileSync(join(corpus, f.replace(/\.Dockerfile$/, ".expect.json")), "utf8"),
      ) as {
        expect: string[];
        absent: string[];
      };
      for (const id of [...exp.expect, ...exp.absent])
        expect(ids, `unknown rule ${id} in ${f}`).toContain(id);
      const result = lintText(readFileSync(join(corpus, f), "utf8"), f);
      const found = [...new Set(result.findings.map((x) => x.rule))].sort();
      expect(found).toEqual([...exp.expect].sort());
      for (const id of exp.absent) expect(found).not.toContain(id);
    });
  }
});

describe("slimwheel's rendered Dockerfiles", () => {
  const files = readdirSync(snapshots).filter((f) => f.endsWith(".Dockerfile"));
  const lintable = files.filter(
    (f) =>
      readFileSync(join(snapshots, f), "utf8")
        .replace(/^\s*#.*$/gm, "")
        .trim() !== "",
  );
  const byStrategy = (s: string) => lintable.filter((f) => f.split(".").at(-2) === s);
  const atWarning = (f: string) =>
    lintText(readFileSync(join(snapshots, f), "utf8"), f).findings.filter(
      (x) => severityRank(x.severity) >= severityRank("warning"),
    );

  it("finds the snapshots (and skips only refusals)", () => {
    expect(byStrategy("slimwheel").length).toBeGreaterThanOrEqual(4);
    for (const f of files.filter((x) => !lintable.includes(x)))
      expect(readFileSync(join(snapshots, f), "utf8")).toMatch(/^# refused/);
  });
  for (const s of ["slimwheel", "wheels", "venv"]) {
    for (const f of byStrategy(s)) {
      it(`${f} lints clean at warning severity`, () => {
        expect(atWarning(f)).toEqual([]);
        expect(failsAt(lintText(readFileSync(join(snapshots, f), "utf8"), f).findings, "warning")).toBe(
          false,
        );
      });
    }
  }
  for (const f of byStrategy("wheels")) {
    it(`${f}: wheels-stored-twice, the strategy's documented caveat, is there, ignored inline`, () => {
      const text = readFileSync(join(snapshots, f), "utf8");
      expect(text).toContain("# slimwheel-ignore wheels-stored-twice");
      const bare = text.replaceAll("# slimwheel-ignore wheels-stored-twice\n", "");
      expect(lintText(bare, f).findings.map((x) => x.rule)).toContain("wheels-stored-twice");
    });
  }
  // The classic strategies show exactly the findings the seeds describe, at warning severity.
  const EXPECTED: Record<string, string[]> = {
    full: ["full-python-final"],
    "single-layer": ["deps-after-copy-all"],
    "slim-apt": ["apt-lists-kept", "build-tools-removed-later"],
    slim: [],
    alpine: [],
  };
  for (const [strategy, rules] of Object.entries(EXPECTED))
    for (const f of byStrategy(strategy))
      it(`${f}: exactly ${rules.join(", ") || "no findings"} at warning severity`, () => {
        expect([...new Set(atWarning(f).map((x) => x.rule))].sort()).toEqual(rules);
      });
  for (const f of byStrategy("slim-apt")) {
    it(`${f} shows the build tools removed in a later layer`, () => {
      expect(atWarning(f).map((x) => x.rule)).toContain("build-tools-removed-later");
    });
  }
});
