import { describe, expect, it } from "vitest";
import { dependencyOrder, roleOf } from "./dependency-set.js";
import { sourceFormats } from "./sources/index.js";

describe("source preference comes from the registry's role and order", () => {
  it("locks, then requirements.txt, then metadata; ignore-lock drops the locks", () => {
    expect(dependencyOrder(false)).toEqual([
      "pylock",
      "uv-lock",
      "poetry-lock",
      "pipfile-lock",
      "requirements",
      "pyproject",
      "poetry",
      "pipfile",
      "setup-cfg",
      "setup-py",
    ]);
    expect(dependencyOrder(true).some((id) => roleOf(id) === "lock")).toBe(false);
  });
  it("every registered dependency format appears, python-only ones never", () => {
    for (const f of sourceFormats) {
      expect(dependencyOrder(false).includes(f.id)).toBe(f.role !== "python");
      expect(roleOf(f.id)).toBe(f.role);
    }
    expect(roleOf("poetry")).toBe("metadata");
  });
});
