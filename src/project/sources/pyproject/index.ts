/**
 * pyproject.toml: `[project]` (PEP 621), `[dependency-groups]` (PEP 735), `[build-system]`
 * (PEP 518/517), `[tool.poetry]` (Poetry's own tables) and `[tool.slimwheel]` (ours, docs/config.md).
 */
import { SlimwheelError } from "../../../errors.js";
import { parseRequirement } from "../../../python/pep508.js";
import type {
  DeclaredRequirement,
  SlimwheelConfig,
  SourceFacts,
  SourceFormat,
  SourceWarning,
} from "../../types.js";
import { asString, asStrings, fieldError, isTable, lineOf, parseToml, type TomlTable } from "../toml.js";
import { poetryToPep440 } from "./poetry-constraint.js";

function requirementsOf(list: unknown, field: string, content: string, path: string): DeclaredRequirement[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw fieldError(path, content, field, "an array of PEP 508 strings");
  return list.map((item) => {
    if (typeof item !== "string") throw fieldError(path, content, field, "an array of PEP 508 strings");
    const line = lineOf(content, JSON.stringify(item).slice(1, -1)) ?? lineOf(content, item);
    return {
      requirement: parseRequirement(item, { file: path, line: line ?? 1, column: 1 }),
      at: { file: path, line },
    };
  });
}

/** PEP 735 groups, with `{include-group = "x"}` expanded (cycles reported). */
function dependencyGroups(
  table: TomlTable,
  content: string,
  path: string,
): Record<string, DeclaredRequirement[]> {
  const out: Record<string, DeclaredRequirement[]> = {};
  // Each group expanded once, and a requirement reached twice (a group included twice, or through
  // two paths) listed once: groups including each other twice over (g0 → g1, g1 → g2 …) would
  // otherwise expand exponentially.
  const done = new Map<string, DeclaredRequirement[]>();
  const expand = (name: string, chain: string[]): DeclaredRequirement[] => {
    const known = done.get(name);
    if (known) return known;
    if (chain.includes(name)) {
      throw new SlimwheelError("input", `dependency-groups include cycle: ${[...chain, name].join(" → ")}`, {
        location: `${path}:${lineOf(content, "[dependency-groups]") ?? 1}`,
      });
    }
    const list = table[name];
    if (!Array.isArray(list)) throw fieldError(path, content, `dependency-groups.${name}`, "an array");
    const result: DeclaredRequirement[] = [];
    const listed = new Set<DeclaredRequirement>();
    for (const item of list) {
      if (typeof item === "string")
        result.push(...requirementsOf([item], `dependency-groups.${name}`, content, path));
      else if (isTable(item) && typeof item["include-group"] === "string") {
        for (const r of expand(item["include-group"], [...chain, name]))
          if (!listed.has(r)) {
            listed.add(r);
            result.push(r);
          }
      } else
        throw fieldError(path, content, `dependency-groups.${name}`, "strings or {include-group = NAME}");
    }
    done.set(name, result);
    return result;
  };
  for (const name of Object.keys(table)) out[name] = expand(name, []);
  return out;
}

/** One Poetry dependency (`name = "^1.2"` or `name = {version, extras, markers, python, …}`) as PEP 508. */
function poetryRequirement(
  name: string,
  spec: unknown,
  path: string,
  content: string,
  warnings: SourceWarning[],
): DeclaredRequirement | undefined {
  const line =
    lineOf(content, `\n${name}`) !== undefined ? (lineOf(content, `\n${name}`) ?? 0) + 1 : undefined;
  const at = { file: path, line };
  let text = name;
  if (Array.isArray(spec)) {
    warnings.push({
      message: `Poetry multiple-constraint dependency "${name}": the first alternative is used`,
      at,
    });
    spec = spec[0];
  }
  if (typeof spec === "string") {
    const t = poetryToPep440(spec);
    if (t.approximated)
      warnings.push({
        message: `"${name} = ${spec}": a || union has no PEP 440 form; using its first part`,
        at,
      });
    text += t.specifier;
  } else if (isTable(spec)) {
    if (spec.optional === true) return undefined;
    const extras = asStrings(spec.extras);
    if (extras.length) text += `[${extras.join(",")}]`;
    if (typeof spec.path === "string" || typeof spec.git === "string" || typeof spec.url === "string") {
      const url =
        typeof spec.url === "string"
          ? spec.url
          : typeof spec.git === "string"
            ? `git+${spec.git}${typeof spec.rev === "string" ? `@${spec.rev}` : typeof spec.tag === "string" ? `@${spec.tag}` : ""}`
            : `file:${spec.path}`;
      text += ` @ ${url}`;
    } else if (typeof spec.version === "string") {
      text += poetryToPep440(spec.version).specifier;
    }
    const markers: string[] = [];
    if (typeof spec.markers === "string") markers.push(`(${spec.markers})`);
    if (typeof spec.python === "string") {
      const py = poetryToPep440(spec.python).specifier;
      for (const clause of py.split(",").filter(Boolean)) {
        const m = /^(<=|>=|==|!=|<|>|~=)(.*)$/.exec(clause);
        if (m) markers.push(`python_version ${m[1]} "${m[2]}"`);
      }
    }
    if (markers.length) text += `${text.includes(" @ ") ? " " : ""}; ${markers.join(" and ")}`;
  } else {
    throw fieldError(path, content, `tool.poetry.dependencies.${name}`, "a version string or a table");
  }
  return { requirement: parseRequirement(text, { file: path, line: line ?? 1, column: 1 }), at };
}

function poetryDeps(
  table: unknown,
  path: string,
  content: string,
  warnings: SourceWarning[],
): DeclaredRequirement[] {
  if (!isTable(table)) return [];
  const out: DeclaredRequirement[] = [];
  for (const [name, spec] of Object.entries(table)) {
    if (name.toLowerCase() === "python") continue;
    const r = poetryRequirement(name, spec, path, content, warnings);
    if (r) out.push(r);
  }
  return out;
}

/** The keys of `[tool.slimwheel]` and their types; schema/slimwheel-config.schema.json follows it (a unit test checks). */
export const SLIMWHEEL_KEYS: Record<string, "string" | "strings" | "number" | "boolean"> = {
  python: "string",
  strategy: "string",
  command: "string",
  port: "number",
  "build-packages": "strings",
  "runtime-packages": "strings",
  "ignore-lock": "boolean",
  "index-url": "string",
  dockerignore: "strings",
  groups: "strings",
  extras: "strings",
  keep: "strings",
  runtime: "string",
};

function slimwheelConfig(
  t: TomlTable,
  path: string,
  content: string,
  warnings: SourceWarning[],
): SlimwheelConfig {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(t)) {
    // [tool.slimwheel.lint] belongs to `slimwheel lint` (src/lint/lint.ts), which reads it itself
    if (key === "lint") continue;
    const type = SLIMWHEEL_KEYS[key];
    if (!type) {
      warnings.push({
        message: `unknown key tool.slimwheel.${key} ignored (known: ${Object.keys(SLIMWHEEL_KEYS).join(", ")})`,
        at: { file: path, line: lineOf(content, key) },
      });
      continue;
    }
    const ok =
      type === "strings"
        ? Array.isArray(value) && value.every((v) => typeof v === "string")
        : typeof value === type;
    if (key === "runtime" && ok && value !== "slim" && value !== "minimal")
      throw fieldError(path, content, "tool.slimwheel.runtime", '"minimal" or "slim"');
    if (
      !ok ||
      (key === "port" && (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535))
    ) {
      throw fieldError(
        path,
        content,
        `tool.slimwheel.${key}`,
        type === "strings" ? "an array of strings" : key === "port" ? "a port number (1-65535)" : `a ${type}`,
      );
    }
    const relative = key === "keep" ? (value as string[]).find((k) => !k.startsWith("/")) : undefined;
    if (relative !== undefined) {
      const line = lineOf(content, "keep");
      throw new SlimwheelError(
        "input",
        `tool.slimwheel.keep: ${JSON.stringify(relative)} is not an absolute path in the image`,
        {
          location: line ? `${path}:${line}` : path,
          hint: `give absolute paths in ${path}, e.g. "/${relative.replace(/^\.?\/?/, "")}" or "/app/${relative.replace(/^\.?\/?/, "")}"`,
        },
      );
    }
    const camel = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    out[camel] = value;
  }
  return out as SlimwheelConfig;
}

function scriptsOf(
  v: unknown,
  field: string,
  path: string,
  content: string,
): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isTable(v) || !Object.values(v).every((x) => typeof x === "string")) {
    throw fieldError(path, content, field, 'a table of name = "module:function"');
  }
  return v as Record<string, string>;
}

export function parse(content: string, path: string): SourceFacts {
  const doc = parseToml(content, path);
  const warnings: SourceWarning[] = [];
  const project = doc.project;
  const tool = isTable(doc.tool) ? doc.tool : {};
  const poetry = isTable(tool.poetry) ? tool.poetry : undefined;
  const facts: Record<string, unknown> = {
    source: poetry && !isTable(project) ? "poetry" : "pyproject",
    file: path,
  };

  if (isTable(doc["build-system"])) {
    const bs = doc["build-system"];
    facts.buildSystem = {
      requires: asStrings(bs.requires),
      backend: asString(bs["build-backend"]),
    };
  }
  if (isTable(tool.slimwheel)) facts.slimwheel = slimwheelConfig(tool.slimwheel, path, content, warnings);

  if (project !== undefined) {
    if (!isTable(project)) throw fieldError(path, content, "project", "a table");
    if (project.name !== undefined && typeof project.name !== "string")
      throw fieldError(path, content, "project.name", "a string");
    if (typeof project.name === "string") facts.name = project.name;
    if (typeof project.version === "string") facts.version = project.version;
    const rp = project["requires-python"];
    if (rp !== undefined) {
      if (typeof rp !== "string") throw fieldError(path, content, "project.requires-python", "a string");
      facts.python = {
        kind: "constraint",
        value: rp,
        at: { file: path, line: lineOf(content, "requires-python") },
      };
    }
    facts.requirements = requirementsOf(project.dependencies, "project.dependencies", content, path);
    const opt = project["optional-dependencies"];
    if (opt !== undefined) {
      if (!isTable(opt))
        throw fieldError(path, content, "project.optional-dependencies", "a table of arrays");
      facts.extras = Object.fromEntries(
        Object.entries(opt).map(([k, v]) => [
          k,
          requirementsOf(v, `project.optional-dependencies.${k}`, content, path),
        ]),
      );
    }
    const scripts = scriptsOf(project.scripts, "project.scripts", path, content);
    if (scripts) facts.scripts = scripts;
    const gui = scriptsOf(project["gui-scripts"], "project.gui-scripts", path, content);
    if (gui) facts.guiScripts = gui;
    facts.dynamic = asStrings(project.dynamic);
    if ((facts.dynamic as string[]).includes("dependencies")) {
      warnings.push({
        message:
          "project.dependencies is dynamic: computed by the build backend at build time, so slimwheel cannot list them",
        at: { file: path, line: lineOf(content, "dynamic") },
      });
    }
  }
  if (isTable(doc["dependency-groups"]))
    facts.groups = dependencyGroups(doc["dependency-groups"], content, path);

  if (poetry) {
    if (!facts.name && typeof poetry.name === "string") facts.name = poetry.name;
    if (!facts.version && typeof poetry.version === "string") facts.version = poetry.version;
    const deps = isTable(poetry.dependencies) ? poetry.dependencies : {};
    if (!facts.python && typeof deps.python === "string") {
      facts.python = {
        kind: "constraint",
        value: poetryToPep440(deps.python).specifier,
        at: { file: path, line: lineOf(content, "python =") ?? lineOf(content, "python=") },
      };
    }
    if (!isTable(project) || (facts.requirements as unknown[]).length === 0) {
      facts.requirements = poetryDeps(deps, path, content, warnings);
    }
    const groups: Record<string, DeclaredRequirement[]> = {
      ...((facts.groups as Record<string, DeclaredRequirement[]>) ?? {}),
    };
    if (isTable(poetry.group)) {
      for (const [g, body] of Object.entries(poetry.group)) {
        if (isTable(body)) groups[g] = poetryDeps(body.dependencies, path, content, warnings);
      }
    }
    if (isTable(poetry["dev-dependencies"]))
      groups.dev = poetryDeps(poetry["dev-dependencies"], path, content, warnings);
    if (Object.keys(groups).length) facts.groups = groups;
    if (!facts.scripts) {
      const s = poetry.scripts;
      if (isTable(s)) {
        facts.scripts = Object.fromEntries(
          Object.entries(s).flatMap(([k, v]) =>
            typeof v === "string"
              ? [[k, v]]
              : isTable(v) && typeof v.reference === "string"
                ? [[k, v.reference]]
                : [],
          ),
        );
      }
    }
  }
  facts.warnings = warnings;
  return facts as unknown as SourceFacts;
}

export const pyproject: SourceFormat = {
  id: "pyproject",
  title: "pyproject.toml (PEP 621, PEP 735, Poetry, [tool.slimwheel])",
  files: ["pyproject.toml"],
  role: "metadata",
  parse,
};
