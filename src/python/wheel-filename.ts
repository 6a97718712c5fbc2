/**
 * Distribution file names: wheels (`{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`, PEP 427 and the
 * binary distribution format, with compressed tag sets) and sdists (`{name}-{ver}.tar.gz`, PEP 625).
 */
import { SlimwheelError } from "../errors.js";
import { isValidVersion } from "./pep440.js";
import { normalizeName } from "./pep503.js";

export interface Tag {
  readonly interpreter: string;
  readonly abi: string;
  readonly platform: string;
}

export interface WheelFilename {
  readonly name: string;
  readonly key: string;
  readonly version: string;
  readonly build?: string;
  /** The expanded tag set (`py2.py3-none-any` is two tags). */
  readonly tags: readonly Tag[];
}

export const tagString = (t: Tag) => `${t.interpreter}-${t.abi}-${t.platform}`;

function invalid(filename: string, why: string): never {
  throw new SlimwheelError("input", `"${filename}" is not a valid wheel file name: ${why}`, {
    hint: "wheel names are {name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl",
  });
}

/** Real wheels carry a handful of tags (a manylinux wheel: 2 to 4); 10,000 is far past any. */
const MAX_TAGS = 10_000;

export function parseWheelFilename(filename: string): WheelFilename {
  if (!filename.endsWith(".whl")) invalid(filename, "it does not end in .whl");
  const parts = filename.slice(0, -4).split("-");
  if (parts.length !== 5 && parts.length !== 6)
    invalid(filename, `expected 5 or 6 dash-separated parts, found ${parts.length}`);
  const [name, version] = parts as [string, string];
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$/.test(name)) invalid(filename, `bad name "${name}"`);
  if (!isValidVersion(version)) invalid(filename, `"${version}" is not a PEP 440 version`);
  const build = parts.length === 6 ? parts[2] : undefined;
  if (build !== undefined && !/^\d[A-Za-z0-9_.]*$/.test(build))
    invalid(filename, `build tag "${build}" must start with a digit`);
  const [py, abi, plat] = parts.slice(-3) as [string, string, string];
  // The compressed tag set expands to the product of its three parts: bound it before expanding.
  const count = py.split(".").length * abi.split(".").length * plat.split(".").length;
  if (count > MAX_TAGS) invalid(filename, `its tag set expands to ${count} tags (at most ${MAX_TAGS})`);
  const tags: Tag[] = [];
  for (const i of py.split("."))
    for (const a of abi.split("."))
      for (const p of plat.split(".")) {
        if (!i || !a || !p) invalid(filename, "empty tag");
        tags.push({ interpreter: i, abi: a, platform: p });
      }
  return { name, key: normalizeName(name), version, build, tags };
}

export interface SdistFilename {
  readonly name: string;
  readonly key: string;
  readonly version: string;
  readonly format: "tar.gz" | "zip" | "tar.bz2" | "tar";
}

/** Parses an sdist name; legacy names may contain dashes, so the version is the last valid part. */
export function parseSdistFilename(filename: string): SdistFilename {
  const m = /^(.+)\.(tar\.gz|zip|tar\.bz2|tar)$/.exec(filename);
  if (!m) {
    throw new SlimwheelError("input", `"${filename}" is not an sdist file name (.tar.gz or .zip)`);
  }
  const stem = m[1]!;
  for (let i = stem.lastIndexOf("-"); i > 0; i = stem.lastIndexOf("-", i - 1)) {
    const version = stem.slice(i + 1);
    if (isValidVersion(version)) {
      const name = stem.slice(0, i);
      return { name, key: normalizeName(name), version, format: m[2] as SdistFilename["format"] };
    }
  }
  throw new SlimwheelError("input", `"${filename}" has no version after its name`, {
    hint: "sdists are named {name}-{version}.tar.gz",
  });
}
