/**
 * Multi-platform images on a machine that cannot run arm64 programs (docs/platforms.md):
 *
 * - an arm64 image made without executing arm64 code: Debian's arm64 packages unpacked by
 *   `mmdebstrap --variant=extract` (cached under the test bed), turned into an image by slimwheel's
 *   OCI writer, combined with an amd64 image (the test bed's python:3.11-slim) into one index,
 *   written as an OCI layout that skopeo reads per platform, pushed to the test bed's registry and
 *   each platform's manifest pulled back, its config's architecture that of its descriptor and its
 *   programs ELF of that machine;
 * - `slimwheel build --platform linux/amd64,linux/arm64` refusing before any engine work on a
 *   machine without a qemu-aarch64 binfmt_misc handler;
 * - the whole multi-platform build, end to end, with the two platforms this machine runs:
 *   linux/amd64 and linux/amd64/v2 (same architecture, another variant).
 */
import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeLayerBlob } from "../src/oci/blob.js";
import { indexOf, type StoredIndex } from "../src/oci/image-index.js";
import { assembleImage, type StoredImage, writeOciLayout } from "../src/oci/image-writer.js";
import { ociSchema } from "../src/oci/oci-schema.testutil.js";
import { hostPlatform, parsePlatform, readBinfmtHandlers, runsPlatform } from "../src/oci/platform.js";
import { pullImage, pushIndex, RegistryClient, type RegistryOptions } from "../src/oci/registry.js";
import { layerTar } from "../src/oci/tar-writer.js";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { buildExampleWithCli } from "./helpers/cli-build.js";
import { foreignRootfs } from "./helpers/foreign-rootfs.js";
import { referrerLayer, referrersOf } from "./helpers/referrers.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "dist", "cli", "main.js");
const NAME = "slimwheel-int/platforms-int-test";
const EPOCH = 1_700_000_000;
const ELF_MACHINE: Record<string, number> = { amd64: 62, arm64: 183 };

let tb: Endpoints;
let dir: string;
const reg = (): RegistryOptions => ({ env: process.env, insecure: true });

beforeAll(async () => {
  tb = await readEndpoints();
  dir = await mkdtemp(join(tmpdir(), "platforms-int-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The e_machine of the ELF file at `path` (e.g. `usr/bin/dpkg`) in a gzip layer blob. */
async function elfMachine(layerFile: string, path: string): Promise<number | undefined> {
  let found: number | undefined;
  const x = extract();
  x.on("entry", (h, stream, next) => {
    const name = h.name.replace(/^\.?\//, "");
    if (name === path && h.type === "file") {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        const b = Buffer.concat(chunks);
        if (b.subarray(0, 4).toString("latin1") === "\x7fELF") found = b.readUInt16LE(18);
        next();
      });
    } else {
      stream.on("end", next);
      stream.resume();
    }
  });
  await new Promise<void>((resolve, reject) => {
    x.on("finish", resolve);
    x.on("error", reject);
    createReadStream(layerFile).pipe(createGunzip()).pipe(x);
  });
  return found;
}

describe("an image index of linux/amd64 and linux/arm64, without running arm64 code", () => {
  let amd64: StoredImage;
  let arm64: StoredImage;
  let stored: StoredIndex;

  beforeAll(async () => {
    const store = join(dir, "store");
    // the same app layer on both platforms: pure Python is the same bytes everywhere
    const app = await writeLayerBlob(
      layerTar(
        [
          {
            path: "app/main.py",
            type: "file",
            content: Buffer.from("import platform\nprint(platform.machine())\n"),
          },
        ],
        {
          sourceDateEpoch: EPOCH,
        },
      ),
      store,
    );
    const config = { cmd: ["python3", "/app/main.py"], workingDir: "/app", user: "65534:65534" };

    // amd64: the test bed's python:3.11-slim from its registry, the app on top
    const base = await pullImage(tb.images.runtime.pinned, join(dir, "pull"), reg());
    await writeOciLayout(base, join(dir, "base-amd64"));
    amd64 = await assembleImage({
      base: { layout: join(dir, "base-amd64") },
      layers: [{ blob: app, createdBy: "COPY app /app" }],
      config,
      created: EPOCH,
      store,
    });

    // arm64: Debian's arm64 packages unpacked (no emulation), one layer, the same app on top
    const tarball = await foreignRootfs(tb, "arm64", ["python3-minimal"]);
    const rootfs = await writeLayerBlob(createReadStream(tarball), store);
    arm64 = await assembleImage({
      layers: [
        { blob: rootfs, createdBy: "mmdebstrap --arch=arm64 --variant=extract bookworm" },
        { blob: app, createdBy: "COPY app /app" },
      ],
      config: {
        ...config,
        architecture: "arm64",
        os: "linux",
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
      },
      created: EPOCH,
      store,
    });
    stored = indexOf([amd64, arm64], [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")]);
  });

  it("is an OCI index whose descriptors carry each image's platform; a mismatch is refused", async () => {
    expect(ociSchema("image-index-schema.json")(stored.index.json)).toBe(true);
    expect(stored.index.json.manifests.map((m) => [m.platform, m.digest])).toEqual([
      [{ architecture: "amd64", os: "linux" }, amd64.manifest.descriptor.digest],
      [{ architecture: "arm64", os: "linux" }, arm64.manifest.descriptor.digest],
    ]);
    for (const image of [amd64, arm64]) {
      expect(ociSchema("image-manifest-schema.json")(image.manifestJson)).toBe(true);
      expect(ociSchema("config-schema.json")(image.config.json)).toBe(true);
    }
    expect(amd64.config.json.architecture).toBe("amd64");
    expect(arm64.config.json.architecture).toBe("arm64");
    // the amd64 base said "amd64" in its config: claiming it is arm64 is refused
    expect(() => indexOf([amd64], [parsePlatform("linux/arm64")])).toThrow(/config says linux\/amd64/);
  });

  it("is written as an OCI layout that skopeo reads per platform", async () => {
    const layout = join(dir, "layout");
    await writeOciLayout(stored, layout, { refName: "multi" });
    for (const arch of ["amd64", "arm64"]) {
      const { stdout } = await exec(
        "skopeo",
        ["inspect", "--override-os", "linux", "--override-arch", arch, `oci:${layout}:multi`],
        { env: process.env, doing: `skopeo inspect of the ${arch} image` },
      );
      const info = JSON.parse(stdout) as { Architecture: string; Digest: string; Layers: string[] };
      expect(info.Architecture).toBe(arch);
      // skopeo's Digest is the reference's (the index's); the layers are the platform's image's
      expect(info.Digest).toBe(stored.index.descriptor.digest);
      expect(info.Layers).toEqual(
        (arch === "amd64" ? amd64 : arm64).manifestJson.layers.map((l) => l.digest),
      );
    }
    const raw = JSON.parse(
      (await exec("skopeo", ["inspect", "--raw", `oci:${layout}:multi`], { env: process.env })).stdout,
    ) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    expect(raw.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(raw.manifests.map((m) => m.platform.architecture)).toEqual(["amd64", "arm64"]);
  });

  it("is pushed to the test bed's registry: the index by tag, each platform's manifest by digest, pulled back per platform", async () => {
    const tag = `idx-${process.pid}-${Date.now()}`;
    const ref = `${tb.registry.host}/${NAME}:${tag}`;
    const pushed = await pushIndex(stored, ref, reg());
    expect(pushed.digest).toBe(stored.index.descriptor.digest);

    const client = new RegistryClient(tb.registry.host, reg());
    try {
      const byTag = await client.getManifest(NAME, tag);
      expect(byTag.mediaType).toBe("application/vnd.oci.image.index.v1+json");
      expect(byTag.digest).toBe(stored.index.descriptor.digest);
      expect(byTag.bytes.equals(stored.index.bytes)).toBe(true);
      const index = JSON.parse(byTag.bytes.toString()) as StoredIndex["index"]["json"];
      for (const d of index.manifests) {
        const m = await client.getManifest(NAME, d.digest); // checks the digest
        expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
        const manifest = JSON.parse(m.bytes.toString()) as StoredImage["manifestJson"];
        const configFile = await client.getBlob(NAME, manifest.config, join(dir, "configs"));
        const config = JSON.parse(await readFile(configFile, "utf8")) as { architecture: string; os: string };
        expect([config.os, config.architecture]).toEqual([d.platform!.os, d.platform!.architecture]);
      }
    } finally {
      await client.close();
    }

    // each platform's image, pulled through the index, holds that machine's programs
    for (const arch of ["amd64", "arm64"]) {
      const img = await pullImage(ref, join(dir, `pulled-${arch}`), {
        ...reg(),
        platform: parsePlatform(`linux/${arch}`),
      });
      expect(img.config.json.architecture).toBe(arch);
      const first = img.manifestJson.layers[0]!;
      expect(await elfMachine(img.blobs.get(first.digest)!, "usr/bin/dpkg")).toBe(ELF_MACHINE[arch]);
    }

    // and a third-party client agrees: skopeo picks each platform from the registry's index
    const { stdout } = await exec(
      "skopeo",
      [
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        "--override-os",
        "linux",
        `docker://${ref}`,
      ],
      { env: process.env },
    );
    const info = JSON.parse(stdout) as { Architecture: string; Digest: string; Layers: string[] };
    expect(info.Architecture).toBe("arm64");
    expect(info.Digest).toBe(stored.index.descriptor.digest);
    expect(info.Layers).toEqual(arm64.manifestJson.layers.map((l) => l.digest));
  });
});

describe("slimwheel build --platform linux/amd64,linux/arm64", () => {
  it("refuses before any engine work when this machine cannot run arm64 RUN steps", async (t) => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\``);
    const host = hostPlatform();
    if (runsPlatform(host, parsePlatform("linux/arm64"), await readBinfmtHandlers()))
      t.skip("this machine runs arm64 programs (natively or through qemu): nothing to refuse");
    const out = join(dir, "never-written");
    const tag = `localhost/${NAME}:refused-${process.pid}`;
    const r = await exec(
      process.execPath,
      [
        BIN,
        "build",
        join(ROOT, "examples", "flask-app"),
        ...["-t", tag, "--engine", "buildah", "--runtime", "slim"],
        ...["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned],
        ...["--index-url", tb.index.url, "--platform", "linux/amd64,linux/arm64", "--output", `oci:${out}`],
      ],
      { env: { ...process.env, NO_COLOR: "1" }, allowFailure: true },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "linux/arm64 needs emulation for RUN steps, and this linux/amd64 machine has none (no qemu handler in /proc/sys/fs/binfmt_misc): install qemu-user-static/binfmt-support",
    );
    expect(r.stderr).toMatch(/apt-get install qemu-user-static binfmt-support/);
    expect(existsSync(out)).toBe(false);
    // no engine work: the project was not even read, and no image of either platform is in buildah's storage
    expect(r.stderr).not.toMatch(/reading .*flask-app|choosing an engine|building/);
    for (const arch of ["amd64", "arm64"]) {
      const i = await exec("buildah", ["inspect", "--type", "image", `${tag}-linux-${arch}`], {
        env: process.env,
        allowFailure: true,
      });
      expect(i.code).not.toBe(0);
      expect(i.stderr).toMatch(/not known|not found|no such/i);
    }
  });
});

describe("slimwheel build --platform linux/amd64,linux/amd64/v2 (both run here), end to end", () => {
  it("builds and proves each platform, writes one index to oci:DIR and pushes it", async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\``);
    const tag = `e2e-${process.pid}-${Date.now()}`;
    const ref = `${tb.registry.host}/${NAME}:${tag}`;
    const out = join(dir, "e2e-layout");
    const doc = (await buildExampleWithCli(tb, "flask-app", ref, [
      ...["--runtime", "slim", "--platform", "linux/amd64,linux/amd64/v2"],
      ...["--output", `oci:${out}`, "--push"],
    ])) as {
      index: string;
      platforms: {
        platform: string;
        tag: string;
        importTest: { failures: unknown[] };
        boot: { ok: boolean };
      }[];
      pushed: {
        ref: string;
        digest: string;
        sboms: {
          platform: string;
          digest: string;
          artifactType: string;
          format: string;
          fallbackTag?: string;
        }[];
      }[];
      sbom: { platform: string; path: string; format: string; distributions: number; packages: number }[];
    };
    try {
      expect(doc.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/amd64/v2"]);
      // one SBOM per platform image, beside the output
      expect(doc.sbom.map((s) => [s.platform, s.path, s.format])).toEqual([
        ["linux/amd64", `${out}.linux-amd64.cdx.json`, "cyclonedx"],
        ["linux/amd64/v2", `${out}.linux-amd64-v2.cdx.json`, "cyclonedx"],
      ]);
      for (const s of doc.sbom) {
        expect(s.distributions).toBeGreaterThan(0);
        expect(s.packages).toBeGreaterThan(0);
        const bom = JSON.parse(await readFile(s.path, "utf8")) as {
          specVersion: string;
          components: { name: string }[];
          metadata: { component: { properties: { name: string; value: string }[] } };
        };
        expect(bom.specVersion).toBe("1.6");
        expect(bom.components.map((c) => c.name.toLowerCase())).toContain("flask");
        expect(bom.metadata.component.properties).toContainEqual({
          name: "slimwheel:image:reference",
          value: `oci:${out}`,
        });
      }
      for (const p of doc.platforms) {
        expect(p.importTest.failures).toEqual([]);
        expect(p.boot.ok).toBe(true);
      }
      expect(doc.pushed.map((p) => [p.ref, p.digest])).toEqual([[ref, doc.index]]);
      // the OCI layout: index.json → the image index → one image per platform
      const top = JSON.parse(await readFile(join(out, "index.json"), "utf8")) as {
        manifests: { digest: string; annotations: Record<string, string> }[];
      };
      expect(
        top.manifests.map((m) => [m.digest, m.annotations["org.opencontainers.image.ref.name"]]),
      ).toEqual([[doc.index, tag]]);
      const index = JSON.parse(
        await readFile(join(out, "blobs", "sha256", doc.index.slice(7)), "utf8"),
      ) as StoredIndex["index"]["json"];
      expect(ociSchema("image-index-schema.json")(index)).toBe(true);
      expect(index.manifests.map((m) => m.platform)).toEqual([
        { architecture: "amd64", os: "linux" },
        { architecture: "amd64", os: "linux", variant: "v2" },
      ]);
      // each platform's SBOM names that platform's manifest in the index
      for (const [i, s] of doc.sbom.entries()) {
        const bom = JSON.parse(await readFile(s.path, "utf8")) as {
          metadata: { component: { version: string } };
        };
        expect(bom.metadata.component.version).toBe(index.manifests[i]!.digest);
      }
      // the registry holds the same index under the tag, and each platform's manifest by digest
      const client = new RegistryClient(tb.registry.host, reg());
      try {
        const byTag = await client.getManifest(NAME, tag);
        expect(byTag.digest).toBe(doc.index);
        for (const d of index.manifests) {
          const m = await client.getManifest(NAME, d.digest);
          expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
        }
      } finally {
        await client.close();
      }
      // each platform's SBOM is attached as a referrer of that platform's manifest in the pushed
      // index, found through the referrers API (or the fallback tag), naming that manifest's digest
      const attached = doc.pushed[0]!.sboms;
      expect(attached.map((a) => [a.platform, a.format, a.artifactType])).toEqual([
        ["linux/amd64", "cyclonedx", "application/vnd.cyclonedx+json"],
        ["linux/amd64/v2", "cyclonedx", "application/vnd.cyclonedx+json"],
      ]);
      for (const [i, a] of attached.entries()) {
        const d = index.manifests[i]!;
        if (a.fallbackTag) expect(a.fallbackTag).toBe(d.digest.replace(":", "-"));
        const list = await referrersOf(tb.registry.url, NAME, d.digest);
        expect(list.manifests.find((m) => m.digest === a.digest)?.artifactType).toBe(
          "application/vnd.cyclonedx+json",
        );
        const { manifest, text } = await referrerLayer(tb.registry.url, NAME, a.digest);
        expect(manifest.subject).toEqual({ mediaType: d.mediaType, digest: d.digest, size: d.size });
        const bom = JSON.parse(text) as {
          metadata: { component: { version: string; properties: { name: string; value: string }[] } };
          components: { name: string }[];
        };
        expect(bom.metadata.component.version).toBe(d.digest);
        expect(bom.metadata.component.properties).toContainEqual({
          name: "slimwheel:image:reference",
          value: `docker://${ref}`,
        });
        expect(bom.components.map((c) => c.name.toLowerCase())).toContain("flask");
      }
      // the index itself has none: the SBOMs describe the images
      expect(
        (await referrersOf(tb.registry.url, NAME, doc.index).catch(() => ({ manifests: [] }))).manifests,
      ).toEqual([]);
      // each platform's local image has a tag of its own
      for (const p of doc.platforms) {
        const i = await exec("buildah", ["inspect", "--type", "image", p.tag], {
          env: process.env,
          allowFailure: true,
        });
        expect(i.code).toBe(0);
      }
    } finally {
      await exec("buildah", ["rmi", ...doc.platforms.map((p) => p.tag)], {
        env: process.env,
        allowFailure: true,
      });
    }
  });
});
