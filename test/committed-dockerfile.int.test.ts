/**
 * `build` and the committed Dockerfile (issue 14), with the real CLI, buildah and the test bed:
 * current → built as committed; stale → re-rendered, and said; `-f FILE` → the user's own.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "dist", "cli", "main.js");
const TAG = "localhost/committed-dockerfile-int";
let tb: Endpoints;
let dir: string;

const cli = (args: readonly string[], allowFailure = false) =>
  exec(process.execPath, [BIN, "--no-color", ...args], {
    env: process.env,
    cwd: dir,
    allowFailure,
    doing: `slimwheel ${args.join(" ")}`,
  });

/** `slimwheel build` of the copy, buildah, the test bed's images and index, the slim runtime. */
async function build(tag: string, extra: readonly string[] = []) {
  const r = await cli(
    [
      "--json",
      "build",
      dir,
      ...["-t", `${TAG}:${tag}`, "--engine", "buildah", "--runtime", "slim"],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url, ...extra],
    ],
    true,
  );
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  return r;
}

beforeAll(async () => {
  tb = await readEndpoints();
  dir = await mkdtemp(join(tmpdir(), "committed-dockerfile-int-"));
  await cp(join(ROOT, "examples", "flask-app"), dir, { recursive: true });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  for (const t of ["current", "stale", "mine"])
    await exec("buildah", ["rmi", "-f", `${TAG}:${t}`], { env: process.env, allowFailure: true });
});

describe("build and the committed Dockerfile", { timeout: 900_000 }, () => {
  it("builds the committed Dockerfile when slimwheel wrote it and it is current", async () => {
    await cli(["dockerfile", ".", "--runtime", "slim"]);
    const r = await build("current");
    expect(r.stderr).toMatch(/using the committed Dockerfile Dockerfile \(current: inputs [0-9a-f]{16}\)/);
    expect(r.stderr).not.toMatch(/stale/);
    expect(JSON.parse(r.stdout)).toMatchObject({ tags: [`${TAG}:current`], strategy: "slimwheel" });
  });

  it("re-renders a stale one into the build context, says so, and leaves it as it is", async () => {
    const before = await readFile(join(dir, "Dockerfile"), "utf8");
    const req = join(dir, "requirements.txt");
    await writeFile(req, `${await readFile(req, "utf8")}# a new comment: the inputs changed\n`);
    const r = await build("stale");
    expect(r.stderr).toMatch(
      /warning: Dockerfile is stale: re-rendered for this build; run slimwheel dockerfile \. --runtime slim to update it/,
    );
    expect(r.stderr).not.toMatch(/using the committed Dockerfile/);
    expect(await readFile(join(dir, "Dockerfile"), "utf8")).toBe(before);
    expect(JSON.parse(r.stdout)).toMatchObject({ tags: [`${TAG}:stale`] });
  });

  it("-f builds the user's own Dockerfile as it is, and refuses --runtime minimal with it", async () => {
    await writeFile(
      join(dir, "Dockerfile.mine"),
      [
        "ARG RUNTIME_IMAGE",
        "FROM ${RUNTIME_IMAGE}",
        "ARG PIP_INDEX_URL",
        "WORKDIR /app",
        "COPY requirements.txt .",
        "RUN pip install --no-cache-dir -r requirements.txt",
        "COPY . .",
        'LABEL mine="yes"',
        'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]',
        "",
      ].join("\n"),
    );
    const refused = await cli(["build", ".", "-f", "Dockerfile.mine", "--runtime", "minimal"], true);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--runtime minimal needs slimwheel's own plan/);
    const r = await build("mine", ["-f", "Dockerfile.mine"]);
    expect(r.stderr).toMatch(/building your Dockerfile .*Dockerfile\.mine as it is/);
    const label = await exec(
      "buildah",
      ["inspect", "--format", '{{index .OCIv1.Config.Labels "mine"}}', `${TAG}:mine`],
      { env: process.env },
    );
    expect(label.stdout.trim()).toBe("yes");
  });
});
