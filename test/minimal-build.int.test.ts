/**
 * `slimwheel build --runtime minimal` end to end on the test bed (buildah): the pipeline builds
 * the slimwheel image, replaces it by its closure, and proves the minimal image (import test, and
 * the smoke command in exec form: there is no shell).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { isSlimwheelError } from "../src/errors.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

const ROOT = join(import.meta.dirname, "..");
const ctx = testContext();
const tb = await readEndpoints();

describe("build --runtime minimal", () => {
  it("builds django-postgres minimal: proven, smaller, no shell, libpq5 among its dpkg records", async () => {
    const tag = "localhost/slimwheel-minimal/django-postgres:t";
    const out = await buildImage(
      join(ROOT, "examples", "django-postgres"),
      { ...testbedSources(tb), engine: "buildah", tags: [tag], runtime: "minimal", smoke: "python smoke.py" },
      ctx,
    );
    expect(out.smoke?.ok).toBe(true);
    expect(out.importTest?.failures).toEqual([]);
    expect(out.closure?.packages).toContain("libpq5");
    expect(out.closure?.dropped.find((d) => d.group === "shell & tools")?.bytes ?? 0).toBeGreaterThan(0);
    const probe = await createEngine("buildah", process.env).run(
      tag,
      [
        "python3",
        "-c",
        "import os; print([p for p in ('/bin/sh', '/usr/bin/apt-get', '/usr/bin/dpkg') if os.path.exists(p)])",
      ],
      ctx,
    );
    expect(probe.stdout.trim()).toBe("[]");
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
