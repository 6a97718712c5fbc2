import { parse, TomlError } from "smol-toml";
import { SlimwheelError } from "../../errors.js";

export type TomlTable = Record<string, unknown>;

/** Parses TOML; a syntax error becomes `path:line:col: message` with the offending lines. */
export function parseToml(content: string, path: string): TomlTable {
  try {
    return parse(content) as TomlTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const [first, ...rest] = e.message.split("\n");
      throw new SlimwheelError(
        "input",
        (first ?? "invalid TOML").replace(/^Invalid TOML document: /, "invalid TOML: "),
        {
          location: `${path}:${e.line}:${e.column}`,
          details: rest.join("\n").replace(/^\n+|\n+$/g, ""),
          hint: "fix the TOML syntax (https://toml.io)",
          cause: e,
        },
      );
    }
    throw e;
  }
}

/** Offsets of the newlines of the last content asked about (readers ask many times about one file). */
let newlines: { content: string; at: number[] } | undefined;

/** The 1-based line where `needle` first appears in `content` (for pointing at a value). */
export function lineOf(content: string, needle: string, from = 0): number | undefined {
  const i = content.indexOf(needle, from);
  if (i < 0) return undefined;
  if (newlines?.content !== content) {
    const at: number[] = [];
    for (let j = content.indexOf("\n"); j >= 0; j = content.indexOf("\n", j + 1)) at.push(j);
    newlines = { content, at };
  }
  // Lines = 1 + newlines before i (binary search).
  const at = newlines.at;
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

export const isTable = (v: unknown): v is TomlTable =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
export const asString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const asStrings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/** A type error in a known field: `path:line: field must be …`. */
export function fieldError(path: string, content: string, field: string, expected: string): SlimwheelError {
  const key = field.split(".").at(-1)!;
  const line = lineOf(content, key);
  return new SlimwheelError("input", `${field} must be ${expected}`, {
    location: line ? `${path}:${line}` : path,
    hint: "check the field's type against its specification",
  });
}
