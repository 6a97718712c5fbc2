/** `slimwheel compare` output: a sorted terminal table with ratios against `full`, and an HTML report. */
import type { CompareReport, CompareRow } from "../pipeline/compare.js";

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

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
  ];
  const rows = sortedRows(report).map((r) => [
    r.strategy,
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
    for (const r of notes) out.push(`${r.strategy} ${r.status}: ${r.error!.split("\n")[0]}`);
  }
  return `${out.join("\n")}\n`;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function barChart(
  title: string,
  rows: CompareRow[],
  value: (r: CompareRow) => number | undefined,
  label: (n: number) => string,
  color: string,
): string {
  const data = rows.filter((r) => value(r) !== undefined);
  const max = Math.max(1, ...data.map((r) => value(r)!));
  const barH = 26;
  const left = 120;
  const width = 760;
  const height = data.length * (barH + 8) + 40;
  const bars = data
    .map((r, i) => {
      const v = value(r)!;
      const w = Math.max(2, ((width - left - 110) * v) / max);
      const y = 30 + i * (barH + 8);
      return `<text x="${left - 8}" y="${y + barH / 2 + 5}" text-anchor="end" class="lbl">${esc(r.strategy)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" rx="3" fill="${r.strategy === "slimwheel" ? "#2a9d5c" : color}"><title>${esc(r.strategy)}: ${esc(label(v))}</title></rect><text x="${left + w + 6}" y="${y + barH / 2 + 5}" class="val">${esc(label(v))}</text>`;
    })
    .join("\n");
  return `<figure><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${bars}</svg></figure>`;
}

/** A self-contained HTML report (no scripts, no external resources): bar charts and the table. */
export function compareHtml(report: CompareReport, generatedAt: string): string {
  const rows = sortedRows(report);
  const table = formatCompareTable(report);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>slimwheel compare: ${esc(report.project.name ?? "project")}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px 32px;color:#1d2433;background:#fff}
h1{font-size:22px;margin:0 0 4px} .sub{color:#5b6475;margin:0 0 18px}
figure{margin:18px 0} figcaption{font-weight:600;margin-bottom:4px}
.lbl{font-size:13px;fill:#1d2433} .val{font-size:12px;fill:#5b6475}
pre{background:#f5f7fa;padding:12px;border-radius:6px;overflow-x:auto;font-size:12.5px}
</style></head><body>
<h1>slimwheel compare: ${esc(report.project.name ?? "project")}</h1>
<p class="sub">Python ${esc(report.project.python)} · engine ${esc(report.engine.id)} ${esc(report.engine.version ?? "")} · warm rebuild after a one-line change to ${esc(report.changedFile ?? "–")} · ${esc(generatedAt)}</p>
${barChart("Image size (compressed, as pushed)", rows, (r) => r.compressedBytes, formatBytes, "#5a7bd8")}
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
<pre>${esc(table)}</pre>
</body></html>
`;
}
