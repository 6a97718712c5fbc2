/**
 * Platform compatibility tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux): the ordered list of
 * tags a target interpreter accepts, most preferred first — what pip computes with
 * `packaging.tags.sys_tags()` on the target, computed here without running Python.
 */
import type { Tag } from "./wheel-filename.js";

export type Libc =
  | { readonly kind: "glibc"; readonly version: string }
  | { readonly kind: "musl"; readonly version: string };

export interface TagTarget {
  /** "3.11" */
  readonly python: string;
  readonly arch: "x86_64" | "aarch64";
  readonly libc: Libc;
}

const LEGACY_MANYLINUX: Record<string, string> = {
  "2_17": "manylinux2014",
  "2_12": "manylinux2010",
  "2_5": "manylinux1",
};
/** The oldest glibc each architecture has manylinux tags for. */
const MIN_GLIBC_MINOR: Record<TagTarget["arch"], number> = { x86_64: 5, aarch64: 17 };

/** Platform tags for the target, most specific first. */
export function platformTags(target: TagTarget): string[] {
  const [major, minor] = target.libc.version.split(".").map(Number) as [number, number];
  const out: string[] = [];
  if (target.libc.kind === "glibc") {
    if (major === 2) {
      for (let m = minor; m >= MIN_GLIBC_MINOR[target.arch]; m--) {
        out.push(`manylinux_2_${m}_${target.arch}`);
        const legacy = LEGACY_MANYLINUX[`2_${m}`];
        if (legacy) out.push(`${legacy}_${target.arch}`);
      }
    }
  } else {
    for (let m = minor; m >= 0; m--) out.push(`musllinux_${major}_${m}_${target.arch}`);
  }
  out.push(`linux_${target.arch}`);
  return out;
}

/** Every tag the target accepts, in preference order (as packaging.tags.sys_tags for CPython). */
export function compatibleTags(target: TagTarget): Tag[] {
  const [pyMajor, pyMinor] = target.python.split(".").map(Number) as [number, number];
  const cp = `cp${pyMajor}${pyMinor}`;
  const plats = platformTags(target);
  const tags: Tag[] = [];
  const add = (interpreter: string, abi: string, platform: string) =>
    tags.push({ interpreter, abi, platform });

  // cpython_tags
  for (const p of plats) add(cp, cp, p);
  for (const p of plats) add(cp, "abi3", p);
  for (const p of plats) add(cp, "none", p);
  for (let m = pyMinor - 1; m >= 2; m--) for (const p of plats) add(`cp${pyMajor}${m}`, "abi3", p);

  // compatible_tags
  const pyVersions = [`py${pyMajor}${pyMinor}`, `py${pyMajor}`];
  for (let m = pyMinor - 1; m >= 0; m--) pyVersions.push(`py${pyMajor}${m}`);
  for (const v of pyVersions) for (const p of plats) add(v, "none", p);
  add(cp, "none", "any");
  for (const v of pyVersions) add(v, "none", "any");
  return tags;
}

/**
 * The preference rank of the best tag of a wheel (lower is better), or undefined when none of
 * its tags is compatible with the target.
 */
export function wheelRank(wheelTags: readonly Tag[], accepted: readonly Tag[]): number | undefined {
  const index = new Map(accepted.map((t, i) => [`${t.interpreter}-${t.abi}-${t.platform}`, i]));
  let best: number | undefined;
  for (const t of wheelTags) {
    const i = index.get(`${t.interpreter}-${t.abi}-${t.platform}`);
    if (i !== undefined && (best === undefined || i < best)) best = i;
  }
  return best;
}
