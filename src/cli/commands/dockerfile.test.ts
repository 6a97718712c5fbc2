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

describe("slimwheel dockerfile --runtime", () => {
  const project = async () => {
    const dir = await mkdtemp(join(tmpdir(), "sw-dockerfile-rt-"));
    await writeFile(join(dir, "requirements.txt"), "flask==2.2.2\n");
    await writeFile(join(dir, "app.py"), "import flask\n");
    return dir;
  };

  it("says in the header that build cuts the slimwheel image to the minimal runtime (the default)", async () => {
    const dir = await project();
    try {
      const r = await runCli(["--json", "dockerfile", dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).runtime).toBe("minimal");
      expect(await readFile(join(dir, "Dockerfile"), "utf8")).toContain("# Runtime: minimal.");
      const slim = await runCli(["dockerfile", dir, "--runtime", "slim", "-o", "-"]);
      expect(slim.code, slim.stderr).toBe(0);
      expect(slim.stdout).not.toContain("Runtime: minimal");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses --runtime minimal for a classic strategy, with a hint", async () => {
    const dir = await project();
    try {
      const r = await runCli(["dockerfile", dir, "-s", "venv", "--runtime", "minimal", "-o", "-"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--runtime minimal is for the slimwheel strategy, not venv");
      const classic = await runCli(["dockerfile", dir, "-s", "venv", "-o", "-"]);
      expect(classic.stdout).not.toContain("Runtime: minimal");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
