/**
 * setup.cfg (setuptools declarative config): `[metadata]` name/version, `[options]`
 * install_requires / python_requires, `[options.extras_require]`, `[options.entry_points]`
 * console_scripts. INI as Python's configparser reads it: `key = value` or `key: value`,
 * indented continuation lines, `#`/`;` comments.
 */
import { SlimwheelError } from "../../../errors.js";
import { parseRequirement } from "../../../python/pep508.js";
import type { DeclaredRequirement, SourceFacts, SourceFormat } from "../../types.js";

interface IniValue {
  readonly value: string;
  readonly line: number;
}
export type Ini = Record<string, Record<string, IniValue>>;

/** configparser-compatible reading (no interpolation). */
export function parseIni(content: string, path: string): Ini {
  // Section and key names come from the file ("[__proto__]", "constructor = x"): objects without a
  // prototype, so a name can neither reach nor change Object.prototype.
  const out: Ini = Object.create(null);
  let section: Record<string, IniValue> | undefined;
  let key: string | undefined;
  const lines = content.replace(/\r\n?/g, "\n").split("\n");
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*[#;]/.test(raw) || raw.trim() === "") {
      if (raw.trim() === "") key = undefined;
      return;
    }
    if (/^\s/.test(raw) && section && key) {
      const prev = section[key]!;
      section[key] = { value: `${prev.value}\n${raw.trim()}`, line: prev.line };
      return;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (header) {
      section = out[header[1]!.trim()] ??= Object.create(null);
      key = undefined;
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (!kv || !section) {
      throw new SlimwheelError("input", section ? "expected `key = value`" : "a value before any [section]", {
        location: `${path}:${line}`,
        hint: "setup.cfg is INI: [section] headers, key = value lines, indented continuations",
      });
    }
    key = kv[1]!.trim().toLowerCase().replace(/-/g, "_");
    section[key] = { value: kv[2]!.trim(), line };
  });
  return out;
}

function listOf(v: IniValue | undefined): { text: string; line: number }[] {
  if (!v) return [];
  return v.value
    .split(/\n|;(?=\s*[A-Za-z])/)
    .map((t, i) => ({
      text: t.replace(/\s+#.*$/, "").trim(),
      line: v.line + (v.value.includes("\n") ? i : 0),
    }))
    .filter((x) => x.text && !x.text.startsWith("#"));
}

export function parse(content: string, path: string): SourceFacts {
  const ini = parseIni(content, path);
  const req = (v: IniValue | undefined): DeclaredRequirement[] =>
    listOf(v).map(({ text, line }) => ({
      requirement: parseRequirement(text, { file: path, line, column: 1 }),
      at: { file: path, line },
    }));
  const opts = ini.options ?? {};
  const extras = ini["options.extras_require"] ?? {};
  const eps = ini["options.entry_points"] ?? {};
  const scripts = Object.fromEntries(
    listOf(eps.console_scripts).flatMap(({ text }) => {
      const m = /^([^=\s]+)\s*=\s*(.+)$/.exec(text);
      return m ? [[m[1]!, m[2]!.trim()]] : [];
    }),
  );
  const meta = ini.metadata ?? {};
  return {
    source: "setup-cfg",
    file: path,
    name: meta.name ? meta.name.value : undefined,
    version: meta.version && !meta.version.value.startsWith("attr:") ? meta.version.value : undefined,
    ...(opts.python_requires
      ? {
          python: {
            kind: "constraint" as const,
            value: opts.python_requires.value,
            at: { file: path, line: opts.python_requires.line },
          },
        }
      : {}),
    requirements: req(opts.install_requires),
    extras: Object.fromEntries(Object.entries(extras).map(([k, v]) => [k, req(v)])),
    scripts: Object.keys(scripts).length ? scripts : undefined,
    warnings: [],
  };
}

export const setupCfg: SourceFormat = {
  id: "setup-cfg",
  title: "setup.cfg (setuptools)",
  files: ["setup.cfg"],
  role: "metadata",
  parse,
};
