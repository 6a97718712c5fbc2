/**
 * The registry client against a real registry (a private `docker-registry serve` on a free
 * loopback port) behind a fault-injecting proxy of the test's own: dropped connections and
 * HTTP 500s on the first attempts of blob uploads, a push that still completes, a pull that checks
 * every blob; and a second push of an image differing only in its top layer and config, which
 * uploads only those two (counted at the proxy). Run alone:
 * `npx vitest run --config vitest.registry.config.ts`.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredImage } from "../src/oci/image-writer.js";
import { ociSchema } from "../src/oci/oci-schema.testutil.js";
import { type BlobReport, pullImage, pushImage } from "../src/oci/registry.js";
import {
  FaultProxy,
  type RegistryProcess,
  registryMissing,
  startRegistry,
  testImage,
} from "./helpers/local-registry.js";

const missing = registryMissing();
if (missing) console.log(`registry fault tests skipped: ${missing}`);

const fileDigest = async (f: string) =>
  `sha256:${createHash("sha256")
    .update(await readFile(f))
    .digest("hex")}`;

describe.skipIf(missing !== undefined)("pushing through a faulty connection to a real registry", () => {
  let dir: string;
  let reg: RegistryProcess;
  let proxy: FaultProxy;
  let one: StoredImage;
  let two: StoredImage;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-faults-"));
    reg = await startRegistry(join(dir, "registry"));
    proxy = await new FaultProxy(reg.host).start();
    const store = join(dir, "store");
    one = await testImage(store, "print('one')\n");
    two = await testImage(store, "print('two')\n");
  });

  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const retries: string[] = [];
  const o = (extra: object = {}) => ({
    env: { HOME: join(dir, "home") },
    insecure: true,
    backoffMs: 20,
    onRetry: (what: string, n: number, why: string) => retries.push(`${what} #${n}: ${why}`),
    ...extra,
  });

  it("completes a push through dropped connections and 500s on blob uploads; the pull checks every blob", async () => {
    const [base, deps, app] = one.manifestJson.layers.map((l) => l.digest.slice(7)) as [
      string,
      string,
      string,
    ];
    const config = one.manifestJson.config.digest.slice(7);
    const digestParam = (hex: string) => new RegExp(`[?&]digest=sha256(%3A|:)${hex}`);
    proxy.faults.push(
      // the config's existence check: connection dropped
      { method: "HEAD", url: new RegExp(`/blobs/sha256:${config}$`), kind: "drop" },
      // the base layer's PUT: connection dropped after its body arrived, before the registry saw it
      { method: "PUT", url: digestParam(base), kind: "drop" },
      // the upload starts (config, base, deps, app): the deps layer's answered 500 twice
      { method: "POST", url: /\/blobs\/uploads\/$/, kind: 500, skip: 2, times: 2 },
      // the app layer's PUT: done by the registry, but the answer lost on the way back
      { method: "PUT", url: digestParam(app), kind: "drop-after" },
      // the manifest by tag: 500 once
      { method: "PUT", url: /\/manifests\/1\.0$/, kind: 500 },
    );

    const pushed = await pushImage(one, `${proxy.host}/faults/app:1.0`, o());
    expect(pushed.digest).toBe(one.manifest.descriptor.digest);
    expect(pushed.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded", "uploaded"]);
    const outcomes = proxy.log.map((l) => l.outcome);
    expect(outcomes.filter((x) => x === "dropped")).toHaveLength(2);
    expect(outcomes.filter((x) => x === "dropped after")).toHaveLength(1);
    expect(outcomes.filter((x) => x === "injected 500")).toHaveLength(3);
    const said = retries.join("\n");
    expect(said).toContain(`checking blob sha256:${config}`);
    expect(said).toContain(`pushing blob sha256:${base}`);
    expect(said).toContain(`pushing blob sha256:${deps} to ${proxy.host}/faults/app #2: HTTP 500`);
    expect(said).toContain(`pushing blob sha256:${app}`);
    // the app layer's retried PUT met a finished session (404): checked again (HEAD), found there,
    // not uploaded again
    expect(proxy.log.filter((l) => l.url.includes(app)).map((l) => `${l.method} ${l.outcome}`)).toEqual([
      "HEAD 404",
      "PUT dropped after",
      "PUT 404",
      "HEAD 200",
    ]);
    expect(said).toContain("pushing the manifest");
    expect(proxy.faults.every((f) => (f.times ?? 1) === 0)).toBe(true);

    // pulled back through the proxy, with a dropped GET on the way: every blob is checked
    proxy.faults.push({ method: "GET", url: new RegExp(`/blobs/sha256:${base}$`), kind: "drop" });
    const pulled = await pullImage(`${proxy.host}/faults/app:1.0`, join(dir, "pulled"), o());
    expect(pulled.manifest.descriptor.digest).toBe(one.manifest.descriptor.digest);
    // what the registry gave back follows the OCI schemas
    for (const [schema, doc] of [
      ["image-manifest-schema.json", JSON.parse(pulled.manifest.bytes.toString("utf8"))],
      ["config-schema.json", pulled.config.json],
    ] as const) {
      const v = ociSchema(schema);
      expect(v(doc), `${schema}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
    for (const d of [one.manifestJson.config, ...one.manifestJson.layers]) {
      const file = pulled.blobs.get(d.digest);
      expect(file, d.digest).toBeDefined();
      expect(await fileDigest(file!)).toBe(d.digest);
    }
    expect(proxy.log.filter((l) => l.method === "GET" && l.outcome === "dropped")).toHaveLength(1);

    // and the check bites: one byte of the deps layer changed on the way is refused
    proxy.faults.push({ method: "GET", url: new RegExp(`/blobs/sha256:${deps}$`), kind: "corrupt" });
    await expect(
      pullImage(`${proxy.host}/faults/app:1.0`, join(dir, "pulled-bad"), o()),
    ).rejects.toMatchObject({
      code: "network",
      message: expect.stringMatching(
        new RegExp(
          `pulling blob sha256:${deps} .*: got \\d+ bytes with digest sha256:(?!${deps})[0-9a-f]{64}, expected`,
        ),
      ),
    });
  });

  it("starts a new session when a chunk's answer is lost and its retry is refused", async () => {
    retries.length = 0;
    const mark = proxy.log.length;
    // the second PATCH is done by the registry, its answer lost; its retry is refused (the
    // registry's session state moved on: docker-registry answers 404, others 416)
    proxy.faults.push({ method: "PATCH", url: /\/blobs\/uploads\//, kind: "drop-after", skip: 1 });
    const pushed = await pushImage(one, `${proxy.host}/faults/chunked:1`, o({ chunkSize: 64 * 1024 }));
    expect(pushed.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded", "uploaded"]);
    const log = proxy.log.slice(mark);
    expect(log.filter((l) => l.outcome === "dropped after")).toHaveLength(1);
    const patches = log.filter((l) => l.method === "PATCH");
    expect(patches.map((l) => l.outcome).slice(0, 3)).toEqual([202, "dropped after", 404]);
    // a new session sends the whole blob again: 300,000 bytes in 64 KiB chunks
    expect(patches.slice(3).map((l) => l.outcome)).toEqual([202, 202, 202, 202, 202]);
    expect(retries.join("\n")).toMatch(/HTTP 404.* #1: the upload session was lost, starting a new one/);
    const pulled = await pullImage(`${proxy.host}/faults/chunked:1`, join(dir, "pulled-chunked"), o());
    for (const d of one.manifestJson.layers)
      expect(await fileDigest(pulled.blobs.get(d.digest)!)).toBe(d.digest);
  });

  it("pushes only the changed top layer and config of an image that shares the rest", async () => {
    const before = proxy.log.length;
    const reports: BlobReport[] = [];
    await pushImage(one, `${proxy.host}/dedup/app:1`, o());
    const mid = proxy.log.length;
    const second = await pushImage(
      two,
      `${proxy.host}/dedup/app:2`,
      o({ onBlob: (b: BlobReport) => reports.push(b) }),
    );
    const log = proxy.log.slice(mid);
    const started = log.filter((l) => l.method === "POST" && /\/blobs\/uploads\/(\?|$)/.test(l.url));
    const finished = log.filter((l) => l.method === "PUT" && /[?&]digest=/.test(l.url) && l.outcome === 201);
    const changed = [two.manifestJson.config.digest, two.manifestJson.layers[2]!.digest];
    expect(started).toHaveLength(2);
    expect(finished.map((l) => decodeURIComponent(/digest=([^&]+)/.exec(l.url)![1]!)).sort()).toEqual(
      [...changed].sort(),
    );
    expect(
      second.blobs
        .filter((b) => b.status === "uploaded")
        .map((b) => b.digest)
        .sort(),
    ).toEqual([...changed].sort());
    expect(second.blobs.filter((b) => b.status === "skipped").map((b) => b.digest)).toEqual(
      two.manifestJson.layers.slice(0, 2).map((l) => l.digest),
    );
    expect(reports).toEqual(second.blobs);
    // the shared layers were checked (HEAD), not sent
    expect(log.filter((l) => l.method === "HEAD" && l.url.includes("/blobs/"))).toHaveLength(4);
    expect(log.filter((l) => l.method === "PATCH")).toHaveLength(0);
    expect(proxy.log.slice(before, mid).filter((l) => l.method === "POST")).toHaveLength(4);
  });
});
