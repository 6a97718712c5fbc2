/** `slimwheel compare` output: a sorted terminal table with ratios against `full`, and an HTML report. */
import { type CompareReport, type CompareRow, rowLabel } from "../pipeline/compare.js";
import { barChart as bars, esc, formatBytes, htmlPage } from "./html.js";

export { formatBytes };

const seconds = (ms: number | undefined) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);

/** Rows that built, smallest first; then the others. */
export function sortedRows(report: CompareReport): CompareRow[] {
  const built = report.rows
    .filter((r) => r.compressedBytes !== undefined)
    .sort((a, b) => a.compressedBytes! - b.compressedBytes!);
  return [...built, ...report.rows.filter((r) => r.compressedBytes === undefined)];
}

export function formatCompareTable(report: CompareReport): string {
  const full = report.rows.find((r) => r.strategy === "full" && r.compressedBytes !== undefined);
  const header = [
    "strategy",
    "compressed",
    "uncompressed",
    "vs full",
    "layers",
    "cold build",
    "warm rebuild",
    "layers rebuilt",
    "smoke",
    "compilers+headers",
    "waste",
  ];
  const rows = sortedRows(report).map((r) => [
    rowLabel(r),
    formatBytes(r.compressedBytes),
    formatBytes(r.uncompressedBytes),
    full && r.compressedBytes !== undefined
      ? `${((r.compressedBytes / full.compressedBytes!) * 100).toFixed(0)}%`
      : "–",
    r.layers === undefined ? "–" : String(r.layers),
    seconds(r.coldMs),
    seconds(r.warmMs),
    r.changedLayers === undefined ? "–" : `${r.changedLayers}/${r.layers}`,
    r.status === "refused" ? "refused" : r.smoke ? (r.smoke.ok ? "pass" : "FAIL") : "FAIL",
    formatBytes(r.toolchainBytes),
    formatBytes(r.wasteBytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [
    `${report.project.name ?? "project"} (Python ${report.project.python}) with ${report.engine.id} ${report.engine.version ?? ""}; warm rebuild after a one-line change to ${report.changedFile ?? "(no file)"}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  const notes = report.rows.filter((r) => r.error);
  if (notes.length) {
    out.push("");
    for (const r of notes) out.push(`${rowLabel(r)} ${r.status}: ${r.error!.split("\n")[0]}`);
  }
  return `${out.join("\n")}\n`;
}

function barChart(
  title: string,
  rows: CompareRow[],
  value: (r: CompareRow) => number | undefined,
  label: (n: number) => string,
  color: string,
): string {
  const data = rows
    .filter((r) => value(r) !== undefined)
    .map((r) => ({ label: rowLabel(r), value: value(r)!, highlight: r.strategy === "slimwheel" }));
  return bars(title, data, label, color);
}

/** A self-contained HTML report (no scripts, no external resources): bar charts and the table. */
export function compareHtml(report: CompareReport, generatedAt: string): string {
  const rows = sortedRows(report);
  const table = formatCompareTable(report);
  return htmlPage(
    `slimwheel compare: ${report.project.name ?? "project"}`,
    `Python ${report.project.python} · engine ${report.engine.id} ${report.engine.version ?? ""} · warm rebuild after a one-line change to ${report.changedFile ?? "–"} · ${generatedAt}`,
    `${barChart("Image size (compressed, as pushed)", rows, (r) => r.compressedBytes, formatBytes, "#5a7bd8")}
${barChart("Image size (uncompressed, on disk)", rows, (r) => r.uncompressedBytes, formatBytes, "#8aa2e3")}
${barChart(
  "Cold build (no cache)",
  rows,
  (r) => r.coldMs,
  (n) => seconds(n),
  "#d8895a",
)}
${barChart(
  "Warm rebuild after a one-line change",
  rows,
  (r) => r.warmMs,
  (n) => seconds(n),
  "#e3b08a",
)}
<pre>${esc(table)}</pre>`,
  );
}
