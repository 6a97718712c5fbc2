/**
 * requirements.txt, with pip's syntax: `-r`/`-c` includes, `-e`, index options, `--hash`,
 * environment markers, `\` continuations, comments, and URL / VCS / local-path requirements.
 * Reference: pip's "Requirements File Format". Includes are resolved by readProject (I/O).
 */
import { SlimwheelError } from "../../../errors.js";
import { formatRequirement, parseRequirement } from "../../../python/pep508.js";
import type {
  DeclaredRequirement,
  DirectReference,
  IndexSettings,
  PipOptions,
  SourceFacts,
  SourceFormat,
  SourceWarning,
} from "../../types.js";

/** Index and pip options gathered from one or more requirements files (later files win for -i). */
class PipSettings {
  indexUrl: string | undefined;
  readonly extraIndexUrls: string[] = [];
  readonly findLinks: string[] = [];
  readonly trustedHosts: string[] = [];
  noIndex = false;
  readonly noBinary: string[] = [];
  readonly onlyBinary: string[] = [];
  preferBinary = false;
  pre = false;
  requireHashes = false;

  merge(f: Pick<SourceFacts, "indexes" | "pipOptions">): void {
    if (f.indexes?.indexUrl) this.indexUrl = f.indexes.indexUrl;
    this.extraIndexUrls.push(...(f.indexes?.extraIndexUrls ?? []));
    this.findLinks.push(...(f.indexes?.findLinks ?? []));
    this.trustedHosts.push(...(f.indexes?.trustedHosts ?? []));
    this.noIndex ||= f.indexes?.noIndex ?? false;
    if (!f.pipOptions) return;
    this.noBinary.push(...f.pipOptions.noBinary);
    this.onlyBinary.push(...f.pipOptions.onlyBinary);
    this.preferBinary ||= f.pipOptions.preferBinary;
    this.pre ||= f.pipOptions.pre;
    this.requireHashes ||= f.pipOptions.requireHashes;
  }

  get indexes(): IndexSettings {
    const { extraIndexUrls, findLinks, trustedHosts, noIndex } = this;
    return {
      indexUrl: this.indexUrl,
      extraIndexUrls,
      findLinks,
      trustedHosts,
      noIndex,
    };
  }

  get pipOptions(): PipOptions {
    const { noBinary, onlyBinary, preferBinary, pre, requireHashes } = this;
    return { noBinary, onlyBinary, preferBinary, pre, requireHashes };
  }
}

interface LogicalLine {
  readonly text: string;
  /** Line number of the first physical line. */
  readonly line: number;
}

/** Joins `\` continuations and strips comments (`#` at the start or after whitespace). */
export function logicalLines(content: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = content.replace(/\r\n?/g, "\n").split("\n");
  let buffer = "";
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i]!;
    if (buffer === "") start = i + 1;
    if (/(^|[^\\])\\$/.test(raw) && !/(^|\s)#/.test(raw)) {
      buffer += raw.slice(0, -1);
      continue;
    }
    buffer += raw;
    const text = buffer.replace(/(^|\s)#.*$/, "").trim();
    buffer = "";
    if (text) out.push({ text, line: start });
  }
  if (buffer.trim()) out.push({ text: buffer.trim(), line: start });
  return out;
}

/** Options that take a value, by every spelling pip accepts. */
const VALUE_OPTIONS: Record<string, string> = {
  "-r": "requirement",
  "--requirement": "requirement",
  "-c": "constraint",
  "--constraint": "constraint",
  "-e": "editable",
  "--editable": "editable",
  "-i": "index-url",
  "--index-url": "index-url",
  "--extra-index-url": "extra-index-url",
  "-f": "find-links",
  "--find-links": "find-links",
  "--trusted-host": "trusted-host",
  "--no-binary": "no-binary",
  "--only-binary": "only-binary",
  "--use-feature": "use-feature",
};
const FLAG_OPTIONS: Record<string, string> = {
  "--no-index": "no-index",
  "--pre": "pre",
  "--prefer-binary": "prefer-binary",
  "--require-hashes": "require-hashes",
};
/** Per-requirement options that may follow a requirement on its line. */
const PER_REQUIREMENT = new Set(["--hash", "--config-settings", "-C", "--global-option", "--install-option"]);

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

const URL_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const VCS_RE = /^(git|hg|svn|bzr)\+/;

function directReference(
  target: string,
  editable: boolean,
  at: { file: string; line: number },
): DirectReference {
  const egg = /[#&]egg=([A-Za-z0-9._-]+)/.exec(target)?.[1];
  const kind = VCS_RE.test(target) ? "vcs" : URL_RE.test(target) ? "url" : "path";
  return { kind, target, editable, at, name: egg };
}

/** Whether a line is a path or URL rather than a PEP 508 requirement (pip's heuristic). */
function looksLikeReference(first: string): boolean {
  if (URL_RE.test(first) || VCS_RE.test(first)) return true;
  if (first.startsWith(".") || first.startsWith("/") || first.startsWith("~")) return true;
  return /\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar)$/.test(first) && !first.includes(" @ ");
}

export function parse(content: string, path: string): SourceFacts {
  const requirements: DeclaredRequirement[] = [];
  const directReferences: DirectReference[] = [];
  const includes: {
    kind: "requirements" | "constraints";
    path: string;
    at: { file: string; line: number };
  }[] = [];
  const warnings: SourceWarning[] = [];
  const settings = new PipSettings();
  const physical = content.split(/\r?\n/);
  for (const { text, line } of logicalLines(content)) {
    const at = { file: path, line };
    if (text.startsWith("-")) {
      // A global option line: `--opt value`, `--opt=value` or `-rfile`.
      const m =
        /^(--?[A-Za-z-]+?)(?:=|\s+|(?<=^-[a-zA-Z])(?=\S))(.*)$/.exec(text) ?? /^(--?[A-Za-z-]+)$/.exec(text);
      const opt = m?.[1] ?? text;
      const value = (m?.[2] ?? "").trim();
      const valueName = VALUE_OPTIONS[opt];
      const flagName = FLAG_OPTIONS[opt];
      if (valueName) {
        if (!value) {
          throw new SlimwheelError("input", `${opt} needs a value`, {
            location: `${path}:${line}`,
            hint: `write "${opt} VALUE"`,
          });
        }
        switch (valueName) {
          case "requirement":
            includes.push({ kind: "requirements", path: value, at });
            break;
          case "constraint":
            includes.push({ kind: "constraints", path: value, at });
            break;
          case "editable": {
            const target = splitWords(value)[0]!;
            if (looksLikeReference(target)) directReferences.push(directReference(target, true, at));
            else
              requirements.push({
                requirement: parseRequirement(target, { file: path, line, column: 1 }),
                at,
                editable: true,
              });
            break;
          }
          case "index-url":
            settings.indexUrl = value;
            break;
          case "extra-index-url":
            settings.extraIndexUrls.push(value);
            break;
          case "find-links":
            settings.findLinks.push(value);
            break;
          case "trusted-host":
            settings.trustedHosts.push(value);
            break;
          case "no-binary":
            settings.noBinary.push(...value.split(","));
            break;
          case "only-binary":
            settings.onlyBinary.push(...value.split(","));
            break;
          case "use-feature":
            break;
        }
      } else if (flagName && !value) {
        if (flagName === "no-index") settings.noIndex = true;
        else if (flagName === "pre") settings.pre = true;
        else if (flagName === "prefer-binary") settings.preferBinary = true;
        else if (flagName === "require-hashes") settings.requireHashes = true;
      } else {
        warnings.push({ message: `unknown pip option "${opt}" ignored`, at });
      }
      continue;
    }

    // A requirement, possibly followed by per-requirement options (` --hash=sha256:…`).
    const optionAt = text.search(/\s--?[A-Za-z]/);
    const reqText = optionAt >= 0 ? text.slice(0, optionAt).trim() : text;
    const optionText = optionAt >= 0 ? text.slice(optionAt).trim() : "";
    const hashes: string[] = [];
    const words = splitWords(optionText);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const [opt, inline] = w.includes("=")
        ? [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]
        : [w, undefined];
      if (!PER_REQUIREMENT.has(opt)) {
        warnings.push({ message: `unknown per-requirement option "${opt}" ignored`, at });
        continue;
      }
      const value = inline ?? words[++i];
      if (value === undefined)
        throw new SlimwheelError("input", `${opt} needs a value`, { location: `${path}:${line}` });
      if (opt === "--hash") {
        if (!/^(sha256|sha384|sha512):[0-9a-f]+$/i.test(value)) {
          throw new SlimwheelError("input", `"${value}" is not a hash (expected sha256:<hex>)`, {
            location: `${path}:${line}`,
            hint: "pip accepts --hash=sha256:…, sha384:… or sha512:…",
          });
        }
        hashes.push(value);
      }
    }
    if (looksLikeReference(reqText.split(/[ ;]/)[0]!)) {
      directReferences.push(directReference(reqText.split(/\s*;/)[0]!.trim(), false, at));
      continue;
    }
    const column = physical[line - 1]?.indexOf(reqText.slice(0, 10)) ?? 0;
    const requirement = parseRequirement(reqText, { file: path, line, column: Math.max(column, 0) + 1 });
    requirements.push({ requirement, at, hashes: hashes.length ? hashes : undefined });
  }

  if (settings.requireHashes || requirements.some((r) => r.hashes)) {
    const missing = requirements.filter((r) => !r.hashes?.length && !r.editable);
    if (missing.length && requirements.some((r) => r.hashes?.length)) {
      warnings.push({
        message: `${missing.length} requirement(s) have no --hash while others do: pip will refuse to install in hash-checking mode (first: ${missing[0]!.requirement.name}, line ${missing[0]!.at.line})`,
        at: { file: path },
      });
    }
  }
  return {
    source: "requirements",
    file: path,
    requirements,
    directReferences,
    includes,
    indexes: settings.indexes,
    pipOptions: settings.pipOptions,
    warnings,
  };
}

export const requirementsTxt: SourceFormat = {
  id: "requirements",
  title: "requirements.txt (pip)",
  files: [
    "requirements.txt",
    "requirements/production.txt",
    "requirements/prod.txt",
    "requirements/base.txt",
  ],
  role: "requirements",
  parse,
};

export interface ResolvedRequirements {
  readonly facts: SourceFacts;
  /** Every file read, in include order. */
  readonly files: readonly string[];
  /** Requirements from `-c` files: they constrain versions but add nothing. */
  readonly constraints: readonly DeclaredRequirement[];
  /** Every file read, with how it was reached (for a strategy that copies them all, paths intact). */
  readonly includes: readonly RequirementsFile[];
}

/** One file of a requirements set: the root, or a `-r`/`-c` include with the line that names it. */
export interface RequirementsFile {
  /** Project-relative (posix). */
  readonly path: string;
  readonly kind: "requirements" | "constraints";
  /** `file:line` of the `-r`/`-c` line, absent for the root. */
  readonly from?: string;
}

/** An include path that would leave the project (absolute, or `..` above its root). */
export function escapesProject(joined: string, written: string): boolean {
  return (
    written.startsWith("/") ||
    /^[A-Za-z]:[\\/]/.test(written) ||
    joined === ".." ||
    joined.startsWith("../") ||
    joined.startsWith("/")
  );
}

/**
 * Follows `-r`/`-c` includes from `rootPath` (paths relative to the including file), merging
 * everything into one set of facts. `read` returns a file's content (the only I/O). Cycles are
 * reported with their chain.
 */
export function resolveRequirements(
  rootPath: string,
  read: (path: string) => string,
  join: (from: string, rel: string) => string,
): ResolvedRequirements {
  const files: string[] = [];
  const includes: RequirementsFile[] = [];
  const requirements: DeclaredRequirement[] = [];
  const constraints: DeclaredRequirement[] = [];
  const directReferences: DirectReference[] = [];
  const warnings: SourceWarning[] = [];
  const settings = new PipSettings();
  const visit = (
    path: string,
    chain: string[],
    asConstraints: boolean,
    from?: { file: string; line: number },
  ) => {
    if (chain.includes(path)) {
      throw new SlimwheelError("input", `include cycle: ${[...chain, path].join(" → ")}`, {
        location: from ? `${from.file}:${from.line}` : path,
        hint: "remove one of the -r/-c lines that form the cycle",
      });
    }
    if (files.includes(path)) return;
    let content: string;
    try {
      content = read(path);
    } catch (e) {
      throw new SlimwheelError(
        "input",
        `cannot read ${path}${from ? ` (included from ${from.file}:${from.line})` : ""}`,
        {
          location: from ? `${from.file}:${from.line}` : undefined,
          hint: "check the path: -r and -c paths are relative to the file that names them",
          cause: e,
        },
      );
    }
    files.push(path);
    includes.push({
      path,
      kind: asConstraints ? "constraints" : "requirements",
      from: from ? `${from.file}:${from.line}` : undefined,
    });
    const f = parse(content, path);
    (asConstraints ? constraints : requirements).push(...(f.requirements ?? []));
    if (!asConstraints) directReferences.push(...(f.directReferences ?? []));
    warnings.push(...f.warnings);
    settings.merge(f);
    for (const inc of f.includes ?? []) {
      const target = join(path, inc.path);
      const line = inc.at.line ?? 0;
      if (escapesProject(target, inc.path)) {
        throw new SlimwheelError(
          "input",
          `${inc.kind === "constraints" ? "-c" : "-r"} ${inc.path} points outside the project directory`,
          {
            location: `${path}:${line}`,
            hint: "keep included requirements files inside the project (paths relative to the including file)",
          },
        );
      }
      visit(target, [...chain, path], asConstraints || inc.kind === "constraints", { file: path, line });
    }
  };
  visit(rootPath, [], false);
  return {
    facts: {
      source: "requirements",
      file: rootPath,
      requirements,
      directReferences,
      indexes: settings.indexes,
      pipOptions: settings.pipOptions,
      warnings,
    },
    files,
    constraints,
    includes,
  };
}

/** A URL with its user:password replaced by `${VAR}` references pip expands at install time. */
export function withoutCredentials(
  url: string,
  variable = "PIP_INDEX",
): { url: string; hadCredentials: boolean } {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i.exec(url);
  if (!m || /^\$\{[A-Z0-9_]+\}(:\$\{[A-Z0-9_]+\})?$/.test(m[2]!)) return { url, hadCredentials: false };
  const hasPassword = m[2]!.includes(":");
  const user = `\${${variable}_USER}`;
  const secret = hasPassword ? `:\${${variable}_PASSWORD}` : "";
  return { url: `${m[1]}${user}${secret}@${url.slice(m[0].length)}`, hadCredentials: true };
}

export interface FlattenedRequirements {
  /** One requirements file: index options (credentials as `${VAR}`), then every requirement with constraints folded in. */
  readonly text: string;
  /** Constraints on packages the file does not list (transitive ones): keep them as a `-c` file or PIP_CONSTRAINT. */
  readonly transitiveConstraints: readonly string[];
  /** Index URLs that carried literal credentials (now `${PIP_INDEX_USER}`/`${PIP_INDEX_PASSWORD}`): pass those as a build secret. */
  readonly credentials: readonly string[];
}

/**
 * The resolved set as one file, pure: `-r` includes inlined, each `-c` constraint on a listed
 * package folded into its specifier (`flask>=2` + `-c flask==2.2.2` → `flask>=2,==2.2.2`), hashes
 * kept (`--hash` per line), index options once with credentials replaced by variables.
 */
export function flattenRequirements(resolved: ResolvedRequirements): FlattenedRequirements {
  const { facts, constraints } = resolved;
  const credentials: string[] = [];
  const clean = (url: string, variable: string) => {
    const r = withoutCredentials(url, variable);
    if (r.hadCredentials) credentials.push(r.url);
    return r.url;
  };
  // Credentials inside a requirement's URL (`pkg @ https://user:pw@host/…`), replaced the same way.
  // The lookbehind starts a match only where a scheme's run of letters starts: without it, a long
  // name (a 10 MB line) was rescanned from each of its letters, quadratic (minutes).
  const cleanUrls = (text: string, variable: string) =>
    text.replace(/(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s@/]*@\S*/gi, (u) => clean(u, variable));
  const key = (r: { name: string }) => r.name.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
  const lines: string[] = [];
  const ix = facts.indexes;
  if (ix?.noIndex) lines.push("--no-index");
  if (ix?.indexUrl) lines.push(`--index-url ${clean(ix.indexUrl, "PIP_INDEX")}`);
  for (const [i, u] of (ix?.extraIndexUrls ?? []).entries())
    lines.push(`--extra-index-url ${clean(u, `PIP_EXTRA_INDEX_${i + 1}`)}`);
  for (const [i, u] of (ix?.findLinks ?? []).entries())
    lines.push(`--find-links ${clean(u, `PIP_FIND_LINKS_${i + 1}`)}`);
  for (const h of ix?.trustedHosts ?? []) lines.push(`--trusted-host ${h}`);
  const byKey = new Map<string, DeclaredRequirement[]>();
  for (const c of constraints) byKey.set(c.requirement.key, [...(byKey.get(c.requirement.key) ?? []), c]);
  const listed = new Set<string>();
  for (const d of facts.requirements ?? []) {
    const r = d.requirement;
    listed.add(r.key);
    const extra = r.url === undefined ? (byKey.get(r.key) ?? []).flatMap((c) => c.requirement.specifier) : [];
    const text = cleanUrls(
      formatRequirement({ ...r, specifier: [...r.specifier, ...extra] }),
      `PIP_URL_${key(r)}`,
    );
    const hashes = (d.hashes ?? []).map((h) => ` --hash=${h}`).join("");
    lines.push(`${d.editable ? "-e " : ""}${text}${hashes}`);
  }
  for (const [i, ref] of (facts.directReferences ?? []).entries())
    lines.push(`${ref.editable ? "-e " : ""}${cleanUrls(ref.target, `PIP_URL_${i + 1}`)}`);
  const transitiveConstraints = constraints
    .filter((c) => !listed.has(c.requirement.key))
    .map((c) => formatRequirement(c.requirement));
  return { text: `${lines.join("\n")}\n`, transitiveConstraints, credentials };
}
