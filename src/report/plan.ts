/**
 * What `slimwheel plan` prints: the Project as a versioned JSON document (schema/plan.schema.json)
 * or as sections for a person, each with its "why".
 */
import type { Project } from "../project/read.js";
import { withoutCredentials } from "../project/sources/requirements/index.js";
import type { IndexSettings } from "../project/types.js";
import { knownNeeds, usedModules } from "../sysdeps/known-packages.js";
import { maskSecrets } from "../util/mask.js";

/** System packages the table (and [tool.slimwheel]) say the project needs; `build` confirms runtime ones from the built wheels. */
export function systemPackages(p: Project) {
  const known = knownNeeds(
    p.dependencies.requirements.map((r) => r.key),
    "debian",
    usedModules(p.frameworks),
  );
  const runtime = [
    ...known.runtime.map((n) => ({ name: n.package, why: n.why })),
    ...(p.config.runtimePackages ?? []).map((name) => ({ name, why: "[tool.slimwheel] runtime-packages" })),
  ];
  const build = [
    ...known.build.map((n) => ({ name: n.package, why: n.why })),
    ...(p.config.buildPackages ?? []).map((name) => ({ name, why: "[tool.slimwheel] build-packages" })),
  ];
  return { runtime, build };
}

export const PLAN_SCHEMA_VERSION = 1;

/** Index settings with any user:password in a URL replaced by variables (never printed). */
function redactIndexes(ix: IndexSettings): IndexSettings {
  const clean = (u: string) => withoutCredentials(u).url;
  return {
    ...ix,
    indexUrl: ix.indexUrl ? clean(ix.indexUrl) : undefined,
    extraIndexUrls: ix.extraIndexUrls.map(clean),
  };
}

export function planDocument(p: Project) {
  const d = p.dependencies;
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    project: { dir: p.dir, name: p.name ?? null, version: p.version ?? null },
    python: { version: p.python.version, from: p.python.from, reason: p.python.reason },
    target: { os: "linux", arch: p.target.arch, python: p.python.version },
    dependencies: {
      source: d.source,
      file: d.file ?? null,
      files: d.files,
      reason: d.reason,
      locked: d.locked,
      count: d.requirements.length,
      allPinned: d.allPinned,
      hashes: d.hashes,
      requirements: d.requirements.map((r) => ({
        name: r.name,
        key: r.key,
        specifier: r.specifier,
        version: r.version ?? null,
        extras: r.extras,
        url: r.url ?? null,
        marker: r.marker ?? null,
        hashes: r.hashes,
        editable: r.editable ?? false,
        at: r.at,
      })),
      references: d.references.map((r) => ({
        kind: r.kind,
        target: r.target,
        name: r.name ?? null,
        editable: r.editable,
        at: `${r.at.file}:${r.at.line ?? ""}`,
      })),
      skipped: d.skipped,
      leftOut: d.leftOut.map((l) => ({ name: l.name, version: l.version ?? null, reason: l.reason })),
      selection: d.selection,
      hashChecking: d.hashChecking,
      includes: d.includes.map((i) => ({ path: i.path, kind: i.kind, from: i.from ?? null })),
      indexes: d.indexes ? redactIndexes(d.indexes) : null,
    },
    start: p.start
      ? { command: p.start.command, shell: p.start.shell, reason: p.start.reason, port: p.start.port ?? null }
      : null,
    systemPackages: {
      ...systemPackages(p),
      note: "from slimwheel's table and [tool.slimwheel]; `slimwheel build` also reads the built wheels' ELF dependencies",
    },
    frameworks: p.frameworks,
    buildSteps: p.buildSteps,
    installable: p.installable
      ? { reason: p.installable.reason, backend: p.installable.buildSystem?.backend ?? null }
      : null,
    sources: p.sources,
    context: {
      files: p.context.files.length,
      bytes: p.context.bytes,
      dockerignore: p.context.dockerignore ?? null,
      secrets: p.context.secrets,
    },
    config: {
      ...p.config,
      indexUrl: p.config.indexUrl === undefined ? undefined : maskSecrets(p.config.indexUrl),
    },
    warnings: p.warnings.map((w) => ({ message: w.message, at: w.at ?? null })),
  };
}
export type PlanDocument = ReturnType<typeof planDocument>;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatPlan(
  p: Project,
  style: { bold: (s: string) => string; dim: (s: string) => string; yellow: (s: string) => string },
): string {
  const out: string[] = [];
  const why = (s: string) => out.push(style.dim(`  why: ${s}`));
  const head = (title: string, value: string) => out.push(`${style.bold(title.padEnd(13))}${value}`);

  head("Project", `${p.name ?? "(unnamed)"}${p.version ? ` ${p.version}` : ""}  ${style.dim(p.dir)}`);
  head("Python", `${p.python.version}  (linux/${p.target.arch})`);
  why(p.python.reason);

  const d = p.dependencies;
  const pinning = d.locked ? "locked" : d.allPinned ? "all pinned" : "not all pinned";
  const hashes = d.hashChecking
    ? "with hashes"
    : d.hashes === "some"
      ? "some with hashes: not used"
      : d.hashes === "all"
        ? "hashes not usable"
        : "no hashes";
  head("Dependencies", `${d.requirements.length} from ${d.file ?? "nowhere"} (${pinning}, ${hashes})`);
  why(d.reason);
  for (const r of d.requirements) {
    const spec = r.url ? ` @ ${r.url}` : r.specifier;
    out.push(
      `  ${r.name}${r.extras.length ? `[${r.extras.join(",")}]` : ""}${spec}${r.marker ? style.dim(`  ; ${r.marker}`) : ""}${r.editable ? style.dim("  (editable)") : ""}`,
    );
  }
  for (const ref of d.references)
    out.push(`  ${ref.target}${style.dim(`  (${ref.kind}${ref.editable ? ", editable" : ""})`)}`);
  if (d.skipped.length) {
    out.push(
      style.dim(`  not for this target: ${d.skipped.map((s) => `${s.name} (${s.marker})`).join(", ")}`),
    );
  }
  if (d.selection.groups.length || d.selection.extras.length) {
    const asked = [
      ...d.selection.groups.map((g) => `group ${g}`),
      ...d.selection.extras.map((x) => `extra ${x}`),
    ];
    out.push(style.dim(`  also installed: ${asked.join(", ")}`));
  }
  if (d.leftOut.length) {
    out.push(style.dim(`  left out (${d.leftOut.length}):`));
    for (const l of d.leftOut)
      out.push(style.dim(`    ${l.name}${l.version ? ` ${l.version}` : ""}: ${l.reason}`));
  }
  if (d.includes.length > 1) {
    out.push(
      style.dim(
        `  files: ${d.includes.map((i) => (i.from ? `${i.path} (${i.kind === "constraints" ? "-c" : "-r"} from ${i.from})` : i.path)).join(", ")}`,
      ),
    );
  }
  if (d.indexes?.indexUrl || d.indexes?.extraIndexUrls.length) {
    const ix = redactIndexes(d.indexes);
    out.push(style.dim(`  index: ${[ix.indexUrl, ...ix.extraIndexUrls].filter(Boolean).join(", ")}`));
  }
  if (p.installable) {
    head("Package", "the project itself is installed as a wheel");
    why(p.installable.reason);
  }

  if (p.start) {
    head("Start", p.start.command);
    why(p.start.reason);
  } else {
    head("Start", style.yellow("(none found)"));
  }
  const sys = systemPackages(p);
  head(
    "System",
    sys.runtime.length || sys.build.length
      ? ""
      : "no system packages known to be needed (build confirms from the built wheels)",
  );
  for (const r of sys.runtime) out.push(`  runtime ${r.name} ← ${r.why}`);
  for (const b of sys.build) out.push(style.dim(`  build   ${b.name} ← ${b.why}`));
  for (const step of p.buildSteps) {
    head("Build step", step.command);
    why(step.why);
  }
  if (p.frameworks.length) head("Frameworks", p.frameworks.map((f) => `${f.name} (${f.reason})`).join(", "));
  head(
    "Context",
    `${p.context.files.length} files, ${bytes(p.context.bytes)}${p.context.dockerignore ? " after .dockerignore" : " (no .dockerignore)"}`,
  );
  if (p.warnings.length) {
    out.push(style.bold("Warnings"));
    for (const w of p.warnings) out.push(style.yellow(`  ! ${w.at ? `${w.at}: ` : ""}${w.message}`));
  }
  return `${out.join("\n")}\n`;
}
