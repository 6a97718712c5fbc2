/**
 * The minimal runtime in words: what each layer kept and what each group dropped, with bytes —
 * one formatter for `build`, `plan` and the bench, so they say it the same way.
 */
import type { Closure } from "../minimize/index.js";
import type { RuntimePreview } from "../pipeline/runtime-preview.js";

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/**
 * A layer's file count, from its tally by reason (which counts each kept file once): a cached
 * closure's file lists are read from disk only when a list itself is needed.
 */
const keptFiles = (l: Closure["layers"][number]): number =>
  Object.values(l.byReason).reduce((n, r) => n + (r?.files ?? 0), 0);

/** Lines like `kept    runtime 41.2 MB · system 3.1 MB …` and `dropped shell & tools 12.0 MB (310 files) …`. */
export function runtimeLines(closure: Pick<Closure, "layers" | "dropped">): string[] {
  const kept = closure.layers.reduce((n, l) => n + l.bytes, 0);
  const dropped = closure.dropped.filter((d) => d.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  const droppedBytes = dropped.reduce((n, d) => n + d.bytes, 0);
  return [
    `kept ${mb(kept)}: ${closure.layers.map((l) => `${l.role} ${mb(l.bytes)}`).join(", ")}`,
    `dropped ${mb(droppedBytes)}: ${dropped.map((d) => `${d.group} ${mb(d.bytes)} (${d.files} files)`).join(", ") || "nothing"}`,
  ];
}

/** The same, for `--json`: bytes and file counts per layer and per dropped group. */
export function runtimeJson(closure: Pick<Closure, "layers" | "dropped">) {
  return {
    layers: closure.layers.map((l) => ({ role: l.role, bytes: l.bytes, files: keptFiles(l) })),
    dropped: closure.dropped.map((d) => ({ group: d.group, bytes: d.bytes, files: d.files })),
  };
}

/** `plan --json`'s `runtime`: the kind, the base image and, when it could be read, the bytes by group. */
export function runtimeDocument(
  kind: "minimal" | "slim",
  image: string,
  preview: RuntimePreview | undefined,
) {
  return {
    kind,
    image,
    measured: preview?.measured ?? false,
    ...(preview?.measured ? runtimeJson(preview.closure) : {}),
    ...(preview && !preview.measured ? { note: preview.why } : {}),
  };
}

const GROUPS_IN_WORDS =
  "shell & tools (sh, coreutils, perl), package manager (apt, dpkg), docs, Python tooling (pip, setuptools, wheel unless required), stdlib parts (test, idlelib, tkinter, turtledemo, ensurepip, lib2to3), stale bytecode (.pyc files Python would recompile anyway), libraries nothing links";

/** `plan`'s Runtime section. */
export function formatRuntime(
  kind: "minimal" | "slim",
  strategy: string,
  image: string,
  preview: RuntimePreview | undefined,
  style: { bold: (s: string) => string; dim: (s: string) => string },
): string {
  const head = `${style.bold("Runtime".padEnd(13))}`;
  if (kind === "slim")
    return `${head}slim: ${image} as it is${strategy === "slimwheel" ? " (--runtime minimal keeps only what the app runs)" : ""}\n`;
  const out = [
    `${head}minimal: only what the app runs, cut from ${image} and proven by the import, smoke and boot tests`,
  ];
  if (preview?.measured) {
    const [kept, dropped] = runtimeLines(preview.closure);
    out.push(`  base ${kept}`, `  base ${dropped}`);
    out.push(
      style.dim(
        "  the dependencies' files and libraries are added by build, which reports the final figures",
      ),
    );
  } else {
    out.push(`  drops: ${GROUPS_IN_WORDS}`);
    if (preview) out.push(style.dim(`  bytes: ${preview.why}; build reports them`));
  }
  return `${out.join("\n")}\n`;
}
