/**
 * From sonames to Debian packages, asking the real images: the runtime image's loader cache
 * (`ldconfig -p`) says what it already has; the builder's dpkg database (`dpkg -S`) says which
 * package ships each missing library.
 */
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { splitLines } from "../util/lines.js";
import type { ExtensionModule } from "./artifacts.js";
import type { SystemNeed } from "./known-packages.js";

export interface Resolution {
  /** Runtime packages to install, each with its chain of reasons. */
  readonly needs: readonly SystemNeed[];
  /** Libraries the runtime image already has. */
  readonly provided: readonly string[];
  /** Libraries no package of the builder ships (e.g. from /usr/local). */
  readonly unresolved: readonly string[];
  /** soname → package, for explaining import failures. */
  readonly packageOf: Readonly<Record<string, string>>;
}

/** Sonames listed by `ldconfig -p` output. */
export function parseLdconfig(out: string): Set<string> {
  const s = new Set<string>();
  for (const line of splitLines(out)) {
    const m = /^\s+(\S+)\s+\(/.exec(line);
    if (m) s.add(m[1]!);
  }
  return s;
}

/** `soname\tpkg:arch: /path` lines → soname → package. */
export function parseDpkgSearch(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of splitLines(out)) {
    const [soname, hit] = line.split("\t");
    const pkg = hit ? /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9]+)?(?:, [^:]+)*: /.exec(hit)?.[1] : undefined;
    if (soname && pkg) m.set(soname, pkg);
  }
  return m;
}

export const DPKG_SEARCH =
  'for s in "$@"; do r=$(dpkg -S "*/$s" 2>/dev/null | head -n1); printf "%s\\t%s\\n" "$s" "$r"; done';

export function describeChain(pkg: string, soname: string, modules: readonly ExtensionModule[]): string {
  const first = modules[0]!;
  const more = modules.length > 1 ? ` (and ${modules.length - 1} more)` : "";
  return `${pkg} ← ${soname} ← ${first.file}${more}`;
}

export async function resolveLibraries(
  engine: Engine,
  images: { readonly builder: string; readonly runtime: string },
  libraries: ReadonlyMap<string, ExtensionModule[]>,
  ctx: Context,
): Promise<Resolution> {
  if (libraries.size === 0) return { needs: [], provided: [], unresolved: [], packageOf: {} };
  const sonames = [...libraries.keys()];
  const ld = await engine.run(
    images.runtime,
    ["sh", "-c", "ldconfig -p 2>/dev/null || /sbin/ldconfig -p"],
    ctx,
  );
  const have = parseLdconfig(ld.stdout);
  const dpkg = await engine.run(images.builder, ["sh", "-c", DPKG_SEARCH, "sh", ...sonames], ctx);
  const packageOf = parseDpkgSearch(dpkg.stdout);
  const needs: SystemNeed[] = [];
  const provided: string[] = [];
  const unresolved: string[] = [];
  for (const [soname, modules] of libraries) {
    if (have.has(soname)) {
      provided.push(soname);
      continue;
    }
    const pkg = packageOf.get(soname);
    if (!pkg) {
      unresolved.push(soname);
      continue;
    }
    const why = describeChain(pkg, soname, modules);
    if (!needs.some((n) => n.package === pkg))
      needs.push({
        package: pkg,
        for: modules[0]!.wheel ?? modules[0]!.file,
        why: why.slice(pkg.length + 3),
      });
  }
  return { needs, provided, unresolved, packageOf: Object.fromEntries(packageOf) };
}
