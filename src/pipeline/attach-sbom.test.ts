import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import { writeLayerBlob } from "../oci/blob.js";
import { FakeRegistry } from "../oci/fake-registry.testutil.js";
import { indexOf } from "../oci/image-index.js";
import { assembleImage, type StoredImage } from "../oci/image-writer.js";
import { parsePlatform } from "../oci/platform.js";
import { referrersTag } from "../oci/referrer.js";
import { pushImage, pushIndex } from "../oci/registry.js";
import { layerTar } from "../oci/tar-writer.js";
import { silentReporter } from "../reporter/index.js";
import { contentsFromFiles } from "../sbom/index.js";
import { cyclonedxProblems, cyclonedxSchema } from "../sbom/sbom-schema.testutil.js";
import { attachIndexSboms, attachPushedSboms, pushedSbomText } from "./attach-sbom.js";

const file = (text: string) => ({ text, sha256: createHash("sha256").update(text).digest("hex") });
const contents = contentsFromFiles(
  new Map([
    ["etc/os-release", file('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n')],
    [
      "var/lib/dpkg/status",
      file("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n"),
    ],
    [
      "usr/local/lib/python3.11/site-packages/flask-3.0.0.dist-info/METADATA",
      file("Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nLicense-Expression: BSD-3-Clause\n"),
    ],
  ]),
  { ref: "containers-storage:localhost/app:1", manifestDigest: `sha256:${"1".repeat(64)}`, os: "linux" },
);

const dirs: string[] = [];
const registries: FakeRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.stop();
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const noCreds = { env: {}, insecure: true, backoffMs: 1, credentials: async () => undefined };

let img: StoredImage;
let arm: StoredImage;
beforeAll(async () => {
  const store = await mkdtemp(join(tmpdir(), "attach-sbom-"));
  dirs.push(store);
  const blob = await writeLayerBlob(
    layerTar([{ path: "app/main.py", type: "file", content: Buffer.from("print(1)\n") }], {
      sourceDateEpoch: 0,
    }),
    store,
  );
  img = await assembleImage({ layers: [{ blob }], config: {}, created: 0, store });
  arm = await assembleImage({
    layers: [{ blob }],
    config: { architecture: "arm64", os: "linux" },
    created: 0,
    store,
  });
});

const ctx = (): Context => ({
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd: process.cwd(),
  env: { DOCKER_CONFIG: "/nonexistent" },
  now: () => 0,
  sourceDateEpoch: 1700000000,
});

describe("pushedSbomText", { timeout: 30_000 }, () => {
  it("names the pushed image by its reference and pushed digest, and validates", () => {
    const digest = `sha256:${"2".repeat(64)}`;
    const bom = JSON.parse(
      pushedSbomText(contents, { ref: "127.0.0.1:5000/team/app:1", digest }, "cyclonedx", 1700000000),
    );
    expect(cyclonedxSchema()(bom), JSON.stringify(cyclonedxSchema().errors)).toBe(true);
    expect(cyclonedxProblems(bom)).toEqual([]);
    expect(bom.metadata.component.version).toBe(digest);
    expect(bom.metadata.component.purl).toBe(
      `pkg:oci/app@${encodeURIComponent(digest)}?repository_url=127.0.0.1:5000/team/app`,
    );
    expect(bom.metadata.component.name).toBe("127.0.0.1:5000/team/app");
    expect(bom.components.map((c: { name: string }) => c.name)).toEqual(["debian", "libc6", "Flask"]);
    // The same inputs, the same bytes.
    expect(
      pushedSbomText(contents, { ref: "127.0.0.1:5000/team/app:1", digest }, "cyclonedx", 1700000000),
    ).toBe(`${JSON.stringify(bom, null, 2)}\n`);
  });
});

describe("attachPushedSboms", { timeout: 30_000 }, () => {
  for (const referrersApi of [false, true])
    it(`attaches to each pushed manifest (${referrersApi ? "referrers API" : "fallback tag"})`, async () => {
      const reg = await new FakeRegistry({ referrersApi }).start();
      registries.push(reg);
      const pushed = [
        {
          ref: `${reg.host}/demo/app:1`,
          digest: (await pushImage(img, `${reg.host}/demo/app:1`, noCreds)).digest,
        },
        {
          ref: `${reg.host}/other/app:2`,
          digest: (await pushImage(img, `${reg.host}/other/app:2`, noCreds)).digest,
        },
      ];
      const attached = await attachPushedSboms(pushed, contents, "spdx", ctx());
      expect(attached).toHaveLength(2);
      for (const [i, repo] of ["demo/app", "other/app"].entries()) {
        const a = attached[i]!;
        expect(a.artifactType).toBe("application/spdx+json");
        expect(a.fallbackTag).toBe(referrersApi ? undefined : referrersTag(pushed[i]!.digest));
        const manifest = JSON.parse(reg.manifests.get(repo)!.get(a.digest)!.bytes.toString());
        expect(manifest.subject).toEqual({
          mediaType: img.manifest.descriptor.mediaType,
          digest: pushed[i]!.digest,
          size: img.manifest.descriptor.size,
        });
        const layer = reg.blobs.get(repo)!.get(manifest.layers[0].digest)!;
        const doc = JSON.parse(layer.toString());
        expect(doc.spdxVersion).toBe("SPDX-2.3");
        expect(doc.creationInfo.created).toBe("2023-11-14T22:13:20Z");
        expect(doc.packages.some((p: { name: string }) => p.name === "Flask")).toBe(true);
        if (referrersApi) {
          const res = await fetch(`http://${reg.host}/v2/${repo}/referrers/${pushed[i]!.digest}`);
          const list = (await res.json()) as { manifests: { digest: string }[] };
          expect(list.manifests.map((m) => m.digest)).toEqual([a.digest]);
        } else {
          const index = JSON.parse(reg.manifests.get(repo)!.get(a.fallbackTag!)!.bytes.toString());
          expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([a.digest]);
        }
      }
    });
});

describe("attachIndexSboms", { timeout: 30_000 }, () => {
  for (const referrersApi of [false, true])
    it(`attaches each platform's SBOM to its manifest in each pushed index (${referrersApi ? "referrers API" : "fallback tag"})`, async () => {
      const reg = await new FakeRegistry({ referrersApi }).start();
      registries.push(reg);
      const stored = indexOf([img, arm], [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")]);
      const refs = [`${reg.host}/demo/multi:1`, `${reg.host}/other/multi:2`];
      const pushed = [];
      for (const ref of refs) pushed.push(await pushIndex(stored, ref, noCreds));
      const armContents = { ...contents, architecture: "arm64" };
      const platforms = [
        { platform: "linux/amd64", sbom: contents },
        { platform: "linux/arm64", sbom: armContents },
      ];
      const attached = await attachIndexSboms(pushed, platforms, "cyclonedx", ctx());
      expect(attached.map((a) => a.map((s) => [s.platform, s.format, s.artifactType]))).toEqual(
        refs.map(() => [
          ["linux/amd64", "cyclonedx", "application/vnd.cyclonedx+json"],
          ["linux/arm64", "cyclonedx", "application/vnd.cyclonedx+json"],
        ]),
      );
      for (const [j, repo] of ["demo/multi", "other/multi"].entries()) {
        for (const [i, image] of [img, arm].entries()) {
          const a = attached[j]![i]!;
          const subject = image.manifest.descriptor;
          // the subject: that platform's manifest as the index names it
          expect(stored.index.json.manifests[i]!.digest).toBe(subject.digest);
          expect(a.fallbackTag).toBe(referrersApi ? undefined : referrersTag(subject.digest));
          const manifest = JSON.parse(reg.manifests.get(repo)!.get(a.digest)!.bytes.toString());
          expect(manifest.subject).toEqual({
            mediaType: subject.mediaType,
            digest: subject.digest,
            size: subject.size,
          });
          const bom = JSON.parse(reg.blobs.get(repo)!.get(manifest.layers[0].digest)!.toString());
          expect(bom.metadata.component.version).toBe(subject.digest);
          expect(bom.metadata.component.name).toBe(`${reg.host}/${repo}`);
          const listed = referrersApi
            ? ((await (await fetch(`http://${reg.host}/v2/${repo}/referrers/${subject.digest}`)).json()) as {
                manifests: { digest: string }[];
              })
            : JSON.parse(reg.manifests.get(repo)!.get(a.fallbackTag!)!.bytes.toString());
          expect(listed.manifests.map((m: { digest: string }) => m.digest)).toEqual([a.digest]);
        }
      }
      // the index itself has no SBOM of its own
      const indexDigest = stored.index.descriptor.digest;
      expect(reg.manifests.get("demo/multi")!.has(referrersTag(indexDigest))).toBe(false);
    });

  it("attaches nothing for a platform without contents", async () => {
    const reg = await new FakeRegistry({ referrersApi: true }).start();
    registries.push(reg);
    const stored = indexOf([img, arm], [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")]);
    const pushed = [await pushIndex(stored, `${reg.host}/demo/multi:1`, noCreds)];
    const attached = await attachIndexSboms(
      pushed,
      [{ platform: "linux/amd64" }, { platform: "linux/arm64", sbom: contents }],
      "spdx",
      ctx(),
    );
    expect(attached.map((a) => a.map((s) => s.platform))).toEqual([["linux/arm64"]]);
  });
});
