/** `slimwheel inspect` output: the aligned terminal report, the HTML report, and `--fail-on`. */
import { SlimwheelError } from "../errors.js";
import { barChart, esc, formatBytes, htmlPage } from "../report/html.js";
import { FINDING_IDS, type FindingId } from "./findings.js";
import type { InspectReport } from "./inspect.js";

const MB = 1024 * 1024;
export const mb = (n: number) => `${(n / MB).toFixed(n > 0 && n < MB / 10 ? 2 : 1)} MB`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The instruction, without the shell prefix builders add, on one line. */
export function instruction(createdBy: string | null, max = 70): string {
  if (!createdBy) return "–";
  const s = createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s*/, "")
    .replace(/^\|\d+( \S+=\S*)* /, "")
    .replace(/^\/bin\/sh -c /, "RUN ")
    .replace(/\s+/g, " ")
    .trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function table(header: string[], rows: string[][], leftCols: number[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (leftCols.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

export function formatInspect(r: InspectReport): string {
  const t = r.totals;
  const out: string[] = [
    `${r.ref}  ${r.digest.slice(0, 19)}  ${r.platform ?? ""}  user: ${r.user === "" ? "(unset: root)" : r.user}`,
    `Python: ${r.interpreters.length ? r.interpreters.join(", ") : "no interpreter found"}  libc: ${r.libc}`,
    "",
    "Layers",
    ...table(
      ["#", "compressed", "uncompressed", "wasted", "added", "changed", "removed", "created by"],
      r.layers.map((l) => [
        String(l.index),
        mb(l.compressedBytes),
        mb(l.uncompressedBytes),
        mb(l.wastedBytes),
        String(l.added),
        String(l.changed),
        String(l.removed),
        instruction(l.createdBy),
      ]),
      [7],
    ),
    "",
    `Waste: ${mb(r.waste.bytes)} in ${r.waste.files} file${r.waste.files === 1 ? "" : "s"} overwritten or deleted by a later layer (counted once, in the layer that wrote them: what a squash saves)`,
  ];
  if (r.waste.top.length) {
    out.push(
      ...table(
        ["size", "path", "written", "removed", "how"],
        r.waste.top
          .slice(0, 10)
          .map((w) => [mb(w.bytes), w.path, `layer ${w.writtenIn}`, `layer ${w.removedIn}`, w.how]),
        [1, 4],
      ).map((l) => `  ${l}`),
    );
  }
  out.push("", `Findings (${r.findings.length})`);
  if (r.findings.length === 0) out.push("  none");
  const idWidth = Math.max(0, ...r.findings.map((f) => f.id.length));
  const sizeWidth = Math.max(0, ...r.findings.map((f) => mb(f.bytes).length));
  for (const f of r.findings) {
    out.push(
      `  ${f.id.padEnd(idWidth)}  ${mb(f.bytes).padStart(sizeWidth)}  ${String(f.count).padStart(6)} × ${f.title}`,
    );
    if (f.paths.length)
      out.push(
        `  ${" ".repeat(idWidth + sizeWidth + 2)}  e.g. ${f.paths.slice(0, 3).join(", ")}${f.count > 3 ? ", …" : ""}`,
      );
    out.push(`  ${" ".repeat(idWidth + sizeWidth + 2)}  fix: ${f.fix}`);
  }
  out.push(
    "",
    `Size: ${mb(t.compressedBytes)} compressed, ${mb(t.uncompressedBytes)} uncompressed; final files ${mb(t.finalBytes)}`,
    `Efficiency: ${pct(t.efficiency)} useful (${mb(t.usefulBytes)} of ${mb(t.uncompressedBytes)})`,
    `With every finding fixed: ~${mb(t.estimatedBytes)} uncompressed (~${mb(t.estimatedCompressedBytes)} compressed), saving ${mb(t.wastedBytes)} of waste and ${mb(t.findingsBytes)} of removable files`,
  );
  return `${out.join("\n")}\n`;
}

export function inspectHtml(r: InspectReport, generatedAt: string): string {
  const layerBars = r.layers.map((l) => ({
    label: `layer ${l.index}`,
    value: l.uncompressedBytes,
    highlight: l.wastedBytes > 0,
  }));
  const findingBars = r.findings.filter((f) => f.bytes > 0).map((f) => ({ label: f.id, value: f.bytes }));
  const t = r.totals;
  const rows = r.layers
    .map(
      (l) =>
        `<tr><td>${l.index}</td><td class="n">${mb(l.compressedBytes)}</td><td class="n">${mb(l.uncompressedBytes)}</td><td class="n">${mb(l.wastedBytes)}</td><td class="n">${l.added}</td><td class="n">${l.changed}</td><td class="n">${l.removed}</td><td><code>${esc(instruction(l.createdBy, 200))}</code></td></tr>`,
    )
    .join("\n");
  const findings = r.findings
    .map(
      (f) =>
        `<tr><td><code>${esc(f.id)}</code></td><td class="n">${mb(f.bytes)}</td><td class="n">${f.count}</td><td>${esc(f.title)}<br><small>${esc(f.paths.slice(0, 5).join(", "))}</small></td><td>${esc(f.fix)}</td></tr>`,
    )
    .join("\n");
  const waste = r.waste.top
    .map(
      (w) =>
        `<tr><td><code>${esc(w.path)}</code></td><td class="n">${mb(w.bytes)}</td><td class="n">${w.writtenIn}</td><td class="n">${w.removedIn}</td><td>${w.how}</td></tr>`,
    )
    .join("\n");
  return htmlPage(
    `slimwheel inspect: ${r.ref}`,
    `${r.digest} · ${r.platform ?? "?"} · user ${r.user || "(unset: root)"} · Python ${r.interpreters.join(", ") || "–"} · ${r.libc} · ${generatedAt}`,
    `<p><b>Efficiency ${pct(t.efficiency)}</b>: ${mb(t.usefulBytes)} useful of ${mb(t.uncompressedBytes)} uncompressed (${mb(t.compressedBytes)} compressed). Waste ${mb(t.wastedBytes)}; removable files ${mb(t.findingsBytes)}; with every finding fixed ~${mb(t.estimatedBytes)}.</p>
${barChart("Layers (uncompressed; orange: the layer wrote files a later layer removed)", layerBars, formatBytes, "#8aa2e3", "#d8895a")}
<table><tr><th>#</th><th>compressed</th><th>uncompressed</th><th>wasted</th><th>added</th><th>changed</th><th>removed</th><th>created by</th></tr>
${rows}</table>
<h2>Waste: ${mb(r.waste.bytes)} in ${r.waste.files} files</h2>
<table><tr><th>path</th><th>size</th><th>written in</th><th>removed in</th><th>how</th></tr>
${waste}</table>
<h2>Findings</h2>
${findingBars.length ? barChart("Findings (bytes)", findingBars, formatBytes, "#d8895a") : ""}
<table><tr><th>id</th><th>bytes</th><th>count</th><th>what</th><th>fix</th></tr>
${findings}</table>`,
    "table{border-collapse:collapse;margin:12px 0;font-size:13.5px} td,th{border-bottom:1px solid #e3e7ee;padding:4px 8px;text-align:left;vertical-align:top} td.n{text-align:right;white-space:nowrap} h2{font-size:18px;margin:24px 0 6px}\n",
  );
}

export type FailRule =
  | { readonly kind: "waste"; readonly bytes: number }
  | { readonly kind: "finding"; readonly id: FindingId };

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1024,
  k: 1024,
  mb: MB,
  m: MB,
  gb: MB * 1024,
  g: MB * 1024,
};

/** Parses `--fail-on waste>50MB,root,compiler`. */
export function parseFailOn(text: string): FailRule[] {
  const rules: FailRule[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const w = /^waste\s*>\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(item);
    if (w) {
      const unit = UNITS[w[2]!.toLowerCase()];
      if (unit === undefined)
        throw new SlimwheelError("usage", `--fail-on: unknown size unit "${w[2]}" in "${item}"`, {
          hint: "sizes are like 50MB, 1.5GB, 200KB or a number of bytes",
        });
      rules.push({ kind: "waste", bytes: Number(w[1]) * unit });
      continue;
    }
    if ((FINDING_IDS as readonly string[]).includes(item)) {
      rules.push({ kind: "finding", id: item as FindingId });
      continue;
    }
    throw new SlimwheelError("usage", `--fail-on: unknown rule "${item}"`, {
      hint: `use waste>SIZE (e.g. waste>50MB) or finding ids: ${FINDING_IDS.join(", ")}`,
    });
  }
  return rules;
}

/** The rules the report breaks, as sentences. */
export function failures(r: InspectReport, rules: readonly FailRule[]): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    if (rule.kind === "waste") {
      if (r.waste.bytes > rule.bytes) out.push(`waste ${mb(r.waste.bytes)} > ${mb(rule.bytes)}`);
    } else {
      const f = r.findings.find((x) => x.id === rule.id);
      if (f) out.push(`${f.id}: ${f.title}${f.bytes ? ` (${mb(f.bytes)})` : ""}`);
    }
  }
  return out;
}
