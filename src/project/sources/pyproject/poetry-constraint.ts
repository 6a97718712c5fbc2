/**
 * Poetry's version constraints (`^1.2`, `~1.2.3`, `1.2.*`, `>=1,<2`, `1.2 || 1.4`) as PEP 440
 * specifiers. A union (`||`) has no PEP 440 form: its first alternative is used and the caller
 * warns.
 */
export interface TranslatedConstraint {
  readonly specifier: string;
  /** True when part of the constraint could not be expressed (a `||` union). */
  readonly approximated: boolean;
}

function parts(v: string): number[] {
  return v
    .split(".")
    .map((p) => Number.parseInt(p, 10))
    .filter((n) => !Number.isNaN(n));
}

function caret(v: string): string {
  const p = parts(v);
  const i = p.findIndex((n) => n !== 0);
  const upper = i < 0 ? [0, ...p.slice(1, p.length - 1), (p.at(-1) ?? 0) + 1] : [...p.slice(0, i), p[i]! + 1];
  return `>=${v},<${upper.join(".")}`;
}

function tilde(v: string): string {
  const p = parts(v);
  const upper = p.length === 1 ? [p[0]! + 1] : [p[0]!, p[1]! + 1];
  return `>=${v},<${upper.join(".")}`;
}

function one(c: string): string {
  const t = c.trim();
  if (t === "" || t === "*") return "";
  if (t.startsWith("^")) return caret(t.slice(1).trim());
  if (t.startsWith("~") && !t.startsWith("~=")) return tilde(t.slice(1).trim());
  return t
    .split(/\s*,\s*|\s+(?=[<>=!~])/)
    .map((s) => (/^[0-9]/.test(s) ? `==${s}` : s.replace(/^=(?!=)/, "==")))
    .join(",");
}

export function poetryToPep440(constraint: string): TranslatedConstraint {
  const alternatives = constraint.split("||");
  return { specifier: one(alternatives[0]!), approximated: alternatives.length > 1 };
}
