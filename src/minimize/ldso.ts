/**
 * Where the dynamic loader (glibc's ld.so, `man 8 ld.so`) finds a DT_NEEDED library: names with a
 * slash are paths; otherwise DT_RPATH of the object and of the objects that loaded it (only when
 * the object has no DT_RUNPATH), then DT_RUNPATH, then the ld.so.cache (approximated here by the
 * directories of /etc/ld.so.conf and its includes: the cache is built from exactly those), then
 * the default directories. LD_LIBRARY_PATH is not used: images do not set it at run time.
 */
import { posix } from "node:path";
import type { ElfInfo } from "../sysdeps/elf.js";
import { expandGlob, type RootFs } from "./rootfs.js";

const TRIPLETS: Record<string, string> = {
  x86_64: "x86_64-linux-gnu",
  aarch64: "aarch64-linux-gnu",
  i386: "i386-linux-gnu",
  arm: "arm-linux-gnueabihf",
};

/** The default directories after ld.so.conf, multiarch first (Debian's glibc). */
export function defaultDirs(machine: ElfInfo["machine"]): string[] {
  const t = TRIPLETS[machine];
  const multi = t ? [`/lib/${t}`, `/usr/lib/${t}`] : [];
  const lib64 = machine === "x86_64" || machine === "aarch64" ? ["/lib64", "/usr/lib64"] : [];
  return [...multi, ...lib64, "/lib", "/usr/lib"];
}

/** Directories named by /etc/ld.so.conf and its `include`s (globs, relative to /etc). */
export function ldSoConfDirs(fs: RootFs, file = "/etc/ld.so.conf", seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  let text: string;
  try {
    text = fs.read(file).toString("utf8");
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line || line.startsWith("hwcap ")) continue;
    const inc = /^include\s+(.+)$/.exec(line);
    if (inc) {
      for (const g of inc[1]!.split(/\s+/)) {
        const pattern = g.startsWith("/") ? g : posix.join(posix.dirname(file), g);
        for (const f of expandGlob(fs, pattern).sort()) dirs.push(...ldSoConfDirs(fs, f, seen));
      }
    } else dirs.push(...line.split(/[:\s,]+/).filter((d) => d.startsWith("/")));
  }
  return dirs;
}

/** `$ORIGIN`, `${ORIGIN}`, `$LIB`, `$PLATFORM` expanded; one rpath entry may give several dirs. */
export function expandTokens(entry: string, origin: string, machine: ElfInfo["machine"]): string[] {
  const t = TRIPLETS[machine];
  const libs = [...(t ? [`lib/${t}`] : []), machine === "x86_64" ? "lib64" : "lib", "lib"];
  const platform = machine === "arm" ? "v7l" : machine;
  const base = entry
    .replace(/\$\{ORIGIN\}|\$ORIGIN(?![A-Za-z0-9_])/g, origin)
    .replace(/\$\{PLATFORM\}|\$PLATFORM/g, platform);
  const out = /\$\{LIB\}|\$LIB/.test(base) ? libs.map((l) => base.replace(/\$\{LIB\}|\$LIB/g, l)) : [base];
  return [...new Set(out.map((d) => posix.normalize(d.startsWith("/") ? d : posix.join(origin, d))))];
}

export interface SearchInput {
  readonly name: string;
  /** The object asking, and its dynamic section. */
  readonly origin: string;
  readonly elf: ElfInfo;
  /** DT_RPATH entries of the objects that loaded this one (already expanded), nearest first. */
  readonly inheritedRpath: readonly string[];
  readonly confDirs: readonly string[];
}

/** The candidate paths, in the loader's order, for one DT_NEEDED name. */
export function searchPath(input: SearchInput): string[] {
  const { name, origin, elf } = input;
  if (name.includes("/")) return [posix.normalize(name.startsWith("/") ? name : posix.join(origin, name))];
  const expand = (list: readonly string[]) => list.flatMap((e) => expandTokens(e, origin, elf.machine));
  const dirs = [
    ...(elf.runpath.length === 0 ? [...expand(elf.rpath), ...input.inheritedRpath] : []),
    ...expand(elf.runpath),
    ...input.confDirs,
    ...defaultDirs(elf.machine),
  ];
  return [...new Set(dirs)].map((d) => posix.join(d, name));
}
