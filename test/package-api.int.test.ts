import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

/**
 * The library as a user gets it: the BUILT package (dist/, through package.json's exports),
 * imported by its name. `npm test` builds before it runs the tests.
 */
describe("the slimwheel package's API", () => {
  it("exports the pipeline's functions by name, and they work together", async () => {
    // By name, resolved at run time through package.json's exports to dist/ (typecheck runs before
    // the build, so the types are taken from the sources).
    const packageName = "slimwheel";
    const api = (await import(packageName)) as typeof import("../src/index.js");
    expect(createRequire(join(ROOT, "package.json")).resolve(packageName)).toBe(
      join(ROOT, "dist", "index.js"),
    );
    for (const name of [
      "readProject",
      "assemblePlan",
      "renderDockerfile",
      "renderDockerignore",
      "buildImage",
      "compare",
      "SlimwheelError",
      "isSlimwheelError",
    ])
      expect(typeof (api as Record<string, unknown>)[name], name).toBe("function");
    expect(api.strategies.map((s) => s.id)).toContain(api.DEFAULT_STRATEGY);
    const project = await api.readProject(join(ROOT, "examples", "flask-app"));
    const plan = api.assemblePlan(project, "slimwheel");
    expect(api.renderDockerfile(plan, { version: "0.0.0-test" })).toMatch(
      /^FROM \$\{RUNTIME_IMAGE\} AS final$/m,
    );
    expect(() => api.assemblePlan(project, "nope")).toThrow(api.SlimwheelError);
  });

  it("ships type declarations for what it exports", async () => {
    const { readFile } = await import("node:fs/promises");
    const dts = await readFile(join(ROOT, "dist", "index.d.ts"), "utf8");
    for (const name of [
      "readProject",
      "assemblePlan",
      "renderDockerfile",
      "buildImage",
      "compare",
      "BuildPlan",
      "Project",
    ])
      expect(dts).toContain(name);
  });
});
