import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RULES_END, RULES_START, withRules } from "./docs.js";
import { rules } from "./rules/index.js";

const root = join(import.meta.dirname, "..", "..");
const path = join(root, "docs", "lint.md");

describe("docs/lint.md", () => {
  it("lists every rule of the registry, as generated (SLIMWHEEL_UPDATE_DOCS=1 rewrites it)", () => {
    const text = readFileSync(path, "utf8");
    expect(text).toContain(RULES_START);
    expect(text).toContain(RULES_END);
    const expected = withRules(text);
    if (process.env.SLIMWHEEL_UPDATE_DOCS === "1" && expected !== text) writeFileSync(path, expected);
    else expect(text).toBe(expected);
    for (const r of rules) expect(text).toContain(`### ${r.id}\n`);
  });

  it("README's command list names lint", () => {
    expect(readFileSync(join(root, "README.md"), "utf8")).toContain("`slimwheel lint [DOCKERFILE]");
  });
});
