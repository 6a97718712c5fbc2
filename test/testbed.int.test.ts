import { createHash } from "node:crypto";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { httpGet } from "../testbed/processes.js";
import { buildahBuild, pushImage, runInImage } from "./helpers/buildah.js";

const ROOT = join(import.meta.dirname, "..");
let tb: Endpoints;
let work: string;

beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-int-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the test bed's registry speaks the distribution API", () => {
  it("answers /v2/, lists tags, and serves the runtime manifest by digest", async () => {
    const base = tb.registry.url;
    expect((await httpGet(`${base}/v2/`)).status).toBe(200);

    const tags = JSON.parse((await httpGet(`${base}/v2/slimwheel-testbed/python/tags/list`)).body) as {
      tags: string[];
    };
    expect(tags.tags).toEqual(expect.arrayContaining(["3.11", "3.11-slim"]));

    const { digest } = tb.images.runtime;
    const r = await httpGet(`${base}/v2/slimwheel-testbed/python/manifests/${digest}`, {
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    expect(r.status).toBe(200);
    // The registry serves exactly the bytes whose hash is the digest.
    expect(`sha256:${createHash("sha256").update(r.body).digest("hex")}`).toBe(digest);
    const manifest = JSON.parse(r.body) as { layers: unknown[]; config: { digest: string } };
    expect(manifest.layers.length).toBeGreaterThan(0);

    const missing = await httpGet(`${base}/v2/slimwheel-testbed/python/manifests/no-such-tag`);
    expect(missing.status).toBe(404);
  });
});

describe("the base images behave like the official python images", () => {
  it("runtime: python and pip resolve, no PEP 668 marker, no compiler", async () => {
    const r = await runInImage(tb.images.runtime.pinned, [
      "sh",
      "-c",
      "python --version && pip --version && ls /usr/lib/python3*/EXTERNALLY-MANAGED 2>/dev/null | wc -l && (command -v gcc || echo no-gcc)",
    ]);
    expect(r.stdout).toMatch(/Python 3\.11\./);
    expect(r.stdout).toMatch(/pip \d+/);
    expect(r.stdout).toMatch(/^0$/m);
    expect(r.stdout).toMatch(/no-gcc/);
  });

  it("builder: has gcc and Python headers", async () => {
    const r = await runInImage(tb.images.builder.pinned, [
      "sh",
      "-c",
      'gcc --version | head -1 && python3 -c \'import sysconfig,os; print(os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))\'',
    ]);
    expect(r.stdout).toMatch(/gcc/);
    expect(r.stdout).toMatch(/True/);
  });
});

describe("a two-stage build over the test bed", () => {
  it("builds with buildah, pushes, pulls back by digest and passes the flask-app smoke test", async () => {
    const ctx = join(work, "flask-app");
    await cp(join(ROOT, "examples", "flask-app"), ctx, { recursive: true });
    const tag = `localhost/slimwheel-int/flask-two-stage:${process.pid}`;
    await buildahBuild({
      contextDir: ctx,
      dockerfile: join(ROOT, "test", "fixtures", "two-stage.Dockerfile"),
      tag,
      buildArgs: {
        BUILDER_IMAGE: tb.images.builder.pinned,
        RUNTIME_IMAGE: tb.images.runtime.pinned,
        PIP_INDEX_URL: tb.index.url,
      },
    });
    const repo = `${tb.registry.host}/slimwheel-int/flask-two-stage`;
    const digest = await pushImage(tag, `${repo}:latest`);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Forget the local copy, then pull it back from the registry by digest.
    await exec("buildah", ["rmi", "-f", tag], { env: process.env });
    await exec("buildah", ["pull", "--tls-verify=false", `${repo}@${digest}`], { env: process.env });

    const smoke = await runInImage(`${repo}@${digest}`, ["python", "smoke.py"], { workdir: "/app" });
    expect(smoke.stdout).toMatch(/smoke ok: flask-app answers/);
    // No compiler came along into the runtime image.
    const gcc = await runInImage(`${repo}@${digest}`, ["sh", "-c", "command -v gcc || echo none"]);
    expect(gcc.stdout.trim()).toBe("none");
  });
});

describe("the package index serves real wheels and sdists", () => {
  it("pip installs Flask and compiles the C-extension sdist into a fresh venv, then imports both", async () => {
    const script = [
      "set -e",
      "python3 -m venv /tmp/venv",
      `PIP_CONFIG_FILE=/dev/null /tmp/venv/bin/pip install --no-cache-dir --index-url ${tb.index.url} flask yamlinfo`,
      '/tmp/venv/bin/python -c \'import flask, yamlinfo; print("flask", flask.__version__); print("libyaml", yamlinfo.libyaml_version(), yamlinfo.count_events("a: 1"))\'',
      "/tmp/venv/bin/pip show -f yamlinfo | grep -c '_yamlinfo.*\\.so'",
    ].join("\n");
    const r = await runInImage(tb.images.builder.pinned, ["sh", "-c", script]);
    expect(r.stdout).toMatch(/^flask 2\.2\.2$/m);
    expect(r.stdout).toMatch(/^libyaml 0\.\d+\.\d+ \d+$/m);
    // The extension was compiled from the sdist (Building wheel for yamlinfo), not taken prebuilt.
    expect(r.stdout).toMatch(/Building wheel for yamlinfo|Created wheel for yamlinfo/);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1");
  });
});
