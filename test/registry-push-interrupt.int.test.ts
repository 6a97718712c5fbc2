/**
 * A push interrupted (issue 13): `slimwheel push oci:DIR REF` to a real registry (a private
 * `docker-registry serve` on a loopback port) behind a proxy that holds every blob upload for a
 * while, so the signal lands mid-push. SIGINT, then SIGTERM, each once the first upload is under
 * way: exit 130, no stack trace, nothing left in the process's temporary directory, and no tag in
 * the registry (the manifest is pushed last, so no reference can point at a half-pushed image).
 * Then the same push, undisturbed, completes (uploading what the interrupted ones did not) and a
 * pull verifies every blob. Run alone: `npx vitest run --config vitest.registry.config.ts`.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "../src/oci/image-writer.js";
import { pullImage } from "../src/oci/registry.js";
import {
  FaultProxy,
  type RegistryProcess,
  registryMissing,
  startRegistry,
  testImage,
} from "./helpers/local-registry.js";

const CLI = join(import.meta.dirname, "..", "dist", "cli", "main.js");
const missing = registryMissing();
if (missing) console.log(`push interruption test skipped: ${missing}`);

describe.skipIf(missing !== undefined)("a push interrupted mid-upload", () => {
  let dir: string;
  let reg: RegistryProcess;
  let proxy: FaultProxy;
  let layout: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "push-interrupt-"));
    reg = await startRegistry(join(dir, "registry"));
    proxy = await new FaultProxy(reg.host).start();
    const image = await testImage(join(dir, "store"), "print('interrupted')\n", 2_000_000);
    layout = join(dir, "layout");
    await writeOciLayout(image, layout, { refName: "t" });
  });

  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The CLI's push through the proxy; TMPDIR its own. */
  function push(temp: string) {
    const child = spawn(
      process.execPath,
      [CLI, "push", `oci:${layout}`, `${proxy.host}/interrupted/app:t`, "--insecure"],
      { env: { ...process.env, TMPDIR: temp, HOME: join(dir, "home") }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stdout.on("data", () => {});
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const code = new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    return { child, code, stderr: () => stderr };
  }

  /** The registry's answer for the tag, asked directly (not through the proxy). */
  const tagStatus = async () =>
    (
      await fetch(`http://${reg.host}/v2/interrupted/app/manifests/t`, {
        method: "HEAD",
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      })
    ).status;

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} while a blob uploads: exit 130, nothing left, no tag`, async () => {
      const temp = join(dir, `tmp-${signal}`);
      await mkdir(temp);
      proxy.faults.length = 0;
      proxy.faults.push({
        method: "PUT",
        url: /\/blobs\/uploads\//,
        kind: "slow",
        delayMs: 4000,
        times: 100,
      });
      const before = proxy.log.length;
      const p = push(temp);
      // Wait for an upload to be held at the proxy, then interrupt.
      for (let i = 0; i < 300 && !proxy.log.slice(before).some((l) => l.outcome === "delayed"); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(
        proxy.log.slice(before).some((l) => l.outcome === "delayed"),
        p.stderr(),
      ).toBe(true);
      p.child.kill(signal);
      const code = await p.code;
      expect(code, p.stderr()).toBe(130);
      expect(p.stderr()).not.toMatch(/\n\s+at .+:\d+:\d+\)?/); // no stack trace
      expect(p.stderr()).not.toMatch(/unexpected error/i);
      expect(await readdir(temp), "temporary files left").toEqual([]);
      expect(await tagStatus(), "the tag exists after an interrupted push").toBe(404);
    });
  }

  it("then the same push completes and every blob verifies", async () => {
    proxy.faults.length = 0;
    const temp = join(dir, "tmp-ok");
    await mkdir(temp);
    const p = push(temp);
    expect(await p.code, p.stderr()).toBe(0);
    expect(await tagStatus()).toBe(200);
    const pulled = await pullImage(`${reg.host}/interrupted/app:t`, join(dir, "pulled"), {
      env: { HOME: join(dir, "home") },
      insecure: true,
    });
    expect(pulled.manifestJson.layers).toHaveLength(3);
    expect(await readdir(temp)).toEqual([]);
  });
});
