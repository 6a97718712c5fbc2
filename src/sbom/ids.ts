/** Package URLs (purl) and the deterministic identifiers of an SBOM. */
import { createHash } from "node:crypto";
import { normalizeName } from "../python/pep503.js";
import type { DebPackage, ImageContents, OsRelease, PythonDistribution } from "./collect.js";

/** Percent-encodes a purl name, version or qualifier value (`:` may stay as it is; `/` too in a qualifier value). */
export const purlEncode = (s: string) => encodeURIComponent(s).replace(/%3A/g, ":");

function qualifiers(q: Record<string, string | undefined>): string {
  const pairs = Object.entries(q)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${purlEncode(v).replace(/%2F/g, "/")}`);
  return pairs.length ? `?${pairs.join("&")}` : "";
}

/** `pkg:pypi/NAME@VERSION`: the purl spec's pypi type lowercases the name and writes `-` for `_` (PEP 503). */
export function pypiPurl(d: PythonDistribution): string {
  return `pkg:pypi/${purlEncode(normalizeName(d.name))}@${purlEncode(d.version)}`;
}

/** The purl namespace of dpkg packages: the distribution (debian, ubuntu), debian for its derivatives. */
export function debNamespace(os: OsRelease | undefined): string {
  return os?.id === "ubuntu" ? "ubuntu" : "debian";
}

/** `debian-12`, `ubuntu-24.04`; the codename when there is no VERSION_ID (testing, sid). */
export function debDistro(os: OsRelease | undefined): string | undefined {
  if (!os) return undefined;
  const id = debNamespace(os);
  const v = os.versionId ?? os.versionCodename;
  return v ? `${id}-${v}` : undefined;
}

/** `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-N`. */
export function debPurl(p: DebPackage, os: OsRelease | undefined): string {
  return `pkg:deb/${debNamespace(os)}/${purlEncode(p.name)}@${purlEncode(p.version)}${qualifiers({
    arch: p.architecture,
    distro: debDistro(os),
  })}`;
}

/** The image's name: given, else the last path part of the reference without its transport and tag. */
export function imageName(contents: ImageContents, name?: string): string {
  if (name) return name;
  const ref = contents.ref.replace(/^[a-z-]+:(\/\/)?/, "");
  const last =
    ref
      .replace(/\/+$/, "")
      .split("/")
      .at(-1)
      ?.replace(/(\.tar|\.tgz|\.tar\.gz)?(:[^:]*)?$/, "") ?? "";
  return last || "image";
}

/**
 * `pkg:oci/NAME@sha256%3A…?arch=…`, when the manifest digest is known. The purl spec's oci type
 * names the image by the last part of its repository; a name with slashes (`registry/team/app`)
 * gives that part and, unless one is given, its whole as `repository_url`.
 */
export function ociPurl(contents: ImageContents, name: string, repositoryUrl?: string): string | undefined {
  if (!contents.manifestDigest) return undefined;
  const last = name.split("/").at(-1) || name;
  const q = qualifiers({
    arch: contents.architecture,
    repository_url: repositoryUrl ?? (name.includes("/") ? name.toLowerCase() : undefined),
  });
  return `pkg:oci/${purlEncode(last.toLowerCase())}@${encodeURIComponent(contents.manifestDigest)}${q}`;
}

/**
 * A name-based UUID (RFC 9562 version 5, SHA-1) of `text` in slimwheel's own namespace: the same
 * content gives the same serial number.
 */
export function contentUuid(text: string): string {
  // The RFC's URL namespace UUID.
  const ns = Buffer.from("6ba7b8119dad11d180b400c04fd430c8", "hex");
  const h = createHash("sha1").update(ns).update(`slimwheel-sbom:${text}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
