/**
 * PEP 508 environment markers: parsed to a small tree, evaluated for a *target* environment (the
 * image being built), never for the machine slimwheel runs on. Also understands PEP 751's set
 * variables `extras` and `dependency_groups` (`"dev" in dependency_groups`).
 */
import { SlimwheelError } from "../errors.js";
import { maskKeepingColumns } from "../util/mask.js";
import { isValidVersion, satisfies } from "./pep440.js";
import { normalizeName } from "./pep503.js";

export const MARKER_VARIABLES = [
  "python_version",
  "python_full_version",
  "os_name",
  "sys_platform",
  "platform_release",
  "platform_system",
  "platform_version",
  "platform_machine",
  "platform_python_implementation",
  "implementation_name",
  "implementation_version",
  "extra",
  "extras",
  "dependency_groups",
] as const;
export type MarkerVariable = (typeof MARKER_VARIABLES)[number];

export type MarkerValue =
  | { readonly kind: "var"; readonly name: MarkerVariable }
  | { readonly kind: "str"; readonly value: string };
export type MarkerOp = "<=" | "<" | "!=" | "===" | "==" | ">=" | ">" | "~=" | "in" | "not in";
export type Marker =
  | {
      readonly type: "compare";
      readonly left: MarkerValue;
      readonly op: MarkerOp;
      readonly right: MarkerValue;
    }
  | { readonly type: "and" | "or"; readonly items: readonly Marker[] };

/** A target environment: values for every marker variable. */
export interface MarkerEnvironment {
  readonly python_version: string;
  readonly python_full_version: string;
  readonly os_name: string;
  readonly sys_platform: string;
  readonly platform_release: string;
  readonly platform_system: string;
  readonly platform_version: string;
  readonly platform_machine: string;
  readonly platform_python_implementation: string;
  readonly implementation_name: string;
  readonly implementation_version: string;
  /** The extra being evaluated (`extra == "x"`), or "" outside of extras. */
  readonly extra?: string;
  readonly extras?: readonly string[];
  readonly dependency_groups?: readonly string[];
}

/** The environment of a CPython Linux container image. */
export function linuxTarget(python: string, machine: "x86_64" | "aarch64" = "x86_64"): MarkerEnvironment {
  const full = /^\d+\.\d+$/.test(python) ? `${python}.0` : python;
  const short = full.split(".").slice(0, 2).join(".");
  return {
    python_version: short,
    python_full_version: full,
    os_name: "posix",
    sys_platform: "linux",
    platform_release: "",
    platform_system: "Linux",
    platform_version: "",
    platform_machine: machine,
    platform_python_implementation: "CPython",
    implementation_name: "cpython",
    implementation_version: full,
    extra: "",
    extras: [],
    dependency_groups: [],
  };
}

const OPS: readonly MarkerOp[] = ["<=", "<", "!=", "===", "==", ">=", ">", "~="];

/** A value quoted in a message, cut to `max` characters. */
export const clip = (value: string, max = 40): string =>
  value.length > max ? `${value.slice(0, max)}…` : value;

/** Characters of context shown on each side of an error's position. */
const EXCERPT = 60;

/**
 * The text around `pos` with a caret under it: at most EXCERPT characters on each side (a 10 MB
 * line must not become a 10 MB error message), `…` where it was cut.
 */
export function excerpt(text: string, pos: number): string {
  const from = Math.max(0, pos - EXCERPT);
  const to = Math.min(text.length, pos + EXCERPT);
  const head = from > 0 ? "…" : "";
  return `  ${head}${text.slice(from, to)}${to < text.length ? "…" : ""}\n  ${" ".repeat(head.length + pos - from)}^`;
}

/** A cursor over a string, shared by the requirement and marker parsers. */
export class Scanner {
  pos = 0;
  /** Open parentheses around the current position (markers). */
  depth = 0;
  constructor(
    readonly text: string,
    readonly where: { readonly file?: string; readonly line?: number; readonly column?: number } = {},
  ) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(n = 1): string {
    return this.text.slice(this.pos, this.pos + n);
  }
  ws(): void {
    while (this.pos < this.text.length && /[ \t]/.test(this.text[this.pos]!)) this.pos++;
  }
  eat(s: string): boolean {
    if (this.text.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  match(re: RegExp): string | undefined {
    const m = new RegExp(re.source, "y");
    m.lastIndex = this.pos;
    const r = m.exec(this.text);
    if (!r) return undefined;
    this.pos += r[0].length;
    return r[0];
  }
  /** The text with URL passwords masked (same length): what messages may quote. */
  get quotable(): string {
    return maskKeepingColumns(this.text);
  }
  fail(message: string, hint?: string): never {
    const column = (this.where.column ?? 1) + this.pos;
    const location = this.where.file
      ? `${this.where.file}:${this.where.line ?? 1}:${column}`
      : `column ${column}`;
    throw new SlimwheelError("input", message, {
      location,
      hint: hint ?? "see PEP 508 for the requirement syntax",
      details: excerpt(maskKeepingColumns(this.text), this.pos),
    });
  }
}

function parseValue(s: Scanner): MarkerValue {
  s.ws();
  const q = s.peek();
  if (q === "'" || q === '"') {
    s.pos++;
    const end = s.text.indexOf(q, s.pos);
    if (end < 0) s.fail("unterminated string in marker");
    const value = s.text.slice(s.pos, end);
    s.pos = end + 1;
    return { kind: "str", value };
  }
  const name = s.match(/[a-z_]+/);
  if (!name) s.fail("expected a marker variable or a quoted string");
  if (!(MARKER_VARIABLES as readonly string[]).includes(name)) {
    s.pos -= name.length;
    s.fail(`unknown marker variable "${clip(name)}"`, `known variables: ${MARKER_VARIABLES.join(", ")}`);
  }
  return { kind: "var", name: name as MarkerVariable };
}

function parseOp(s: Scanner): MarkerOp {
  s.ws();
  for (const op of OPS) if (s.eat(op)) return op;
  if (s.match(/in\b/)) return "in";
  if (s.match(/not[ \t]+in\b/)) return "not in";
  return s.fail("expected a marker operator (==, !=, <, <=, >, >=, ~=, ===, in, not in)");
}

/** Parentheses deeper than this are an input error, not a stack overflow (real markers nest 2 or 3). */
export const MAX_MARKER_DEPTH = 100;

function parseAtom(s: Scanner): Marker {
  s.ws();
  if (s.eat("(")) {
    if (++s.depth > MAX_MARKER_DEPTH) {
      s.pos--;
      s.fail(`marker parentheses nested deeper than ${MAX_MARKER_DEPTH}`);
    }
    const inner = parseOr(s);
    s.ws();
    if (!s.eat(")")) s.fail("expected ')' in marker");
    s.depth--;
    return inner;
  }
  const left = parseValue(s);
  const op = parseOp(s);
  const right = parseValue(s);
  return { type: "compare", left, op, right };
}

function parseAnd(s: Scanner): Marker {
  const items = [parseAtom(s)];
  for (;;) {
    const save = s.pos;
    s.ws();
    if (s.match(/and\b/)) items.push(parseAtom(s));
    else {
      s.pos = save;
      break;
    }
  }
  return items.length === 1 ? items[0]! : { type: "and", items };
}

export function parseOr(s: Scanner): Marker {
  const items = [parseAnd(s)];
  for (;;) {
    const save = s.pos;
    s.ws();
    if (s.match(/or\b/)) items.push(parseAnd(s));
    else {
      s.pos = save;
      break;
    }
  }
  return items.length === 1 ? items[0]! : { type: "or", items };
}

/** Parses a whole marker expression. */
export function parseMarker(text: string, where: Scanner["where"] = {}): Marker {
  const s: Scanner = new Scanner(text, where);
  const m = parseOr(s);
  s.ws();
  if (!s.done) s.fail("unexpected text after marker");
  return m;
}

function quote(v: string): string {
  return v.includes('"') ? `'${v}'` : `"${v}"`;
}

/** Canonical text of a marker (parses back to the same tree). */
export function formatMarker(m: Marker, nested = false): string {
  if (m.type === "compare") {
    const side = (v: MarkerValue) => (v.kind === "var" ? v.name : quote(v.value));
    return `${side(m.left)} ${m.op} ${side(m.right)}`;
  }
  const text = m.items.map((i) => formatMarker(i, true)).join(` ${m.type} `);
  return nested ? `(${text})` : text;
}

const VERSION_VARS = new Set<string>([
  "python_version",
  "python_full_version",
  "implementation_version",
  "platform_release",
]);

function resolve(v: MarkerValue, env: MarkerEnvironment): string | readonly string[] {
  if (v.kind === "str") return v.value;
  const value = env[v.name];
  return value ?? "";
}

function compare(m: Extract<Marker, { type: "compare" }>, env: MarkerEnvironment): boolean {
  const l = resolve(m.left, env);
  const r = resolve(m.right, env);
  if (m.op === "in" || m.op === "not in") {
    const contains = Array.isArray(r)
      ? (r as readonly string[]).map(normalizeName).includes(normalizeName(l as string))
      : (r as string).includes(l as string);
    return m.op === "in" ? contains : !contains;
  }
  if (Array.isArray(l) || Array.isArray(r)) return false;
  let ls = l as string;
  let rs = r as string;
  // `extra` compares normalized names (PEP 685).
  if (
    (m.left.kind === "var" && m.left.name === "extra") ||
    (m.right.kind === "var" && m.right.name === "extra")
  ) {
    ls = normalizeName(ls);
    rs = normalizeName(rs);
  }
  const versionish =
    (m.left.kind === "var" && VERSION_VARS.has(m.left.name)) ||
    (m.right.kind === "var" && VERSION_VARS.has(m.right.name));
  if (versionish && m.op !== "===" && isValidVersion(ls) && (isValidVersion(rs) || /\.\*$/.test(rs))) {
    try {
      return satisfies(ls, `${m.op}${rs}`);
    } catch {
      /* fall back to string comparison below */
    }
  }
  switch (m.op) {
    case "==":
    case "===":
      return ls === rs;
    case "!=":
      return ls !== rs;
    case "<":
      return ls < rs;
    case "<=":
      return ls <= rs;
    case ">":
      return ls > rs;
    case ">=":
      return ls >= rs;
    case "~=":
      return false;
  }
}

/** Evaluates a marker in a target environment. */
export function evaluateMarker(m: Marker, env: MarkerEnvironment): boolean {
  if (m.type === "compare") return compare(m, env);
  return m.type === "and"
    ? m.items.every((i) => evaluateMarker(i, env))
    : m.items.some((i) => evaluateMarker(i, env));
}

/** Extras referenced by `extra == "x"` anywhere in the marker. */
export function markerExtras(m: Marker): string[] {
  if (m.type === "compare") {
    if (m.left.kind === "var" && m.left.name === "extra" && m.right.kind === "str") return [m.right.value];
    if (m.right.kind === "var" && m.right.name === "extra" && m.left.kind === "str") return [m.left.value];
    return [];
  }
  return m.items.flatMap(markerExtras);
}
