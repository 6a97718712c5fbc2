import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sha256, writeLayerBlob } from "./blob.js";
import { FakeRegistry } from "./fake-registry.testutil.js";
import { assembleImage, type StoredImage } from "./image-writer.js";
import { ociSchema } from "./oci-schema.testutil.js";
import { EMPTY_DESCRIPTOR, pushReferrer, referrerManifest, referrersTag } from "./referrer.js";
import { pushImage, RegistryClient, type RegistryOptions } from "./registry.js";
import { layerTar } from "./tar-writer.js";

const dirs: string[] = [];
const registries: FakeRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.stop();
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const fake = async (o?: ConstructorParameters<typeof FakeRegistry>[0]) => {
  const r = await new FakeRegistry(o).start();
  registries.push(r);
  return r;
};
const noCreds: RegistryOptions = {
  env: {},
  insecure: true,
  backoffMs: 1,
  credentials: async () => undefined,
};

let img: StoredImage;
beforeAll(async () => {
  const store = await mkdtemp(join(tmpdir(), "referrer-"));
  dirs.push(store);
  const blob = await writeLayerBlob(
    layerTar([{ path: "app/main.py", type: "file", content: Buffer.from("print(1)\n") }], {
      sourceDateEpoch: 0,
    }),
    store,
  );
  img = await assembleImage({ layers: [{ blob }], config: {}, created: 0, store });
});

const SBOM = Buffer.from('{"bomFormat":"CycloneDX","specVersion":"1.6"}\n');
const artifact = {
  bytes: SBOM,
  mediaType: "application/vnd.cyclonedx+json",
  title: "app.cdx.json",
  created: 0,
};

describe("referrerManifest", () => {
  it("is an OCI 1.1 artifact manifest: empty config, the file as its layer, the image as subject", () => {
    const subject = img.manifest.descriptor;
    const m = referrerManifest(subject, artifact);
    expect(
      ociSchema("image-manifest-schema.json")(m.json),
      JSON.stringify(ociSchema("image-manifest-schema.json").errors),
    ).toBe(true);
    expect(JSON.parse(m.bytes.toString())).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/vnd.cyclonedx+json",
      config: {
        mediaType: "application/vnd.oci.empty.v1+json",
        digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        size: 2,
        data: "e30=",
      },
      layers: [
        {
          mediaType: "application/vnd.cyclonedx+json",
          digest: sha256(SBOM),
          size: SBOM.length,
          annotations: { "org.opencontainers.image.title": "app.cdx.json" },
        },
      ],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { "org.opencontainers.image.created": "1970-01-01T00:00:00Z" },
    });
    expect(m.descriptor.digest).toBe(sha256(m.bytes));
    // The same inputs, the same digest.
    expect(referrerManifest(subject, artifact).descriptor.digest).toBe(m.descriptor.digest);
    expect(EMPTY_DESCRIPTOR.digest).toBe(sha256("{}"));
  });
});

describe("pushReferrer", () => {
  it("without a referrers API: pushes blobs and manifest, and keeps the sha256-<hex> fallback index", async () => {
    const reg = await fake();
    const pushed = await pushImage(img, `${reg.host}/demo/app:1`, noCreds);
    const client = new RegistryClient(reg.host, noCreds);
    const r = await pushReferrer(client, "demo/app", img.manifest.descriptor, artifact);
    expect(r.fallbackTag).toBe(referrersTag(pushed.digest));
    const repo = reg.manifests.get("demo/app")!;
    expect(repo.get(r.digest)?.bytes.equals(r.manifest.bytes)).toBe(true);
    expect(reg.blobs.get("demo/app")!.get(sha256(SBOM))?.equals(SBOM)).toBe(true);
    expect(reg.blobs.get("demo/app")!.has(EMPTY_DESCRIPTOR.digest)).toBe(true);
    const index = JSON.parse(repo.get(r.fallbackTag!)!.bytes.toString());
    expect(
      ociSchema("image-index-schema.json")(index),
      JSON.stringify(ociSchema("image-index-schema.json").errors),
    ).toBe(true);
    expect(index.manifests).toEqual([r.manifest.descriptor]);
    expect(index.manifests[0].artifactType).toBe("application/vnd.cyclonedx+json");
    // A second referrer (SPDX) is added to the same index; pushing the first again adds nothing.
    const spdx = {
      ...artifact,
      bytes: Buffer.from("{}\n"),
      mediaType: "application/spdx+json",
      title: "app.spdx.json",
    };
    const r2 = await pushReferrer(client, "demo/app", img.manifest.descriptor, spdx);
    await pushReferrer(client, "demo/app", img.manifest.descriptor, artifact);
    const after = JSON.parse(repo.get(r.fallbackTag!)!.bytes.toString());
    expect(after.manifests.map((m: { digest: string }) => m.digest)).toEqual([r.digest, r2.digest]);
  });

  it("with a referrers API: no fallback tag, and the registry lists it", async () => {
    const reg = await fake({ referrersApi: true });
    await pushImage(img, `${reg.host}/demo/app:1`, noCreds);
    const client = new RegistryClient(reg.host, noCreds);
    const r = await pushReferrer(client, "demo/app", img.manifest.descriptor, artifact);
    expect(r.fallbackTag).toBeUndefined();
    expect(reg.manifests.get("demo/app")!.has(referrersTag(img.manifest.descriptor.digest))).toBe(false);
    const res = await fetch(`http://${reg.host}/v2/demo/app/referrers/${img.manifest.descriptor.digest}`);
    const list = (await res.json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(list.manifests).toEqual([
      expect.objectContaining({ digest: r.digest, artifactType: "application/vnd.cyclonedx+json" }),
    ]);
  });
});
