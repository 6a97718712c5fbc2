/**
 * The documented table of system packages PyPI projects need to build and to run
 * (known-packages.json; docs/sysdeps.md). Runtime libraries of compiled dependencies are also
 * found from the built artifacts themselves (ELF analysis); wrappers that call executables or
 * load libraries with ctypes are only known from this table.
 */
import table from "./known-packages.json" with { type: "json" };

export type Distro = "debian" | "alpine";

interface Entry {
  readonly kind?: "wrapper";
  /** Only applies when the app uses this module (e.g. django.contrib.gis). */
  readonly when?: string;
  readonly debian: { readonly build: readonly string[]; readonly runtime: readonly string[] };
  readonly alpine: { readonly build: readonly string[]; readonly runtime: readonly string[] };
  readonly note?: string;
}

interface Table {
  readonly packages: Readonly<Record<string, Entry>>;
  readonly toolchain: Readonly<Record<Distro, readonly string[]>>;
}

export const KNOWN: Table = table as unknown as Table;

export interface SystemNeed {
  readonly package: string;
  /** The PyPI project that needs it. */
  readonly for: string;
  readonly why: string;
}

export interface SystemNeeds {
  readonly build: readonly SystemNeed[];
  readonly runtime: readonly SystemNeed[];
}

/** The module each framework hint of `readProject` stands for, as the table's `when` names it. */
const FRAMEWORK_MODULES: Readonly<Record<string, string>> = { geodjango: "django.contrib.gis" };

/** The modules the table's `when` conditions ask about that the project uses (from its framework hints). */
export function usedModules(frameworks: readonly { readonly name: string }[]): Set<string> {
  const used = new Set<string>();
  for (const f of frameworks) {
    const m = FRAMEWORK_MODULES[f.name];
    if (m) used.add(m);
  }
  return used;
}

/** What the table says the given dependencies need on `distro`. `uses` lists modules the app imports (for `when`). */
export function knownNeeds(
  keys: Iterable<string>,
  distro: Distro,
  uses: ReadonlySet<string> = new Set(),
): SystemNeeds {
  const build: SystemNeed[] = [];
  const runtime: SystemNeed[] = [];
  for (const key of keys) {
    const e = KNOWN.packages[key];
    if (!e || (e.when && !uses.has(e.when))) continue;
    for (const p of e[distro].build) build.push({ package: p, for: key, why: `${key} compiles against it` });
    for (const p of e[distro].runtime) {
      runtime.push({
        package: p,
        for: key,
        why: e.kind === "wrapper" ? `${key} ${e.note ?? "calls it"}` : `${key}'s extension links it`,
      });
    }
  }
  return { build: dedupe(build), runtime: dedupe(runtime) };
}

function dedupe(needs: SystemNeed[]): SystemNeed[] {
  const seen = new Map<string, SystemNeed>();
  for (const n of needs) if (!seen.has(n.package)) seen.set(n.package, n);
  return [...seen.values()];
}
