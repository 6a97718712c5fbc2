import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import { maskSecrets } from "./mask.js";

describe("masking credentials", () => {
  it("masks a URL's password and AWS key ids, keeps user names and ${VAR} references", () => {
    expect(maskSecrets("--index-url https://deploy:tok3n@idx.test/simple")).toBe(
      "--index-url https://deploy:***@idx.test/simple",
    );
    expect(maskSecrets("key AKIAABCDEFGHIJKLMNOP")).toBe("key AKIA****************");
    expect(maskSecrets("https://${PIP_INDEX_USER}:${PIP_INDEX_PASSWORD}@idx.test/simple")).toBe(
      "https://${PIP_INDEX_USER}:${PIP_INDEX_PASSWORD}@idx.test/simple",
    );
    expect(maskSecrets("git+ssh://git@host/repo")).toBe("git+ssh://git@host/repo");
  });

  it("nothing the CLI prints holds an index password: plan (text and --json), dockerfile, errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-mask-"));
    const token = "tok-SECRET-9f2";
    try {
      await writeFile(
        join(dir, "pyproject.toml"),
        `[project]\nname = "m"\nversion = "1"\ndependencies = ["flask==2.2.2"]\n\n[tool.slimwheel]\nindex-url = "https://deploy:${token}@idx.test/simple"\n`,
      );
      await writeFile(
        join(dir, "requirements.txt"),
        `--extra-index-url https://ci:${token}@extra.test/simple\nflask==2.2.2\n`,
      );
      await writeFile(join(dir, "app.py"), "import flask\n");
      const outputs = [
        await runCli(["plan", dir]),
        await runCli(["--json", "plan", dir]),
        await runCli(["--verbose", "plan", dir, "--index-url", `https://x:${token}@h.test/simple`]),
        await runCli(["dockerfile", dir]),
        await runCli(["plan", join(dir, "nope"), "--index-url", `https://x:${token}@h.test/simple`]),
      ];
      for (const o of outputs) {
        expect(o.stdout + o.stderr).not.toContain(token);
      }
      expect(outputs[1]!.stdout).toContain("deploy:***@idx.test");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
