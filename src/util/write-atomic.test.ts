import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import { writeAtomic } from "./write-atomic.js";

describe("writeAtomic", () => {
  it("writes the file and leaves no temporary file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sw-atomic-"));
    try {
      await writeAtomic(join(dir, "report.html"), "<p>x</p>");
      expect(await readFile(join(dir, "report.html"), "utf8")).toBe("<p>x</p>");
      expect(await readdir(dir)).toEqual(["report.html"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a missing directory is a usage error naming the path (exit 2), for every command that writes", async () => {
    await expect(writeAtomic("/nonexistent-dir/x.json", "{}")).rejects.toMatchObject({
      code: "usage",
      message: expect.stringContaining("/nonexistent-dir/x.json"),
    });
    const fixture = join(import.meta.dirname, "..", "..", "test", "fixtures", "two-stage.Dockerfile");
    const r = await runCli(["lint", "-o", "/nonexistent-dir/x.json", fixture]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot write /nonexistent-dir/x.json");
    expect(r.stderr).not.toMatch(/unexpected error|a bug/);
  });
});
