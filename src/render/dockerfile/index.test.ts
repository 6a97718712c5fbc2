import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planFor } from "../../build/plan-for.js";
import { readProject } from "../../project/read.js";
import { renderDockerfile, wrapComment } from "./index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

describe("renderDockerfile", () => {
  it.each([
    "slimwheel",
    "wheels",
    "full",
  ])("renders flask-app with %s as in its snapshot", async (strategy) => {
    const p = await readProject(join(ROOT, "examples", "flask-app"));
    await expect(renderDockerfile(planFor(p, strategy), { version: "0.0.0-test" })).toMatchFileSnapshot(
      `__snapshots__/flask-app.${strategy}.Dockerfile`,
    );
  });

  it("wraps comments at 100 columns without splitting words", () => {
    const lines = wrapComment("word ".repeat(60));
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines.join(" ").replace(/#/g, "").split(/\s+/).filter(Boolean)).toHaveLength(60);
  });

  it("renders shell start commands through sh -c exec, and plain ones in exec form", async () => {
    const flask = await readProject(join(ROOT, "examples", "flask-app"));
    expect(renderDockerfile(planFor(flask, "slimwheel"), { version: "t" })).toContain(
      'CMD ["sh", "-c", "exec gunicorn --bind 0.0.0.0:${PORT:-8000} app:app"]',
    );
    const cext = await readProject(join(ROOT, "examples", "c-extension"));
    expect(renderDockerfile(planFor(cext, "slimwheel"), { version: "t" })).toContain('CMD ["wordstats"]');
  });
});
