/**
 * An SPDX 2.3 JSON document of an image: the image as the package the document describes, which
 * CONTAINS one package per Debian package and Python distribution (and the OS).
 */
import type { ImageContents, PythonDistribution } from "./collect.js";
import type { SbomOptions } from "./cyclonedx.js";
import { contentUuid, debPurl, imageName, ociPurl, pypiPurl } from "./ids.js";
import { declaredLicenses } from "./licenses.js";

type Json = Record<string, unknown>;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
/** SPDX ids allow letters, digits, `.` and `-`. */
const idPart = (s: string) => s.replace(/[^A-Za-z0-9.-]+/g, "-");

/** Declared licenses as one SPDX expression; names that are not SPDX ids become LicenseRefs. */
function licenseDeclared(d: PythonDistribution, extracted: Map<string, Json>): string {
  const parts: string[] = [];
  for (const l of declaredLicenses(d)) {
    if (l.kind === "expression") {
      // LicenseRefs of the expression (PEP 639 allows them) are listed, as SPDX requires.
      for (const [id] of l.expression.matchAll(/(?<![:\w-])LicenseRef-[A-Za-z0-9.-]+/g))
        if (!extracted.has(id))
          extracted.set(id, {
            licenseId: id,
            name: id,
            extractedText: `${id}, named by the License-Expression of ${d.name} ${d.version}; its text is in the distribution's license files`,
          });
      return l.expression;
    }
    if (l.kind === "id") parts.push(l.id);
    else {
      const id = `LicenseRef-${idPart(l.name).slice(0, 60)}`;
      const text = l.text ?? l.name;
      const prev = extracted.get(id);
      // Two different texts under one name: the second gets a suffix from its content.
      const key = prev && prev.extractedText !== text ? `${id}-${contentUuid(text).slice(0, 8)}` : id;
      extracted.set(key, { licenseId: key, name: l.name, extractedText: text });
      parts.push(key);
    }
  }
  if (!parts.length) return "NOASSERTION";
  // Several declared licenses: all of them (the cautious reading; METADATA does not say AND or OR).
  return parts.length === 1 ? parts[0]! : parts.map((p) => (p.includes(" ") ? `(${p})` : p)).join(" AND ");
}

export function spdxDocument(contents: ImageContents, o: SbomOptions): Json {
  const name = imageName(contents, o.name);
  const imagePurl = ociPurl(contents, name, o.repositoryUrl);
  const used = new Set<string>(["SPDXRef-DOCUMENT", "SPDXRef-Image"]);
  const spdxId = (base: string) => {
    let id = `SPDXRef-${idPart(base)}`;
    for (let n = 2; used.has(id); n++) id = `SPDXRef-${idPart(base)}-${n}`;
    used.add(id);
    return id;
  };
  const extracted = new Map<string, Json>();
  const packages: Json[] = [
    {
      SPDXID: "SPDXRef-Image",
      name,
      ...(contents.manifestDigest ? { versionInfo: contents.manifestDigest } : {}),
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: "CONTAINER",
      ...(contents.manifestDigest
        ? {
            checksums: [
              { algorithm: "SHA256", checksumValue: contents.manifestDigest.replace(/^sha256:/, "") },
            ],
          }
        : {}),
      ...(imagePurl
        ? {
            externalRefs: [
              { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: imagePurl },
            ],
          }
        : {}),
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      comment: `image ${contents.ref}${contents.configDigest ? `, config ${contents.configDigest}` : ""}`,
    },
  ];
  const os = contents.osRelease;
  if (os?.id) {
    packages.push({
      SPDXID: spdxId(`OperatingSystem-${os.id}`),
      name: os.id,
      ...(os.versionId ? { versionInfo: os.versionId } : {}),
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: "OPERATING_SYSTEM",
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      ...(os.prettyName ? { description: os.prettyName } : {}),
    });
  }
  for (const p of contents.deb) {
    packages.push({
      SPDXID: spdxId(`deb-${p.name}-${p.version}`),
      name: p.name,
      versionInfo: p.version,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: "LIBRARY",
      ...(p.md5sumsSha256 ? { checksums: [{ algorithm: "SHA256", checksumValue: p.md5sumsSha256 }] } : {}),
      externalRefs: [
        {
          referenceCategory: "PACKAGE-MANAGER",
          referenceType: "purl",
          referenceLocator: debPurl(p, contents.osRelease),
        },
      ],
      ...(p.source
        ? { sourceInfo: `built from the source package ${p.source} ${p.sourceVersion ?? p.version}` }
        : {}),
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      comment: `listed in ${p.statusFile}${p.md5sumsFile ? `; checksum: SHA-256 of ${p.md5sumsFile}` : ""}`,
    });
  }
  for (const d of contents.python) {
    packages.push({
      SPDXID: spdxId(`pypi-${d.name}-${d.version}`),
      name: d.name,
      versionInfo: d.version,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: "LIBRARY",
      ...(d.recordSha256 ? { checksums: [{ algorithm: "SHA256", checksumValue: d.recordSha256 }] } : {}),
      externalRefs: [
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: pypiPurl(d) },
      ],
      ...(d.summary ? { summary: d.summary } : {}),
      licenseConcluded: "NOASSERTION",
      licenseDeclared: licenseDeclared(d, extracted),
      copyrightText: "NOASSERTION",
      comment: `installed at ${d.path}${d.recordSha256 ? `; checksum: SHA-256 of ${d.path}/RECORD` : ""}`,
    });
  }
  const relationships = [
    { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-Image" },
    ...packages.slice(1).map((p) => ({
      spdxElementId: "SPDXRef-Image",
      relationshipType: "CONTAINS",
      relatedSpdxElement: p.SPDXID,
    })),
  ];
  const body = {
    name,
    packages,
    ...(extracted.size
      ? {
          hasExtractedLicensingInfos: [...extracted.values()].sort((a, b) =>
            String(a.licenseId) < String(b.licenseId) ? -1 : 1,
          ),
        }
      : {}),
    relationships,
  };
  const uuid = contentUuid(JSON.stringify({ tool: o.toolVersion, ...body }));
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: body.name,
    documentNamespace: `urn:uuid:${uuid}`,
    creationInfo: { created: iso(o.created), creators: [`Tool: slimwheel-${o.toolVersion}`] },
    documentDescribes: ["SPDXRef-Image"],
    packages: body.packages,
    ...(body.hasExtractedLicensingInfos
      ? { hasExtractedLicensingInfos: body.hasExtractedLicensingInfos }
      : {}),
    relationships: body.relationships,
  };
}
