import { describe, expect, it } from "vitest";
import { dependencyOrder, pipGitUrl, roleOf } from "./dependency-set.js";
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

describe("lock git sources as pip reads them", () => {
  it("pins uv's ?rev=…#commit form to the commit, with git+", () => {
    expect(
      pipGitUrl("https://github.com/encode/httpx?rev=master#0123456789abcdef0123456789abcdef01234567"),
    ).toBe("git+https://github.com/encode/httpx@0123456789abcdef0123456789abcdef01234567");
    expect(pipGitUrl("https://example.test/repo.git?tag=v1")).toBe("git+https://example.test/repo.git");
    expect(pipGitUrl("git+https://example.test/repo.git@v1.2")).toBe(
      "git+https://example.test/repo.git@v1.2",
    );
    expect(pipGitUrl("https://example.test/r?rev=main")).toBe("git+https://example.test/r@main");
  });
});
