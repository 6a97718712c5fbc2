/**
 * `slimwheel build --runtime minimal` end to end on the test bed (buildah): the pipeline builds
 * the slimwheel image, replaces it by its closure, and proves the minimal image (import test, and
 * the smoke command in exec form: there is no shell).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { isSlimwheelError } from "../src/errors.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

const ROOT = join(import.meta.dirname, "..");
const ctx = testContext();
const tb = await readEndpoints();

describe("build --runtime minimal", () => {
  const noShellProbe =
    "import os; print([p for p in ('/bin/sh', '/usr/bin/sh', '/usr/bin/apt-get', '/usr/bin/dpkg', '/usr/bin/gcc') if os.path.exists(p)])";

  for (const [example, boot] of [
    ["django-postgres", "serving"],
    ["flask-app", "serving"],
    ["c-extension", "completed"],
    ["data-tools", undefined],
  ] as const)
    it(`builds ${example} minimal: import test, smoke and boot pass; no shell, apt, dpkg or compiler`, async () => {
      const tag = `localhost/slimwheel-minimal/${example}:t`;
      const out = await buildImage(
        join(ROOT, "examples", example),
        {
          ...testbedSources(tb),
          engine: "buildah",
          tags: [tag],
          smoke: "python smoke.py",
        },
        ctx,
      );
      // No --runtime: minimal is the slimwheel strategy's default.
      expect(out.runtime).toBe("minimal");
      expect(out.smoke?.ok).toBe(true);
      expect(out.importTest?.failures).toEqual([]);
      // A command that is not a server passes by exiting 0 or by staying up 3 s (a loaded machine
      // can make a short one take longer): both are a successful boot.
      if (boot === "completed") expect(["completed", "running"]).toContain(out.boot?.outcome);
      else expect(out.boot?.outcome).toBe(boot);
      if (boot === "serving") expect(out.boot?.status).toBeLessThan(600);
      expect(out.closure?.dropped.find((d) => d.group === "shell & tools")?.bytes ?? 0).toBeGreaterThan(0);
      if (example === "django-postgres") expect(out.closure?.packages).toContain("libpq5");
      const probe = await createEngine("buildah", process.env).run(tag, ["python3", "-c", noShellProbe], ctx);
      expect(probe.stdout.trim()).toBe("[]");
      const config = JSON.parse(
        (await exec("buildah", ["inspect", "--type", "image", tag], { env: process.env })).stdout,
      ).OCIv1.config as { Labels: Record<string, string>; User: string };
      expect(config.Labels).toMatchObject({
        "io.slimwheel.strategy": "slimwheel",
        "io.slimwheel.runtime": "minimal",
      });
      expect(config.User).toBe("10001:10001");
    });

  it("works with the docker engine: minimized through buildah, loaded back, proven by docker run", async () => {
    expect(tb.docker, "the test bed has no Docker engine").toBeDefined();
    const env = { ...process.env, DOCKER_HOST: tb.docker!.host };
    const tag = "localhost/slimwheel-minimal/flask-docker:t";
    const out = await buildImage(
      join(ROOT, "examples", "flask-app"),
      { ...testbedSources(tb), engine: "docker", tags: [tag], runtime: "minimal", smoke: "python smoke.py" },
      { ...ctx, env },
    );
    expect(out.engine.id).toBe("docker");
    expect(out.smoke?.ok).toBe(true);
    expect(out.boot?.outcome).toBe("serving");
    const probe = await createEngine("docker", env).run(tag, ["python3", "-c", noShellProbe], ctx);
    expect(probe.stdout.trim()).toBe("[]");
  });

  it("--keep: a file outside the closure fails the proof with the --keep line that fixes it, and passes with it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-keep-"));
    try {
      await writeFile(join(dir, "requirements.txt"), "PyYAML==6.0\n");
      await writeFile(
        join(dir, "app.py"),
        "import yaml\nprint(open('/usr/share/common-licenses/Apache-2.0').read().split()[0])\n",
      );
      const options = {
        ...testbedSources(tb),
        engine: "buildah" as const,
        tags: ["localhost/slimwheel-minimal/keep:t"],
        runtime: "minimal" as const,
        smoke: "python app.py",
      };
      const failed = await buildImage(dir, options, ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSlimwheelError(failed)).toBe(true);
      expect((failed as Error).message).toContain("the smoke test failed");
      expect((failed as { hint?: string }).hint).toContain("--keep /usr/share/common-licenses/Apache-2.0");
      const kept = await buildImage(
        dir,
        { ...options, keep: ["/usr/share/common-licenses/Apache-2.0"] },
        ctx,
      );
      expect(kept.smoke?.output).toContain("Apache");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("plan previews what the minimal runtime keeps of the base image and drops from it, by group with bytes", async () => {
    const { runCli } = await import("../src/cli/testing.js");
    const r = await runCli(
      ["--json", "plan", join(ROOT, "examples", "flask-app"), "--runtime-image", tb.images.runtime.pinned],
      { env: process.env },
    );
    expect(r.code, r.stderr).toBe(0);
    const runtime = JSON.parse(r.stdout).runtime;
    expect(runtime).toMatchObject({ kind: "minimal", measured: true });
    const dropped = Object.fromEntries(
      (runtime.dropped as { group: string; bytes: number }[]).map((d) => [d.group, d.bytes]),
    );
    for (const g of ["shell & tools", "package manager", "Python tooling"])
      expect(dropped[g]).toBeGreaterThan(0);
    expect(runtime.layers[0].bytes).toBeGreaterThan(10e6);
  });

  it("is only for the slimwheel strategy", async () => {
    await expect(
      buildImage(
        join(ROOT, "examples", "flask-app"),
        {
          ...testbedSources(tb),
          engine: "buildah",
          tags: ["localhost/x:y"],
          strategy: "full",
          runtime: "minimal",
        },
        ctx,
      ),
    ).rejects.toSatisfy((e: unknown) => isSlimwheelError(e) && e.code === "usage");
  });
});
