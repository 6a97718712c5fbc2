/** System packages found from the built artifacts, on the test bed (buildah). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { readLayout } from "../src/oci/layout.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { externalLibraries, scanArtifacts } from "../src/sysdeps/artifacts.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

const ROOT = join(import.meta.dirname, "..");
const ctx = testContext();
let tb: Endpoints;
let work: string;
beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-sysdeps-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function toolchainBytes(tag: string): Promise<number> {
  const dir = await mkdtemp(join(work, "oci-"));
  await createEngine("buildah", process.env).exportImage(tag, { kind: "oci-dir", path: dir }, ctx);
  return (await readLayout(dir)).toolchainBytes;
}

describe("runtime libraries from the built wheels", () => {
  it("reads the test bed's real psycopg2 and lxml wheels: they link libpq and libxml2/libxslt", async () => {
    const scan = await scanArtifacts(join(tb.index.dir, "files"));
    const libs = externalLibraries(scan);
    expect(libs.get("libpq.so.5")?.map((e) => e.file)).toEqual([
      "psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so",
    ]);
    expect(libs.has("libxml2.so.2")).toBe(true);
    expect(libs.has("libyaml-0.so.2")).toBe(true);
    expect(libs.has("libc.so.6")).toBe(false);
  });

  it("django-postgres: the final image gets libpq5 (with its chain), no compilers, and passes the import test", async () => {
    const tag = "localhost/slimwheel-e2e/sysdeps-django:slimwheel";
    const out = await buildImage(
      join(ROOT, "examples", "django-postgres"),
      { ...testbedSources(tb), strategy: "slimwheel", engine: "buildah", tags: [tag] },
      ctx,
    );
    expect(out.plan.runtimePackages.map((r) => `${r.name} ← ${r.why}`)).toEqual([
      "libpq5 ← libpq.so.5 ← psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so",
    ]);
    expect(out.importTest?.failures).toEqual([]);
    expect(out.importTest?.checked.map((c) => c.module)).toContain("psycopg2");
    expect(await toolchainBytes(tag)).toBe(0);
  });

  it("data-tools (lxml, PyYAML, numpy): libxml2, libxslt1.1, libyaml-0-2 and a BLAS/LAPACK, no compilers, import test and smoke pass", async () => {
    const tag = "localhost/slimwheel-e2e/sysdeps-data:slimwheel";
    const out = await buildImage(
      join(ROOT, "examples", "data-tools"),
      {
        ...testbedSources(tb),
        strategy: "slimwheel",
        engine: "buildah",
        tags: [tag],
        smoke: "python smoke.py",
      },
      ctx,
    );
    const names = out.plan.runtimePackages.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["libxml2", "libxslt1.1", "libyaml-0-2"]));
    expect(names.some((n) => /^(libblas3|liblapack3|libopenblas0.*)$/.test(n))).toBe(true);
    for (const r of out.plan.runtimePackages) expect(r.why).toMatch(/^lib[^ ]+\.so[.\d]* ← [^ ]+\.so/);
    expect(out.importTest?.failures).toEqual([]);
    expect(out.smoke?.output).toMatch(/smoke ok: data-tools/);
    expect(names.some((n) => n.endsWith("-dev"))).toBe(false);
    expect(await toolchainBytes(tag)).toBe(0);
  });

  it("leaving out a needed package makes the import test fail, naming the library and its package", async () => {
    await expect(
      buildImage(
        join(ROOT, "examples", "django-postgres"),
        {
          ...testbedSources(tb),
          strategy: "slimwheel",
          engine: "buildah",
          tags: ["localhost/slimwheel-e2e/sysdeps-django:nolib"],
          // The slim runtime: the import test is what catches it (the minimal runtime's closure
          // refuses earlier, naming libpq.so.5 as unresolved).
          runtime: "slim",
          excludeRuntimePackages: ["libpq5"],
        },
        ctx,
      ),
    ).rejects.toMatchObject({
      code: "engine",
      message: expect.stringMatching(
        /import test failed .*: psycopg2 \(from psycopg2\) cannot load libpq\.so\.5, which Debian package libpq5 provides/,
      ),
      hint: expect.stringMatching(/runtime-packages = \["libpq5"\]/),
    });
  });
});
