/**
 * Installed distributions: `*.dist-info/RECORD` (PEP 376/627, CSV: path,hash,size; paths relative
 * to the site directory, may climb out with `../../bin/...`) and legacy `*.egg-info` with
 * `installed-files.txt` (paths relative to the egg-info directory).
 */
import { posix } from "node:path";

/** RFC 4180 CSV rows (quoted fields, doubled quotes, CRLF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.some((f) => f !== "")) rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== "")) rows.push(row);
  return rows;
}

/** Absolute paths a RECORD names, given the site directory it lives in. */
export function recordPaths(recordText: string, siteDir: string): string[] {
  return parseCsv(recordText)
    .map((r) => r[0] ?? "")
    .filter((p) => p !== "")
    .map((p) => posix.normalize(posix.isAbsolute(p) ? p : posix.join(siteDir, p)));
}

/** Absolute paths an egg-info's installed-files.txt names (relative to the egg-info dir). */
export function installedFilesPaths(text: string, eggInfoDir: string): string[] {
  const out = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((p) => posix.normalize(posix.isAbsolute(p) ? p : posix.join(eggInfoDir, p)));
  return [...out, eggInfoDir];
}

/** PEP 503 normalised name. */
export const normalizeName = (n: string) => n.toLowerCase().replace(/[-_.]+/g, "-");

/** Name and run-time Requires-Dist names (no extras-only requirements) from METADATA / PKG-INFO. */
export function parseMetadata(text: string): { name: string; requires: string[] } {
  const head = text.split(/\r?\n\r?\n/)[0] ?? "";
  let name = "";
  const requires: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1]!.toLowerCase() === "name") name = m[2]!.trim();
    if (m[1]!.toLowerCase() === "requires-dist") {
      const [spec, marker = ""] = m[2]!.split(";");
      if (/\bextra\s*==/.test(marker)) continue;
      const req = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(spec ?? "");
      if (req) requires.push(normalizeName(req[1]!));
    }
  }
  return { name: normalizeName(name), requires };
}
