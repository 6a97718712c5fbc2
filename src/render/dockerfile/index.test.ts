import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../../errors.js";
import { assemblePlan } from "../../pipeline/assemble.js";
import { strategies } from "../../plan/strategies/index.js";
import { readProject } from "../../project/read.js";
import { renderDockerfile, wrapComment } from "./index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

describe("renderDockerfile", () => {
  // Every strategy on every example: a refactor of the planner or the renderer must leave these
  // unchanged. A strategy that refuses an example snapshots its refusal.
  const examples = ["flask-app", "django-postgres", "c-extension", "data-tools"];
  it.each(
    examples.flatMap((e) => strategies.map((s) => [e, s.id] as const)),
  )("renders %s with %s as in its snapshot", async (example, strategy) => {
    const p = await readProject(join(ROOT, "examples", example));
    let text: string;
    try {
      text = renderDockerfile(assemblePlan(p, strategy), { version: "0.0.0-test" });
    } catch (e) {
      if (!isSlimwheelError(e)) throw e;
      text = `# refused: ${e.message}\n`;
    }
    await expect(text).toMatchFileSnapshot(`__snapshots__/${example}.${strategy}.Dockerfile`);
  });

  it("wraps comments at 100 columns without splitting words", () => {
    const lines = wrapComment("word ".repeat(60));
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines.join(" ").replace(/#/g, "").split(/\s+/).filter(Boolean)).toHaveLength(60);
  });

  it("renders shell start commands through sh -c exec, and plain ones in exec form", async () => {
    const flask = await readProject(join(ROOT, "examples", "flask-app"));
    expect(renderDockerfile(assemblePlan(flask, "slimwheel"), { version: "t" })).toContain(
      'CMD ["sh", "-c", "exec gunicorn --bind 0.0.0.0:${PORT:-8000} app:app"]',
    );
    const cext = await readProject(join(ROOT, "examples", "c-extension"));
    expect(renderDockerfile(assemblePlan(cext, "slimwheel"), { version: "t" })).toContain(
      'CMD ["wordstats"]',
    );
  });
});
