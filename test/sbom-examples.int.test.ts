/**
 * The SBOM of each example's image (issue 14, item 5), built by today's CLI (dist/: `npm run build`
 * first) with the slimwheel strategy (minimal runtime), buildah and the test bed, without the boot
 * test: the CycloneDX document lists exactly the distributions `importlib.metadata` sees inside the
 * image (names and versions), and exactly the Debian packages of the image's dpkg records (read
 * from a `buildah mount` of it). Each image carries the OCI provenance labels (`buildah inspect`).
 * The flask image is also pushed to the test bed's registry: its SBOM is found there as an OCI
 * referrer of the pushed manifest (through the referrers API, or the `sha256-<hex>` fallback tag
 * that docker-registry 2.8 needs), and parses as CycloneDX listing flask.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicRemoteUrl } from "../src/pipeline/labels.js";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { buildExampleWithCli } from "./helpers/cli-build.js";
import { referrerLayer, referrersOf } from "./helpers/referrers.js";

const ROOT = join(import.meta.dirname, "..");
const tb = await readEndpoints();
const run = randomBytes(4).toString("hex");
const EPOCH = 1700000000;
let work: string;
const built: string[] = [];

interface Bom {
  metadata: { component: { name: string; version?: string } };
  components: { name: string; version?: string; purl?: string; type: string }[];
}

const norm = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");
const buildah = (...args: string[]) =>
  exec("buildah", args, { env: process.env, doing: `buildah ${args[0]}` });

/** The distributions Python sees in the image: `name==version`, normalized names, sorted, unique. */
async function pythonSees(image: string): Promise<string[]> {
  const ctr = (await buildah("from", "--pull-never", image)).stdout.trim();
  try {
    const r = await buildah(
      "run",
      "--isolation",
      "chroot",
      ctr,
      "--",
      "python3",
      "-c",
      "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'] + '==' + d.version)",
    );
    return unique(r.stdout.trim().split("\n").filter(Boolean).map(nameVersion));
  } finally {
    await buildah("rm", ctr).catch(() => undefined);
  }
}

const nameVersion = (line: string) => {
  const [n, v] = line.split("==");
  return `${norm(n!)}==${v}`;
};
const unique = (xs: string[]) => [...new Set(xs)].sort();

/** The installed packages of the image's dpkg records (status and status.d/*): `name==version:arch`. */
async function dpkgRecords(image: string): Promise<string[]> {
  const ctr = (await buildah("from", "--pull-never", image)).stdout.trim();
  try {
    const root = (await buildah("mount", ctr)).stdout.trim();
    const texts: string[] = [];
    const status = await readFile(join(root, "var/lib/dpkg/status"), "utf8").catch(() => "");
    texts.push(status);
    const d = join(root, "var/lib/dpkg/status.d");
    for (const f of await readdir(d).catch(() => [] as string[]))
      if (!f.endsWith(".md5sums")) texts.push(await readFile(join(d, f), "utf8"));
    const out: string[] = [];
    for (const stanza of texts.join("\n\n").split(/\n\s*\n/)) {
      const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, "m").exec(stanza)?.[1]?.trim();
      const pkg = field("Package");
      if (!pkg) continue;
      const st = field("Status");
      if (st && /\b(not-installed|config-files)$/.test(st)) continue;
      out.push(`${pkg}==${field("Version")}:${field("Architecture")}`);
    }
    return unique(out);
  } finally {
    await buildah("umount", ctr).catch(() => undefined);
    await buildah("rm", ctr).catch(() => undefined);
  }
}

function bomPython(bom: Bom): string[] {
  return unique(
    bom.components.filter((c) => c.purl?.startsWith("pkg:pypi/")).map((c) => `${norm(c.name)}==${c.version}`),
  );
}

function bomDeb(bom: Bom): string[] {
  return unique(
    bom.components
      .filter((c) => c.purl?.startsWith("pkg:deb/"))
      .map((c) => `${c.name}==${c.version}:${new URL(c.purl!).searchParams.get("arch") ?? "?"}`),
  );
}

async function labelsOf(image: string): Promise<Record<string, string>> {
  const j = JSON.parse((await buildah("inspect", "--type", "image", image)).stdout) as {
    OCIv1: { config: { Labels?: Record<string, string> } };
  };
  return j.OCIv1.config.Labels ?? {};
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sbom-examples-"));
});

afterAll(async () => {
  if (built.length) await exec("buildah", ["rmi", "-f", ...built], { env: process.env, allowFailure: true });
  await rm(work, { recursive: true, force: true });
});

/** The commit the build read (do not commit while the test runs). */
const gitHead = async () =>
  (await exec("git", ["-C", ROOT, "rev-parse", "HEAD"], { env: process.env })).stdout.trim();
/** The source label the build gives: origin's URL when it is one fit to publish (a clone of a local path has none). */
const originUrl = (
  await exec("git", ["-C", ROOT, "remote", "get-url", "origin"], { env: process.env, allowFailure: true })
).stdout.trim();
const expectedSource = originUrl ? publicRemoteUrl(originUrl) : undefined;

describe("the SBOM of each example's image lists what is in it", () => {
  it.each(["flask-app", "c-extension", "django-postgres", "data-tools"])("%s", async (example) => {
    const push = example === "flask-app";
    const tag = push
      ? `${tb.registry.host}/slimwheel-sbom-examples-${run}/flask:t`
      : `localhost/slimwheel-sbom-examples/${example}:${run}`;
    built.push(tag);
    const sbomFile = join(work, `${example}.cdx.json`);
    const started = Date.now();
    const prev = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    const doc = await buildExampleWithCli(tb, example, tag, [
      "--no-boot-test",
      "--sbom-file",
      sbomFile,
      ...(push ? ["--push"] : []),
    ]).finally(() => {
      if (prev === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = prev;
    });
    console.log(`${example}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    expect(doc.strategy).toBe("slimwheel");
    expect((doc.runtime as { kind: string }).kind).toBe("minimal");

    const bom = JSON.parse(await readFile(sbomFile, "utf8")) as Bom;
    const seen = await pythonSees(tag);
    expect(seen.length).toBeGreaterThan(0);
    expect(bomPython(bom)).toEqual(seen);
    const dpkg = await dpkgRecords(tag);
    expect(dpkg.some((p) => p.startsWith("libc6=="))).toBe(true);
    expect(bomDeb(bom)).toEqual(dpkg);

    // The provenance labels, on the minimal image slimwheel's own writer made.
    const labels = await labelsOf(tag);
    expect(labels["io.slimwheel.runtime"]).toBe("minimal");
    expect(labels["org.opencontainers.image.base.name"]).toBe(tb.images.runtime.pinned);
    expect(labels["org.opencontainers.image.base.digest"]).toBe(tb.images.runtime.digest);
    expect(labels["org.opencontainers.image.revision"]).toBe(await gitHead());
    expect(labels["org.opencontainers.image.created"]).toBe("2023-11-14T22:13:20Z");
    expect(labels["org.opencontainers.image.source"]).toBe(expectedSource);
    expect(labels["org.opencontainers.image.licenses"]).toBeUndefined(); // no example declares one

    if (push) await checkReferrer(doc, tag);
  }, 900_000);
});

/** The pushed flask image's SBOM, found through the registry as a referrer of its manifest. */
async function checkReferrer(doc: Record<string, unknown>, tag: string): Promise<void> {
  const pushed = doc.pushed as {
    ref: string;
    digest: string;
    sbom: { digest: string; artifactType: string };
  }[];
  expect(pushed).toHaveLength(1);
  const [p] = pushed;
  expect(p!.ref).toBe(tag);
  expect(p!.sbom.artifactType).toBe("application/vnd.cyclonedx+json");
  const repo = tag.slice(tb.registry.host.length + 1).replace(/:t$/, "");
  const list = await referrersOf(tb.registry.url, repo, p!.digest);
  const ref = list.manifests.find((m) => m.digest === p!.sbom.digest);
  expect(ref?.artifactType).toBe("application/vnd.cyclonedx+json");
  const { manifest, text } = await referrerLayer(tb.registry.url, repo, ref!.digest);
  expect(manifest.subject.digest).toBe(p!.digest);
  expect(manifest.layers[0]!.mediaType).toBe("application/vnd.cyclonedx+json");
  const bom = JSON.parse(text) as Bom & { bomFormat: string; specVersion: string };
  expect(bom.bomFormat).toBe("CycloneDX");
  expect(bom.specVersion).toBe("1.6");
  expect(bom.metadata.component.version).toBe(p!.digest);
  expect(bom.components.some((c) => c.purl?.startsWith("pkg:pypi/flask@"))).toBe(true);
}
