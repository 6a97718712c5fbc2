/**
 * The classic strategies and slimwheel's, as real builds on the test bed (buildah), plus the
 * podman and docker adapters against their real engines.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import type { EngineId } from "../src/engines/types.js";
import { isSlimwheelError } from "../src/errors.js";
import { type InspectReport, inspectImage } from "../src/inspect/index.js";
import { readDockerArchive } from "../src/oci/docker-archive.js";
import { readLayout } from "../src/oci/layout.js";
import { openImageSource, parseImageRef } from "../src/oci/ref.js";
import type { ImageSummary } from "../src/oci/types.js";
import { assemblePlan } from "../src/pipeline/assemble.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { readProject } from "../src/project/read.js";
import { renderDockerfile } from "../src/render/dockerfile/index.js";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = ["flask-app", "django-postgres", "c-extension"];
const STRATEGIES = ["full", "slim", "slim-apt", "single-layer", "wheels", "venv", "slimwheel"];
/** By design, slim refuses projects that need a compiler or a system library. */
const REFUSED: Record<string, string[]> = { slim: ["django-postgres", "c-extension"] };

let tb: Endpoints;
let work: string;
const images = new Map<string, ImageSummary>();
/** The OCI layout each buildah image was exported to, for inspect. */
const layouts = new Map<string, string>();
const ctx = testContext();

async function summarize(
  engine: EngineId,
  tag: string,
  env: NodeJS.ProcessEnv = process.env,
  key?: string,
): Promise<ImageSummary> {
  const e = createEngine(engine, env);
  const dir = await mkdtemp(join(work, "img-"));
  if (engine === "docker") {
    await e.exportImage(tag, { kind: "docker-archive", path: join(dir, "i.tar") }, { ...ctx, env });
    return readDockerArchive(join(dir, "i.tar"));
  }
  await e.exportImage(tag, { kind: "oci-dir", path: join(dir, "oci") }, ctx);
  if (key) layouts.set(key, join(dir, "oci"));
  return readLayout(join(dir, "oci"));
}

beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-e2e-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each(EXAMPLES)("%s with buildah", (example) => {
  it.each(
    STRATEGIES,
  )(`%s builds ${example} and passes its smoke test (or refuses it by design)`, async (strategy) => {
    const tag = `localhost/slimwheel-e2e/${example}:${strategy}`;
    const run = buildImage(
      join(ROOT, "examples", example),
      { ...testbedSources(tb), strategy, engine: "buildah", tags: [tag], smoke: "python smoke.py" },
      ctx,
    );
    if (REFUSED[strategy]?.includes(example)) {
      await expect(run).rejects.toSatisfy(
        (e: unknown) =>
          isSlimwheelError(e) &&
          e.code === "input" &&
          /the slim strategy cannot build this project/.test(e.message),
      );
      return;
    }
    const outcome = await run;
    expect(outcome.smoke?.ok).toBe(true);
    expect(outcome.smoke?.output).toMatch(/smoke ok/);
    images.set(
      `${example}/${strategy}`,
      await summarize("buildah", tag, process.env, `${example}/${strategy}`),
    );
  });
});

describe("what the builds show", () => {
  it.each([
    "django-postgres",
    "c-extension",
  ])("%s: slimwheel <= wheels <= slim-apt <= full, compressed and uncompressed", (example) => {
    const size = (s: string) => images.get(`${example}/${s}`)!;
    for (const key of ["compressedSize", "uncompressedSize"] as const) {
      const order = ["slimwheel", "wheels", "slim-apt", "full"].map((s) => size(s)[key]);
      expect(order, `${key}: ${order.join(" <= ")}`).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it.each(
    EXAMPLES,
  )("%s: the slimwheel image has no compiler or header bytes in any layer; slim-apt and full do", (example) => {
    const sw = images.get(`${example}/slimwheel`)!;
    for (const l of sw.layers)
      expect(l.toolchainBytes, `${l.createdBy}: ${l.toolchainSamples.join(", ")}`).toBe(0);
    expect(images.get(`${example}/full`)!.toolchainBytes).toBeGreaterThan(50 * 1024 * 1024);
    if (example !== "flask-app")
      expect(images.get(`${example}/slim-apt`)!.toolchainBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it("the slimwheel image runs as a non-root user with OCI labels", () => {
    const sw = images.get("django-postgres/slimwheel")!;
    expect(sw.config.user).toBe("10001:10001");
    expect(sw.config.labels["io.slimwheel.strategy"]).toBe("slimwheel");
    expect(sw.config.labels["org.opencontainers.image.title"]).toBe("django-postgres");
  });

  it("slim-apt's purge layer saves nothing: the build tools stay in the earlier layer", () => {
    const img = images.get("c-extension/slim-apt")!;
    const purge = img.layers.find((l) => /apt-get purge/.test(l.createdBy ?? ""))!;
    expect(purge.whiteouts.length).toBeGreaterThan(0);
    expect(img.layers.some((l) => l.toolchainBytes > 10 * 1024 * 1024)).toBe(true);
  });
});

describe("inspect finds the waste each seed describes, and none of it in the slimwheel image", () => {
  const inspectOf = async (key: string) =>
    inspectImage(await openImageSource(parseImageRef(`oci:${layouts.get(key)!}`, "/")));
  const ids = (r: InspectReport) => r.findings.map((f) => f.id);

  it("slim-apt: the purged toolchain is waste, counted once in the layer that installed it; a squash saves exactly that", async () => {
    const r = await inspectOf("c-extension/slim-apt");
    expect(r.waste.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(r.waste.top.some((o) => /gcc|cc1|\/usr\/include\//.test(o.path))).toBe(true);
    // Squash with buildah: the squashed image's files are the final file system.
    const tag = "localhost/slimwheel-e2e/c-extension:slim-apt";
    const ctr = (await exec("buildah", ["from", "--pull-never", tag], { env: process.env })).stdout.trim();
    const squashed = `${tag}-squashed`;
    try {
      await exec("buildah", ["commit", "--quiet", "--squash", ctr, squashed], { env: process.env });
    } finally {
      await exec("buildah", ["rm", ctr], { env: process.env, allowFailure: true });
    }
    const dir = await mkdtemp(join(work, "squash-"));
    await createEngine("buildah", process.env).exportImage(squashed, { kind: "oci-dir", path: dir }, ctx);
    const flat = await inspectImage(await openImageSource(parseImageRef(`oci:${dir}`, "/")));
    expect(flat.waste.bytes).toBe(0);
    expect(flat.totals.finalBytes).toBe(r.totals.finalBytes);
    expect(r.totals.writtenBytes - flat.totals.writtenBytes).toBe(r.waste.bytes);
  });

  it.each(
    EXAMPLES,
  )("%s: inspect reads every strategy's image, and each shows its seed's findings", async (example) => {
    for (const strategy of STRATEGIES) {
      if (REFUSED[strategy]?.includes(example)) continue;
      const r = await inspectOf(`${example}/${strategy}`);
      const at = `${example}/${strategy}`;
      expect(r.totals.finalBytes, at).toBeGreaterThan(0);
      expect(r.totals.efficiency, at).toBeGreaterThan(0);
      if (strategy === "full") expect(ids(r), at).toContain("compiler");
      if (strategy === "wheels") expect(ids(r), at).toContain("wheel-files");
      if (strategy === "slim-apt" && example !== "flask-app")
        expect(r.waste.bytes, at).toBeGreaterThan(10 * 1024 * 1024);
      if (strategy === "venv") expect(ids(r), at).not.toContain("venv-missing-interpreter");
      if (["slimwheel", "wheels", "venv", "slim"].includes(strategy))
        expect(ids(r), at).not.toContain("compiler");
    }
  });

  it("wheels: the .whl files are stored twice; full: compilers", async () => {
    expect(ids(await inspectOf("c-extension/wheels"))).toContain("wheel-files");
    expect(ids(await inspectOf("c-extension/full"))).toContain("compiler");
  });

  it.each(
    EXAMPLES,
  )("%s: the slimwheel image has no waste, no wheels, caches or compilers, and does not run as root", async (example) => {
    const r = await inspectOf(`${example}/slimwheel`);
    // Only system state files rewritten by later layers: /etc/passwd (the app user) and, when
    // runtime libraries are installed, apt's and dpkg's state (dpkg/status, debconf's caches).
    expect(r.waste.bytes).toBeLessThan(3 * 1024 * 1024);
    for (const o of r.waste.top)
      expect(o.path, o.path).toMatch(
        /^\/(etc\/(passwd|group|ld\.so\.cache)$|var\/(lib\/(dpkg|apt)|cache\/(debconf|apt))\/)/,
      );
    for (const id of [
      "wheel-files",
      "pip-cache",
      "compiler",
      "headers",
      "apt-lists",
      "deb-cache",
      "root",
    ] as const)
      expect(ids(r), id).not.toContain(id);
  });
});

describe("a one-line app change", () => {
  it("rebuilds only the slimwheel image's app layer: base, system and dependency layers keep their digests", async () => {
    const src = join(work, "django-change");
    await cp(join(ROOT, "examples", "django-postgres"), src, { recursive: true });
    const tag = "localhost/slimwheel-e2e/django-change:slimwheel";
    const opts = {
      ...testbedSources(tb),
      strategy: "slimwheel",
      runtime: "slim" as const,
      engine: "buildah" as const,
      tags: [tag],
    };
    await buildImage(src, opts, ctx);
    const before = await summarize("buildah", tag);
    const view = join(src, "hello", "views.py");
    await writeFile(view, `${await readFile(view, "utf8")}\n# a one-line change\n`);
    const rebuilt = await buildImage(src, opts, ctx);
    // The wheels stage and what was read from it come from slimwheel's stage cache.
    expect(rebuilt.runtimeNeeds?.stage.cached).toBe(true);
    expect(rebuilt.plan.runtimePackages.map((r) => r.name)).toEqual(["libpq5"]);
    const after = await summarize("buildah", tag);
    expect(after.layers.length).toBe(before.layers.length);
    const changed = after.layers.map((l, i) => l.diffId !== before.layers[i]!.diffId);
    expect(changed.slice(0, -1).every((c) => !c)).toBe(true);
    expect(changed.at(-1)).toBe(true);
    // The layers kept are base, runtime libraries (libpq5), the app user with the dependencies.
    expect(before.layers.map((l) => l.createdBy ?? "").join("\n")).toMatch(
      /libpq5[\s\S]*>> \/etc\/passwd[^\n]*pip install/,
    );
    // The image's user is the app user of /etc/passwd, and it cannot write the app's files.
    const who = await createEngine("buildah", process.env).run(
      tag,
      ["sh", "-c", "id -un; id -u; touch /app/manage.py 2>/dev/null || echo read-only"],
      ctx,
    );
    expect(who.stdout.trim().split("\n")).toEqual(["app", "10001", "read-only"]);
  });

  it("rebuilds only the minimal image's app layer (the default runtime): runtime, system and dependency layers keep their digests", async () => {
    const src = join(work, "django-change-minimal");
    await cp(join(ROOT, "examples", "django-postgres"), src, { recursive: true });
    const tag = "localhost/slimwheel-e2e/django-change:minimal";
    const opts = { ...testbedSources(tb), strategy: "slimwheel", engine: "buildah" as const, tags: [tag] };
    const first = await buildImage(src, { ...opts, bootTest: false }, ctx);
    expect(first.runtime).toBe("minimal");
    const before = await summarize("buildah", tag);
    const view = join(src, "hello", "views.py");
    await writeFile(view, `${await readFile(view, "utf8")}\n# a one-line change\n`);
    await buildImage(src, { ...opts, bootTest: false }, ctx);
    const after = await summarize("buildah", tag);
    expect(after.layers.length).toBe(4);
    const changed = after.layers.map((l, i) => l.diffId !== before.layers[i]!.diffId);
    expect(changed).toEqual([false, false, false, true]);
    // The app user cannot write the app's files, in the minimal image too (checked without a shell).
    const probe = await createEngine("buildah", process.env).run(
      tag,
      ["python3", "-c", "import os; print(os.getuid(), os.access('/app/manage.py', os.W_OK))"],
      ctx,
    );
    expect(probe.stdout.trim()).toBe("10001 False");
  });
});

describe("alpine (no Alpine packages are reachable here: rendered and checked)", () => {
  it.each(EXAMPLES)("renders a musl-only two-stage Dockerfile for %s", async (example) => {
    const project = await readProject(join(ROOT, "examples", example));
    const plan = assemblePlan(project, "alpine");
    expect(plan.libc).toBe("musl");
    const text = renderDockerfile(plan, { version: "test" });
    expect(text).toMatch(/^ARG BUILDER_IMAGE=python:\$\{PYTHON_VERSION\}-alpine$/m);
    expect(text).toMatch(/^ARG RUNTIME_IMAGE=python:\$\{PYTHON_VERSION\}-alpine$/m);
    expect(text).toMatch(/apk add --no-cache build-base/);
    expect(text).not.toMatch(/apt-get/);
    expect(text).toMatch(/--mount=type=bind,from=builder,source=\/wheels,target=\/wheels/);
    if (example === "django-postgres") expect(text).toMatch(/apk add --no-cache libpq\b/);
  });

  it("refuses glibc images for the alpine strategy", async () => {
    await expect(
      buildImage(
        join(ROOT, "examples", "flask-app"),
        { ...testbedSources(tb), strategy: "alpine", engine: "buildah", tags: ["localhost/x:y"] },
        ctx,
      ),
    ).rejects.toThrow(/musl wheels: both images must be Alpine/);
  });
});

describe.each(["podman", "docker"] as const)("the %s adapter against the real engine", (engine) => {
  it.each(["wheels", "slimwheel"])(`%s builds c-extension and passes its smoke test`, async (strategy) => {
    if (engine === "docker" && !tb.docker)
      throw new Error("the test bed has no Docker engine: run `npm run testbed -- up --docker`");
    const env = engine === "docker" ? { ...process.env, DOCKER_HOST: tb.docker!.host } : process.env;
    const tag = `localhost/slimwheel-e2e/c-extension-${engine}:${strategy}`;
    const outcome = await buildImage(
      join(ROOT, "examples", "c-extension"),
      { ...testbedSources(tb), strategy, engine, tags: [tag], smoke: "python smoke.py" },
      { ...ctx, env },
    );
    expect(outcome.engine.id).toBe(engine);
    expect(outcome.smoke?.output).toMatch(/smoke ok: wordstats counts words; libyaml/);
    const e = createEngine(engine, env);
    const img = await summarize(engine, tag, env);
    expect(img.toolchainBytes).toBe(0);
    const digest = await e.push(
      tag,
      `${tb.registry.host}/slimwheel-e2e/c-extension-${engine}:${strategy}`,
      { ...ctx, env },
      { insecure: true },
    );
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
