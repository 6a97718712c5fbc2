import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SlimwheelError } from "../errors.js";
import { canonicalJson, sha256, writeLayerBlob } from "./blob.js";
import { FakeRegistry } from "./fake-registry.testutil.js";
import { assembleIndex, indexOf, type StoredIndex } from "./image-index.js";
import {
  assembleImage,
  loadLayoutImage,
  type StoredImage,
  writeImage,
  writeOciArchive,
  writeOciLayout,
} from "./image-writer.js";
import { readLayout } from "./layout.js";
import { ociSchema } from "./oci-schema.testutil.js";
import { parsePlatform } from "./platform.js";
import { pullImage, pushIndex, type RegistryOptions } from "./registry.js";
import { layerTar } from "./tar-writer.js";

const EPOCH = 1_700_000_000;
const dirs: string[] = [];
const tmp = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `index-${name}-`));
  dirs.push(d);
  return d;
};
const registries: FakeRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.stop();
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A one-layer image whose config says `architecture` (and `variant`); the layer differs per architecture. */
async function archImage(store: string, architecture: string, variant?: string): Promise<StoredImage> {
  const layer = await writeLayerBlob(
    layerTar(
      [
        { path: "bin/arch", type: "file", content: Buffer.from(`${architecture}${variant ?? ""}\n`) },
        { path: "app/main.py", type: "file", content: Buffer.from("print('same app')\n") },
      ],
      { sourceDateEpoch: EPOCH },
    ),
    store,
  );
  const image = await assembleImage({
    layers: [{ blob: layer, createdBy: `base for ${architecture}` }],
    config: { architecture, cmd: ["python", "/app/main.py"] },
    created: EPOCH,
    store,
  });
  if (!variant) return image;
  // assembleImage has no variant field: give the config one by hand, as engines write it for arm/v7.
  const config = { ...image.config.json, variant };
  const configBytes = Buffer.from(canonicalJson(config));
  const { writeBytesBlob } = await import("./blob.js");
  const configDesc = await writeBytesBlob(configBytes, "application/vnd.oci.image.config.v1+json", store);
  const manifestJson = { ...image.manifestJson, config: configDesc };
  const bytes = Buffer.from(canonicalJson(manifestJson));
  const descriptor = await writeBytesBlob(bytes, "application/vnd.oci.image.manifest.v1+json", store);
  const blobs = new Map(image.blobs);
  blobs.set(configDesc.digest, join(store, "sha256", configDesc.digest.slice(7)));
  return {
    manifest: { bytes, descriptor },
    manifestJson,
    config: { bytes: configBytes, json: config },
    blobs,
  };
}

let amd64: StoredImage;
let arm64: StoredImage;
let armv7: StoredImage;
beforeAll(async () => {
  const store = await tmp("store");
  amd64 = await archImage(store, "amd64");
  arm64 = await archImage(store, "arm64");
  armv7 = await archImage(store, "arm", "v7");
});

const entry = (image: StoredImage, platform?: string) => ({
  manifest: image.manifest.descriptor,
  config: image.config.json,
  platform: platform ? parsePlatform(platform) : undefined,
});

function inputError(f: () => unknown): SlimwheelError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SlimwheelError);
    expect((e as SlimwheelError).hint).toBeTruthy();
    return e as SlimwheelError;
  }
  throw new Error("no error thrown");
}

describe("assembleIndex", () => {
  it("lists each image with its platform, is valid per the OCI image-index schema, and its digest is its bytes'", () => {
    const idx = assembleIndex(
      [entry(amd64, "linux/amd64"), entry(arm64, "linux/arm64"), entry(armv7, "linux/arm/v7")],
      { "org.opencontainers.image.created": "2023-11-14T22:13:20Z" },
    );
    const validate = ociSchema("image-index-schema.json");
    expect(validate(idx.json), JSON.stringify(validate.errors)).toBe(true);
    expect(idx.json.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(idx.json.schemaVersion).toBe(2);
    expect(idx.json.manifests).toEqual([
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: amd64.manifest.descriptor.digest,
        size: amd64.manifest.bytes.length,
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: arm64.manifest.descriptor.digest,
        size: arm64.manifest.bytes.length,
        platform: { architecture: "arm64", os: "linux" },
      },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: armv7.manifest.descriptor.digest,
        size: armv7.manifest.bytes.length,
        platform: { architecture: "arm", os: "linux", variant: "v7" },
      },
    ]);
    expect(idx.descriptor).toEqual({
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: sha256(idx.bytes),
      size: idx.bytes.length,
    });
    expect(idx.bytes.toString()).toBe(canonicalJson(idx.json));
    // a descriptor's platform without a variant has no variant key at all
    expect(Object.keys(idx.json.manifests[0]!.platform!)).toEqual(["architecture", "os"]);
    // each descriptor's digest and size are those of the manifest bytes, a valid image manifest
    for (const [i, image] of [amd64, arm64, armv7].entries()) {
      expect(sha256(image.manifest.bytes)).toBe(idx.json.manifests[i]!.digest);
      expect(ociSchema("image-manifest-schema.json")(JSON.parse(image.manifest.bytes.toString()))).toBe(true);
    }
  });

  it("takes the platform from the config when none is given; the same images give the same bytes", () => {
    const a = assembleIndex([entry(amd64), entry(arm64)]);
    const b = assembleIndex([entry(amd64, "linux/amd64"), entry(arm64, "linux/arm64")]);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.json.manifests.map((m) => m.platform?.architecture)).toEqual(["amd64", "arm64"]);
    expect("annotations" in a.json).toBe(false);
  });

  it("refuses an image whose config says another platform than it was built for", () => {
    const e = inputError(() => assembleIndex([entry(amd64, "linux/amd64"), entry(amd64, "linux/arm64")]));
    expect(e.message).toMatch(/was to be for linux\/arm64, but its config says linux\/amd64/);
    expect(e.hint).toMatch(/base image/);
    // arm/v6 asked, arm/v7 built
    expect(inputError(() => assembleIndex([entry(armv7, "linux/arm/v6")])).message).toMatch(
      /config says linux\/arm\/v7/,
    );
  });

  it("refuses two images of one platform, an empty index, and what is not an image manifest", () => {
    expect(inputError(() => assembleIndex([entry(amd64), entry(amd64)])).message).toMatch(
      /two images of the index are for linux\/amd64/,
    );
    expect(inputError(() => assembleIndex([])).message).toMatch(/at least one image/);
    const nested = {
      ...entry(amd64),
      manifest: { ...amd64.manifest.descriptor, mediaType: "application/vnd.oci.image.index.v1+json" },
    };
    expect(inputError(() => assembleIndex([nested])).message).toMatch(/not an image manifest/);
    const noArch = { ...entry(amd64), config: { ...amd64.config.json, architecture: undefined } };
    expect(inputError(() => assembleIndex([noArch])).message).toMatch(/names no architecture/);
  });
});

describe("writing an index", () => {
  let stored: StoredIndex;
  beforeAll(() => {
    stored = indexOf([amd64, arm64], [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")]);
  });

  it("writes an OCI layout whose index.json names the image index, and reads each platform's image back", async () => {
    const dir = join(await tmp("layout"), "out");
    const digest = await writeOciLayout(stored, dir, { refName: "1.0" });
    expect(digest).toBe(stored.index.descriptor.digest);
    const top = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    expect(ociSchema("image-index-schema.json")(top)).toBe(true);
    expect(top.manifests).toEqual([
      { ...stored.index.descriptor, annotations: { "org.opencontainers.image.ref.name": "1.0" } },
    ]);
    expect(
      ociSchema("image-layout-schema.json")(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8"))),
    ).toBe(true);
    const inner = await readFile(join(dir, "blobs", "sha256", stored.index.descriptor.digest.slice(7)));
    expect(inner.equals(stored.index.bytes)).toBe(true);
    const a = await loadLayoutImage(dir, "1.0", parsePlatform("linux/amd64"));
    const b = await loadLayoutImage(dir, "1.0", parsePlatform("linux/arm64"));
    expect(a.manifest.descriptor.digest).toBe(amd64.manifest.descriptor.digest);
    expect(b.manifest.descriptor.digest).toBe(arm64.manifest.descriptor.digest);
    expect(b.config.json.architecture).toBe("arm64");
    await expect(loadLayoutImage(dir, "1.0", parsePlatform("linux/s390x"))).rejects.toThrow(
      /no image for linux\/s390x/,
    );
    // the readers slimwheel inspects with go through the index too (checking every layer's digest)
    const summary = await readLayout(dir);
    expect(summary.digest).toBe(amd64.manifest.descriptor.digest);
  });

  it("writes the same index as an oci-archive, byte for byte the same twice; refuses a docker archive", async () => {
    const d = await tmp("archive");
    await writeOciArchive(stored, join(d, "a.tar"), { refName: "1.0", sourceDateEpoch: EPOCH });
    await writeImage(
      stored,
      { kind: "oci-archive", path: join(d, "b.tar") },
      { refName: "1.0", sourceDateEpoch: EPOCH },
    );
    expect((await readFile(join(d, "a.tar"))).equals(await readFile(join(d, "b.tar")))).toBe(true);
    const err = await writeImage(stored, { kind: "docker-archive", path: join(d, "c.tar") }).catch((e) => e);
    expect(err).toBeInstanceOf(SlimwheelError);
    expect((err as SlimwheelError).exitCode).toBe(2);
    expect((err as SlimwheelError).message).toMatch(/cannot hold an image index/);
    expect((err as SlimwheelError).hint).toMatch(/oci:DIR or oci-archive/);
  });

  it("pushes each image by digest and the index by tag, and pulls each platform's image back", async () => {
    const reg = await new FakeRegistry().start();
    registries.push(reg);
    const o: RegistryOptions = { env: {}, insecure: true, backoffMs: 1, credentials: async () => undefined };
    const r = await pushIndex(stored, `${reg.host}/demo/multi:1.0`, o);
    expect(r.digest).toBe(stored.index.descriptor.digest);
    expect(r.images).toEqual([
      { platform: "linux/amd64", digest: amd64.manifest.descriptor.digest },
      { platform: "linux/arm64", digest: arm64.manifest.descriptor.digest },
    ]);
    const repo = reg.manifests.get("demo/multi")!;
    expect(repo.get("1.0")?.bytes.equals(stored.index.bytes)).toBe(true);
    expect(repo.get("1.0")?.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(repo.has(amd64.manifest.descriptor.digest)).toBe(true);
    expect(repo.has(arm64.manifest.descriptor.digest)).toBe(true);
    // no tag points at a single platform's manifest
    expect([...repo.keys()].filter((k) => !k.startsWith("sha256:"))).toEqual(["1.0"]);
    // every manifest was put after its blobs, and the index after every manifest
    const puts = reg.log.filter((l) => l.method === "PUT").map((l) => l.path);
    const lastBlob = Math.max(...puts.map((p, i) => (p.includes("/blobs/") ? i : -1)));
    const firstIndex = puts.findIndex((p) => p.endsWith("/manifests/1.0"));
    expect(firstIndex).toBeGreaterThan(lastBlob);
    const pulled = await pullImage(`${reg.host}/demo/multi:1.0`, await tmp("pull"), {
      ...o,
      platform: parsePlatform("linux/arm64"),
    });
    expect(pulled.manifest.descriptor.digest).toBe(arm64.manifest.descriptor.digest);
    expect(pulled.config.json.architecture).toBe("arm64");
    await expect(
      pullImage(`${reg.host}/demo/multi:1.0`, await tmp("pull2"), {
        ...o,
        platform: parsePlatform("linux/s390x"),
      }),
    ).rejects.toThrow(/without an image for linux\/s390x/);
  });
});
