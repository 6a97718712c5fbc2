/**
 * Projects shaped like the ones people have (issue 9), built with the default strategy on the
 * test bed (buildah) and checked inside the built image: requirements with nested -r/-c includes,
 * a hash-checked requirements file whose set includes an sdist with a C extension, and secrets
 * nested in the build context.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

let tb: Endpoints;
let work: string;
const ctx = testContext();

beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-real-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Writes a project from a map of relative path → content; returns its directory. */
async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const build = (dir: string, tag: string, smoke: string) =>
  buildImage(dir, { ...testbedSources(tb), engine: "buildah", tags: [tag], smoke }, ctx);

describe("the default strategy on real project shapes", () => {
  it("installs a requirements file with nested -r and -c includes in subdirectories", async () => {
    const dir = await project("includes", {
      "app.py": "import flask, yaml\nprint('ok')\n",
      "requirements.txt": "-r requirements/base.txt\n-c constraints.txt\n",
      "requirements/base.txt": "-r common/yaml.txt\nflask\n",
      "requirements/common/yaml.txt": "PyYAML\n",
      "constraints.txt": "flask<3\nPyYAML==6.0\n",
    });
    const out = await build(dir, "localhost/slimwheel-real/includes:t", "python app.py");
    expect(out.smoke?.output).toContain("ok");
    expect(out.importTest?.checked.map((c) => c.module)).toEqual(expect.arrayContaining(["flask", "yaml"]));
  });

  it("honours --hash: the builder verifies the sdist's hash, the final stage installs the wheel built from it", async () => {
    const files = join(tb.index.dir, "files");
    const dir = await project("hashes", {
      "app.py": "import yamlinfo, yaml\nprint('ok')\n",
      "requirements.txt": [
        `yamlinfo==1.0.0 --hash=sha256:${await sha256(join(files, "yamlinfo-1.0.0.tar.gz"))}`,
        `PyYAML==6.0 --hash=sha256:${await sha256(join(files, "pyyaml-6.0-cp311-cp311-linux_x86_64.whl"))}`,
        "",
      ].join("\n"),
    });
    const out = await build(dir, "localhost/slimwheel-real/hashes:t", "python app.py");
    expect(out.smoke?.output).toContain("ok");
    expect(out.plan.runtimePackages.map((r) => r.name)).toContain("libyaml-0-2");
  });

  it("refuses a hash that does not match: pip's hash check runs in the builder", async () => {
    const dir = await project("bad-hash", {
      "app.py": "print('ok')\n",
      "requirements.txt": `PyYAML==6.0 --hash=sha256:${"0".repeat(64)}\n`,
    });
    await expect(build(dir, "localhost/slimwheel-real/bad-hash:t", "python app.py")).rejects.toThrow();
  });

  it("keeps nested secrets out of the image", async () => {
    const dir = await project("secrets", {
      "app.py": "print('ok')\n",
      "requirements.txt": "PyYAML\n",
      "config/.env": "SECRET=1\n",
      "config/.env.production": "SECRET=2\n",
      "certs/server.key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
      "deploy/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n",
      "src/.aws/credentials": "[default]\n",
      "data/app.sqlite3": "x",
      "config/settings.py": "DEBUG = False\n",
    });
    const tag = "localhost/slimwheel-real/secrets:t";
    await build(dir, tag, "python app.py");
    const r = await createEngine("buildah", process.env).run(
      tag,
      [
        "python3",
        "-c",
        "import os; print('\\n'.join(os.path.join(d, f) for d, _, fs in os.walk('/app') for f in fs))",
      ],
      ctx,
    );
    const files = r.stdout.trim().split("\n").sort();
    expect(files).toContain("/app/config/settings.py");
    expect(files).toContain("/app/app.py");
    for (const secret of [
      "config/.env",
      "config/.env.production",
      "certs/server.key",
      "deploy/id_rsa",
      "src/.aws/credentials",
      "data/app.sqlite3",
    ])
      expect(files).not.toContain(`/app/${secret}`);
  });
});
