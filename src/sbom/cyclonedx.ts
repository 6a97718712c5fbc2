/**
 * A CycloneDX 1.6 JSON BOM of an image (schema/cyclonedx/bom-1.6.schema.json): the image as
 * `metadata.component`, its OS, its Debian packages and Python distributions as components, and
 * one dependency entry saying the image contains them all.
 */
import type { DebPackage, ImageContents, PythonDistribution } from "./collect.js";
import { contentUuid, debDistro, debPurl, imageName, ociPurl, pypiPurl } from "./ids.js";
import { declaredLicenses } from "./licenses.js";

export interface SbomOptions {
  /** Seconds since the epoch: SOURCE_DATE_EPOCH when set, else now. */
  readonly created: number;
  /** slimwheel's version, named as the tool. */
  readonly toolVersion: string;
  /** The image's name (default: from the reference). */
  readonly name?: string;
  /** The repository the image was pushed to (`registry.example/app`): the oci purl's repository_url. */
  readonly repositoryUrl?: string;
}

type Json = Record<string, unknown>;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const prop = (name: string, value: string | undefined) => (value === undefined ? [] : [{ name, value }]);

function pythonComponent(d: PythonDistribution, ref: string): Json {
  const licenses = declaredLicenses(d).map((l) =>
    l.kind === "expression"
      ? { expression: l.expression }
      : l.kind === "id"
        ? { license: { id: l.id } }
        : {
            license: {
              name: l.name,
              ...(l.text ? { text: { content: l.text, contentType: "text/plain" } } : {}),
            },
          },
  );
  return {
    type: "library",
    "bom-ref": ref,
    name: d.name,
    version: d.version,
    ...(d.summary ? { description: d.summary } : {}),
    ...(d.recordSha256 ? { hashes: [{ alg: "SHA-256", content: d.recordSha256 }] } : {}),
    ...(licenses.length ? { licenses } : {}),
    purl: pypiPurl(d),
    evidence: { occurrences: [{ location: d.path }] },
    properties: [
      { name: "slimwheel:package-type", value: "python" },
      ...prop("slimwheel:hashed-file", d.recordSha256 ? `${d.path}/RECORD` : undefined),
    ],
  };
}

function debComponent(p: DebPackage, contents: ImageContents, ref: string): Json {
  return {
    type: "library",
    "bom-ref": ref,
    name: p.name,
    version: p.version,
    ...(p.md5sumsSha256 ? { hashes: [{ alg: "SHA-256", content: p.md5sumsSha256 }] } : {}),
    purl: debPurl(p, contents.osRelease),
    evidence: { occurrences: [{ location: p.statusFile }] },
    properties: [
      { name: "slimwheel:package-type", value: "deb" },
      ...prop("slimwheel:deb:architecture", p.architecture),
      ...prop("slimwheel:deb:source", p.source),
      ...prop("slimwheel:deb:source-version", p.sourceVersion),
      ...prop("slimwheel:hashed-file", p.md5sumsFile),
    ],
  };
}

/** bom-refs are the purls; a purl found twice (the same distribution in two environments) gets its path. */
function uniqueRefs(purls: readonly string[], paths: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const p of purls) count.set(p, (count.get(p) ?? 0) + 1);
  return purls.map((p, i) => (count.get(p)! > 1 ? `${p}#${paths[i]}` : p));
}

/** The BOM as a JSON value (keys in a fixed order). */
export function cyclonedxBom(contents: ImageContents, o: SbomOptions): Json {
  const name = imageName(contents, o.name);
  const imagePurl = ociPurl(contents, name, o.repositoryUrl);
  const imageRef = imagePurl ?? `image:${name}`;
  const py = contents.python;
  const pyRefs = uniqueRefs(
    py.map((d) => pypiPurl(d)),
    py.map((d) => d.path),
  );
  const debRefs = uniqueRefs(
    contents.deb.map((p) => debPurl(p, contents.osRelease)),
    contents.deb.map((p) => p.statusFile),
  );
  const components: Json[] = [];
  const os = contents.osRelease;
  const osRef = os?.id ? `os:${debDistro(os) ?? os.id}` : undefined;
  if (os?.id && osRef) {
    components.push({
      type: "operating-system",
      "bom-ref": osRef,
      name: os.id,
      ...(os.versionId ? { version: os.versionId } : {}),
      ...(os.prettyName ? { description: os.prettyName } : {}),
      evidence: { occurrences: [{ location: "/etc/os-release" }] },
    });
  }
  for (const [i, p] of contents.deb.entries()) components.push(debComponent(p, contents, debRefs[i]!));
  for (const [i, d] of py.entries()) components.push(pythonComponent(d, pyRefs[i]!));

  const image: Json = {
    type: "container",
    "bom-ref": imageRef,
    name,
    ...(contents.manifestDigest ? { version: contents.manifestDigest } : {}),
    ...(contents.manifestDigest
      ? { hashes: [{ alg: "SHA-256", content: contents.manifestDigest.replace(/^sha256:/, "") }] }
      : {}),
    ...(imagePurl ? { purl: imagePurl } : {}),
    properties: [
      ...prop("slimwheel:image:reference", contents.ref),
      ...prop("slimwheel:image:config-digest", contents.configDigest),
      ...prop(
        "slimwheel:image:platform",
        contents.os || contents.architecture
          ? `${contents.os ?? "?"}/${contents.architecture ?? "?"}`
          : undefined,
      ),
    ],
  };
  const body = {
    metadata: {
      tools: { components: [{ type: "application", name: "slimwheel", version: o.toolVersion }] },
      component: image,
    },
    components,
    dependencies: [
      { ref: imageRef, dependsOn: components.map((c) => c["bom-ref"] as string) },
      ...components.map((c) => ({ ref: c["bom-ref"] as string })),
    ],
  };
  // The serial number names the content: the same image and slimwheel give the same BOM.
  const serial = `urn:uuid:${contentUuid(JSON.stringify(body))}`;
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: serial,
    version: 1,
    metadata: { timestamp: iso(o.created), ...body.metadata },
    components: body.components,
    dependencies: body.dependencies,
  };
}
