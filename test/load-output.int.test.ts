/**
 * What `--output` writes runs where a user takes it (issue 11): the docker-archive output loaded
 * by `docker load` into the test bed's Docker engine, and the OCI layout output pulled by
 * `buildah pull oci:`, both run the example's smoke test (`python smoke.py`, as the other
 * integration tests pass it with --smoke). `docker run` needs `--network host` on this machine;
 * podman run does not work here, so the OCI image runs with `buildah run --isolation chroot`.
 */
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { cliBuild, removeImages } from "./helpers/cold-build.js";

const ROOT = join(import.meta.dirname, "..");
const tb = await readEndpoints();
// Lowercase on purpose: `buildah pull oci:PATH` names the image after PATH, and an image name
// must be lowercase (mkdtemp's random suffix is mixed-case).
const work = join(tmpdir(), `slimwheel-load-output-${process.pid}-${Date.now()}`);
const TAG = "localhost/slimwheel-load-output-int/flask-app:t";
const cleanup: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await removeImages(TAG);
  await rm(work, { recursive: true, force: true });
});

const build = (output: string) =>
  cliBuild(tb, join(ROOT, "examples", "flask-app"), work, TAG, [
    "--output",
    output,
    "--smoke",
    "python smoke.py",
    "--no-import-test",
    "--no-boot-test",
  ]);

describe("--output runs where it is loaded", () => {
  it("docker load of the docker-archive output runs the smoke test", async () => {
    expect(tb.docker, "the test bed has no Docker engine").toBeDefined();
    await mkdir(work, { recursive: true });
    const archive = join(work, "flask-app.docker.tar");
    await build(`docker-archive:${archive}`);
    const env = { ...process.env, DOCKER_HOST: tb.docker!.host };
    const loaded = await exec("docker", ["load", "--input", archive], { env, doing: "docker load" });
    // `Loaded image: NAME` when the archive names its image, `Loaded image ID: sha256:…` when not.
    const m = /Loaded image(?: ID)?: (\S+)/.exec(loaded.stdout);
    expect(m, `docker load said: ${loaded.stdout}`).not.toBeNull();
    const image = m![1]!;
    cleanup.push(() => exec("docker", ["rmi", "--force", image], { env, allowFailure: true }));
    // The archive names the image with the build's tag, so `docker run TAG` works after the load.
    expect(image).toBe(TAG);
    const run = await exec("docker", ["run", "--rm", "--network", "host", image, "python", "smoke.py"], {
      env,
      allowFailure: true,
      doing: "docker run python smoke.py",
    });
    expect(run.code, `smoke failed in docker:\n${run.stdout}\n${run.stderr}`).toBe(0);
  });

  it("buildah pull oci: of the OCI output runs the smoke test", async () => {
    await mkdir(work, { recursive: true });
    const layout = join(work, "flask-app-oci");
    await build(`oci:${layout}`);
    const pulled = await exec("buildah", ["pull", "--quiet", `oci:${layout}`], {
      env: process.env,
      doing: `buildah pull oci:${layout}`,
    });
    const id = pulled.stdout.trim().split("\n").at(-1)!;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    cleanup.push(() => exec("buildah", ["rmi", "--force", id], { env: process.env, allowFailure: true }));
    const ctr = (await exec("buildah", ["from", "--pull-never", id], { env: process.env })).stdout.trim();
    cleanup.push(() => exec("buildah", ["rm", ctr], { env: process.env, allowFailure: true }));
    const run = await exec("buildah", ["run", "--isolation", "chroot", ctr, "--", "python", "smoke.py"], {
      env: process.env,
      allowFailure: true,
      doing: "buildah run python smoke.py",
    });
    expect(run.code, `smoke failed in buildah:\n${run.stdout}\n${run.stderr}`).toBe(0);
  });
});
