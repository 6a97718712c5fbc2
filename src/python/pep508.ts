/**
 * PEP 508 dependency specifiers: `name[extra,…] (specifiers | @ url) ; marker`.
 * Parsed exactly (errors carry file:line:column), formatted canonically (format ∘ parse is stable).
 */
import {
  clip,
  evaluateMarker,
  formatMarker,
  type Marker,
  type MarkerEnvironment,
  parseOr,
  Scanner,
} from "./markers.js";
import { isValidVersion } from "./pep440.js";
import { normalizeName } from "./pep503.js";

export type SpecifierOp = "~=" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "===";

export interface VersionClause {
  readonly op: SpecifierOp;
  readonly version: string;
}

export interface Requirement {
  /** The name as written. */
  readonly name: string;
  /** PEP 503 normalized name. */
  readonly key: string;
  readonly extras: readonly string[];
  readonly specifier: readonly VersionClause[];
  readonly url?: string;
  readonly marker?: Marker;
}

const SPEC_OPS: readonly SpecifierOp[] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

function parseClause(s: Scanner): VersionClause {
  s.ws();
  const op = SPEC_OPS.find((o) => s.eat(o));
  if (!op) s.fail("expected a version comparison (==, !=, <=, >=, <, >, ~=, ===)");
  s.ws();
  const start = s.pos;
  const version = s.match(/[A-Za-z0-9_.*+!-]+/);
  if (!version) s.fail("expected a version");
  if (op === "===") return { op, version };
  const wildcard = version.endsWith(".*");
  if (wildcard && op !== "==" && op !== "!=") {
    s.pos = start;
    s.fail(`a wildcard version (${clip(version)}) is only allowed with == and !=`);
  }
  if (!isValidVersion(wildcard ? version.slice(0, -2) : version)) {
    s.pos = start;
    s.fail(`"${clip(version)}" is not a valid PEP 440 version`, "see PEP 440 for version syntax");
  }
  if (op === "~=" && !version.includes(".")) {
    s.pos = start;
    s.fail(`~= needs at least two version components (e.g. ~=${clip(version)}.0)`);
  }
  return { op, version };
}

function parseSpecifierList(s: Scanner): VersionClause[] {
  const out = [parseClause(s)];
  for (;;) {
    const save = s.pos;
    s.ws();
    if (!s.eat(",")) {
      s.pos = save;
      return out;
    }
    out.push(parseClause(s));
  }
}

/** Parses one PEP 508 requirement. `where` places errors in their file. */
export function parseRequirement(text: string, where: Scanner["where"] = {}): Requirement {
  const s: Scanner = new Scanner(text, where);
  s.ws();
  const name = s.match(/[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/);
  if (!name) s.fail("expected a project name");
  s.ws();
  const extras: string[] = [];
  if (s.eat("[")) {
    s.ws();
    if (!s.eat("]")) {
      for (;;) {
        s.ws();
        const extra = s.match(/[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/);
        if (!extra) s.fail("expected an extra name");
        extras.push(extra);
        s.ws();
        if (s.eat("]")) break;
        if (!s.eat(",")) s.fail("expected ',' or ']' in extras");
      }
    }
    s.ws();
  }
  let specifier: VersionClause[] = [];
  let url: string | undefined;
  if (s.eat("@")) {
    s.ws();
    const u = s.match(/[^ \t;]+/);
    if (!u || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u)) s.fail("expected a URL after '@'");
    url = u;
    // A URL must be followed by whitespace before a marker (PEP 508).
    if (!s.done) {
      const before = s.pos;
      s.ws();
      if (s.peek() === ";" && s.pos === before) s.fail("a URL requirement needs a space before ';'");
    }
  } else if (s.eat("(")) {
    specifier = parseSpecifierList(s);
    s.ws();
    if (!s.eat(")")) s.fail("expected ')' after the version specifier");
  } else {
    s.ws();
    if (/[<>=!~]/.test(s.peek())) specifier = parseSpecifierList(s);
  }
  s.ws();
  let marker: Marker | undefined;
  if (s.eat(";")) {
    marker = parseOr(s);
    s.ws();
  }
  if (!s.done) s.fail(`unexpected "${s.quotable.slice(s.pos, s.pos + 20)}"`);
  return {
    name,
    key: normalizeName(name),
    extras,
    specifier,
    url,
    marker,
  };
}

export function formatSpecifier(spec: readonly VersionClause[]): string {
  return spec.map((c) => `${c.op}${c.version}`).join(",");
}

/** Canonical text: `name[a,b]>=1,<2; marker` or `name[a] @ url ; marker`. */
export function formatRequirement(r: Requirement): string {
  let text = r.name;
  if (r.extras.length) text += `[${r.extras.join(",")}]`;
  if (r.url !== undefined) text += ` @ ${r.url}`;
  else text += formatSpecifier(r.specifier);
  if (r.marker) text += `${r.url !== undefined ? " " : ""}; ${formatMarker(r.marker)}`;
  return text;
}

/** The exact version when the requirement pins one (`==1.2.3` or `===x`), else undefined. */
export function pinnedVersion(r: Requirement): string | undefined {
  if (r.url !== undefined || r.specifier.length !== 1) return undefined;
  const c = r.specifier[0]!;
  if (c.op === "===" || (c.op === "==" && !c.version.endsWith(".*"))) return c.version;
  return undefined;
}

/** Whether the requirement applies in `env` (no marker: always). */
export function appliesTo(r: Requirement, env: MarkerEnvironment): boolean {
  return r.marker ? evaluateMarker(r.marker, env) : true;
}
