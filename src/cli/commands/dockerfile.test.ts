import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

describe("slimwheel dockerfile and the project's own .dockerignore", () => {
  it("keeps the project's .dockerignore and writes Dockerfile.dockerignore (BuildKit's per-Dockerfile file) with slimwheel's lines first", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sw-dockerfile-"));
    try {
      await writeFile(join(dir, ".dockerignore"), ".git/\n!config/.env.example\n");
      await writeFile(
        join(dir, "requirements.txt"),
        "--index-url https://u:pw-123@idx.test/simple\nflask==2.2.2\n",
      );
      await writeFile(join(dir, "app.py"), "import flask\n");
      const r = await runCli(["dockerfile", dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(dir, ".dockerignore"), "utf8")).toBe(".git/\n!config/.env.example\n");
      const own = await readFile(join(dir, "Dockerfile.dockerignore"), "utf8");
      const lines = own.split("\n").filter((l) => l && !l.startsWith("#"));
      expect(lines).toEqual(
        expect.arrayContaining(["**/.env", "requirements.txt", ".git/", "!config/.env.example"]),
      );
      expect(lines.indexOf("!config/.env.example")).toBeGreaterThan(lines.indexOf("**/.env"));
      expect(await readFile(join(dir, "Dockerfile"), "utf8")).not.toContain("pw-123");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
