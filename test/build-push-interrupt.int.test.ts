/**
 * `slimwheel build --push` interrupted during the push (issue 13). A warm build of
 * examples/flask-app with buildah (the slim runtime, so the push goes through `buildah push`)
 * pushes to a private `docker-registry` behind a loopback proxy that holds every blob upload for a
 * while; once one is held, the CLI gets SIGINT. It must exit 130 with no stack trace, leave nothing
 * in its temporary directory and none of its working containers, and the registry must have no
 * tag (the manifest goes last). The same build then pushes completely.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { containersOfCli } from "./helpers/buildah.js";
import { FaultProxy, type RegistryProcess, startRegistry } from "./helpers/local-registry.js";

const ROOT = join(import.meta.dirname, "..");
const tb = await readEndpoints();
let dir: string;
let reg: RegistryProcess;
let proxy: FaultProxy;
const ref = () => `${proxy.host}/build-push-interrupt/flask:t`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "build-push-interrupt-"));
  reg = await startRegistry(join(dir, "registry"));
  proxy = await new FaultProxy(reg.host).start();
});
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (proxy) await exec("buildah", ["rmi", "-f", ref()], { env: process.env, allowFailure: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

function build(temp: string) {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "build",
      join(ROOT, "examples", "flask-app"),
      ...["-t", ref(), "--push", "--engine", "buildah", "--runtime", "slim", "--no-boot-test"],
      ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
      ...["--index-url", tb.index.url],
    ],
    { env: { ...process.env, TMPDIR: temp }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stdout.on("data", () => {});
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const code = new Promise<number | null>((res) => child.on("close", (c) => res(c)));
  return { child, code, stderr: () => stderr };
}

const tagStatus = async () =>
  (
    await fetch(`http://${reg.host}/v2/build-push-interrupt/flask/manifests/t`, {
      method: "HEAD",
      headers: {
        accept:
          "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
      },
    })
  ).status;

describe("build --push interrupted while it pushes", () => {
  it("exits 130, leaves nothing and no tag; the next build pushes completely", async () => {
    const temp = join(dir, "tmp");
    await mkdir(temp);
    proxy.faults.push({
      method: "PATCH",
      url: /\/blobs\/uploads\//,
      kind: "slow",
      delayMs: 5000,
      times: 1000,
    });
    proxy.faults.push({ method: "PUT", url: /\/blobs\/uploads\//, kind: "slow", delayMs: 5000, times: 1000 });
    const b = build(temp);
    const held = () => proxy.log.some((l) => l.outcome === "delayed");
    let exited = false;
    void b.code.then(() => (exited = true));
    while (!exited && !held()) await new Promise((r) => setTimeout(r, 100));
    expect(held(), `the push never reached the registry:\n${b.stderr().slice(-2000)}`).toBe(true);
    b.child.kill("SIGINT");
    const code = await b.code;
    expect(code, b.stderr().slice(-2000)).toBe(130);
    expect(b.stderr()).toMatch(/pushing/);
    expect(b.stderr()).not.toMatch(/\n\s+at .+:\d+:\d+\)?/); // no stack trace
    expect(await readdir(temp), "temporary files left").toEqual([]);
    expect(await containersOfCli(b.child.pid!), "working containers left").toEqual([]);
    expect(await tagStatus(), "a tag after an interrupted push").toBe(404);

    proxy.faults.length = 0;
    const again = build(temp);
    expect(await again.code, again.stderr().slice(-2000)).toBe(0);
    expect(await tagStatus()).toBe(200);
    expect(await readdir(temp)).toEqual([]);
  });
});
