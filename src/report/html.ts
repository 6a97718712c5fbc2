/** What the text and HTML reports share: byte sizes, HTML escaping, bar charts and the page frame. */

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Drawn in the highlight color. */
  readonly highlight?: boolean;
}

/** A horizontal bar chart as inline SVG. */
export function barChart(
  title: string,
  bars: readonly Bar[],
  label: (n: number) => string,
  color: string,
  highlight = "#2a9d5c",
): string {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const barH = 26;
  const left = 120;
  const width = 760;
  const height = bars.length * (barH + 8) + 40;
  const body = bars
    .map((b, i) => {
      const w = Math.max(2, ((width - left - 110) * b.value) / max);
      const y = 30 + i * (barH + 8);
      return `<text x="${left - 8}" y="${y + barH / 2 + 5}" text-anchor="end" class="lbl">${esc(b.label)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" rx="3" fill="${b.highlight ? highlight : color}"><title>${esc(b.label)}: ${esc(label(b.value))}</title></rect><text x="${left + w + 6}" y="${y + barH / 2 + 5}" class="val">${esc(label(b.value))}</text>`;
    })
    .join("\n");
  return `<figure><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${body}</svg></figure>`;
}

/** A self-contained page (no scripts, no external resources): heading, subtitle, body. */
export function htmlPage(title: string, subtitle: string, body: string, extraCss = ""): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px 32px;color:#1d2433;background:#fff}
h1{font-size:22px;margin:0 0 4px} .sub{color:#5b6475;margin:0 0 18px}
figure{margin:18px 0} figcaption{font-weight:600;margin-bottom:4px}
.lbl{font-size:13px;fill:#1d2433} .val{font-size:12px;fill:#5b6475}
pre{background:#f5f7fa;padding:12px;border-radius:6px;overflow-x:auto;font-size:12.5px}
${extraCss}</style></head><body>
<h1>${esc(title)}</h1>
<p class="sub">${esc(subtitle)}</p>
${body}
</body></html>
`;
}
