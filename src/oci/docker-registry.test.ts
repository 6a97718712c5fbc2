/**
 * The registry client and the image writer against the real distribution registry
 * (`docker-registry serve`, a private one on a free loopback port with its own config and storage
 * in a temporary directory — never the shared test bed's), read back by skopeo. Skipped, saying
 * why, when either program is missing.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeLayerBlob } from "./blob.js";
import { assembleImage, type StoredImage, writeOciLayout } from "./image-writer.js";
import { readLayout } from "./layout.js";
import { pullImage, pushImage } from "./registry.js";
import { layerTar } from "./tar-writer.js";

const REGISTRY = "/usr/bin/docker-registry";
const skopeo = spawnSync("skopeo", ["--version"], { encoding: "utf8" });
const missing = !existsSync(REGISTRY)
  ? `${REGISTRY} is not installed`
  : skopeo.error
    ? `skopeo is not installed (${skopeo.error.message})`
    : undefined;
if (missing) console.log(`real registry test skipped: ${missing}`);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe.skipIf(missing !== undefined)(
  "against docker-registry serve on loopback",
  { timeout: 60_000 },
  () => {
    let dir: string;
    let host: string;
    let proc: ChildProcess | undefined;
    let img: StoredImage;
    let stderr = "";

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "real-registry-"));
      const port = await freePort();
      host = `127.0.0.1:${port}`;
      await writeFile(
        join(dir, "config.yml"),
        [
          "version: 0.1",
          "log:",
          "  level: warn",
          "storage:",
          "  filesystem:",
          `    rootdirectory: ${join(dir, "data")}`,
          "http:",
          `  addr: ${host}`,
          "",
        ].join("\n"),
      );
      proc = spawn(REGISTRY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
      proc.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await fetch(`http://${host}/v2/`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline || proc.exitCode !== null)
          throw new Error(`docker-registry did not come up on ${host}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const store = join(dir, "store");
      const deps = await writeLayerBlob(
        layerTar(
          [
            {
              path: "usr/local/lib/python3.12/site-packages/six.py",
              type: "file",
              content: Buffer.alloc(40_000, 3),
            },
            { path: "usr/local/bin/python", type: "symlink", linkTarget: "python3.12" },
          ],
          { sourceDateEpoch: 1_700_000_000 },
        ),
        store,
      );
      const app = await writeLayerBlob(
        layerTar([{ path: "app/main.py", type: "file", content: Buffer.from("print('real')\n") }], {
          sourceDateEpoch: 1_700_000_000,
        }),
        store,
      );
      img = await assembleImage({
        layers: [
          { blob: deps, createdBy: "deps" },
          { blob: app, createdBy: "app" },
        ],
        config: { cmd: ["python", "/app/main.py"], user: "10001", labels: { "org.example.test": "real" } },
        created: 1_700_000_000,
        store,
      });
    });

    afterAll(async () => {
      if (proc?.pid !== undefined && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once("exit", r));
        proc.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    });

    const o = () => ({ env: { HOME: dir }, insecure: true, backoffMs: 50 });

    it("accepts a push, skips every blob on the second, mounts across repositories", async () => {
      const first = await pushImage(img, `${host}/demo/app:1.0`, o());
      expect(first.digest).toBe(img.manifest.descriptor.digest);
      expect(first.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded"]);
      const second = await pushImage(img, `${host}/demo/app:1.0`, o());
      expect(second.blobs.map((b) => b.status)).toEqual(["skipped", "skipped", "skipped"]);
      const mounted = await pushImage(img, `${host}/demo/other:1`, { ...o(), mountFrom: "demo/app" });
      expect(mounted.blobs.map((b) => b.status)).toEqual(["mounted", "mounted", "mounted"]);
      // chunked upload of the same image to a third repository
      const chunked = await pushImage(img, `${host}/demo/chunked:1`, { ...o(), chunkSize: 1024 });
      expect(chunked.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded"]);
    });

    it("is read by skopeo inspect, and pulled back with every digest checked", async () => {
      const r = spawnSync("skopeo", ["inspect", "--tls-verify=false", `docker://${host}/demo/app:1.0`], {
        encoding: "utf8",
        env: { ...process.env, HOME: dir },
      });
      expect(r.stderr).toBe("");
      const inspected = JSON.parse(r.stdout) as {
        Digest: string;
        Layers: string[];
        Labels: Record<string, string>;
      };
      expect(inspected.Digest).toBe(img.manifest.descriptor.digest);
      expect(inspected.Layers).toEqual(img.manifestJson.layers.map((l) => l.digest));
      expect(inspected.Labels).toEqual({ "org.example.test": "real" });
      const copy = spawnSync(
        "skopeo",
        ["copy", "--src-tls-verify=false", `docker://${host}/demo/chunked:1`, `oci:${join(dir, "copied")}:x`],
        { encoding: "utf8", env: { ...process.env, HOME: dir } },
      );
      expect(copy.status, copy.stderr).toBe(0);
      expect((await readLayout(join(dir, "copied"))).digest).toBe(img.manifest.descriptor.digest);

      const pulled = await pullImage(`${host}/demo/other:1`, join(dir, "pulled-store"), o());
      expect(pulled.manifest.descriptor.digest).toBe(img.manifest.descriptor.digest);
      await writeOciLayout(pulled, join(dir, "pulled"));
      expect((await readLayout(join(dir, "pulled"))).layers.map((l) => l.createdBy)).toEqual(["deps", "app"]);
      await expect(pullImage(`${host}/demo/app:missing`, join(dir, "none"), o())).rejects.toMatchObject({
        code: "not-found",
      });
    });
  },
);
