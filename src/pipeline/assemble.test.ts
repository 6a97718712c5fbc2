import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { readProject } from "../project/read.js";
import { assembleArtifacts, assemblePlan, strategyNamed } from "./assemble.js";

const example = (name: string) => readProject(join(import.meta.dirname, "..", "..", "examples", name));

describe("the assemble phase", () => {
  it("names an unknown strategy in a usage error that lists the known ones", () => {
    try {
      strategyNamed("tiny");
      expect.unreachable();
    } catch (e) {
      expect(isSlimwheelError(e) && e.code === "usage").toBe(true);
      expect((e as Error).message).toContain('"tiny"');
    }
  });

  it("gives the artifacts plan only for strategies that build the dependencies apart", async () => {
    const p = await example("django-postgres");
    expect(assembleArtifacts(p, "full")).toBeUndefined();
    const artifacts = assembleArtifacts(p, "slimwheel")!;
    expect(artifacts.stages.map((s) => s.name)).toEqual(["deps"]);
    expect(artifacts.runtimePackages).toEqual([]);
  });

  it("puts the runtime needs it is given into the plan, with their reasons", async () => {
    const p = await example("django-postgres");
    const plan = assemblePlan(p, "slimwheel", {
      runtimeNeeds: [{ package: "libfoo1", for: "foo", why: "libfoo.so.1 ← foo.so" }],
    });
    expect(plan.runtimePackages).toContainEqual({ name: "libfoo1", why: "libfoo.so.1 ← foo.so" });
    expect(assemblePlan(p, "slimwheel").runtimePackages).not.toContainEqual(
      expect.objectContaining({ name: "libfoo1" }),
    );
  });
});
