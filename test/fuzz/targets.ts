/**
 * Every parser slimwheel has, as a fuzz target: structured inputs from fast-check arbitraries,
 * and byte/token/tree-level mutations of valid seeds taken from the repository's fixtures and
 * examples. Shared by `npm run fuzz` (bench/fuzz.ts) and the short unit run (src/fuzz.test.ts).
 *
 * The contract for each input: the parser returns, or throws a SlimwheelError. Anything else is a
 * crash (engine.ts classifies).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { parse as parseTomlText, stringify as stringifyToml } from "smol-toml";
import { lintText } from "../../src/lint/lint.js";
import { rules as lintRules } from "../../src/lint/rules/index.js";
import { readDockerArchive } from "../../src/oci/docker-archive.js";
import { analyzeLayer } from "../../src/oci/layer.js";
import { readLayout } from "../../src/oci/layout.js";
import { pipfile, pipfileLock } from "../../src/project/sources/pipfile/index.js";
import { poetryLock } from "../../src/project/sources/poetry-lock/index.js";
import { pylock } from "../../src/project/sources/pylock/index.js";
import { pyproject } from "../../src/project/sources/pyproject/index.js";
import { pythonVersionFile, runtimeTxt } from "../../src/project/sources/python-version/index.js";
import {
  escapesProject,
  flattenRequirements,
  resolveRequirements,
} from "../../src/project/sources/requirements/index.js";
import { setupCfg } from "../../src/project/sources/setup-cfg/index.js";
import { setupPy } from "../../src/project/sources/setup-py/index.js";
import { uvLock } from "../../src/project/sources/uv-lock/index.js";
import type { SourceFormat } from "../../src/project/types.js";
import {
  evaluateMarker,
  formatMarker,
  linuxTarget,
  MARKER_VARIABLES,
  markerExtras,
  parseMarker,
} from "../../src/python/markers.js";
import {
  compareVersions,
  isValidSpecifier,
  isValidVersion,
  maxSatisfying,
  satisfies,
} from "../../src/python/pep440.js";
import { appliesTo, formatRequirement, parseRequirement, pinnedVersion } from "../../src/python/pep508.js";
import { parseSdistFilename, parseWheelFilename } from "../../src/python/wheel-filename.js";
import { parseElf } from "../../src/sysdeps/elf.js";
import {
  elfOf,
  gzip,
  mutateBytes,
  mutateText,
  mutateTree,
  type Rng,
  sha256,
  type TarEntry,
  tarOf,
} from "./mutate.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** What a target needs besides its input: a scratch directory of its own (for readers of paths). */
export interface Scratch {
  readonly dir: string;
}

export interface FuzzTarget<I = unknown> {
  readonly name: string;
  /** The function(s) exercised. */
  readonly exercises: string;
  /** Extension of saved regression fixtures. */
  readonly ext: string;
  /** Inputs are plain text or bytes (minimizable), or a structured set of files. */
  readonly kind: "text" | "bytes" | "files";
  /** Cases per target in the short unit run. */
  readonly quick: number;
  /** Valid inputs from the repository (fixtures, examples) and hand-written ones. */
  seeds(): readonly I[];
  /** A fast-check arbitrary of well-formed-ish inputs. */
  arbitrary(): fc.Arbitrary<I>;
  /** A mutated input (rng-driven), starting from a seed or a generated one. */
  mutate(input: I, rng: Rng, corpus: readonly I[]): I;
  run(input: I, scratch: Scratch): unknown;
  encode(input: I): Buffer;
  decode(bytes: Buffer): I;
}

// ---------------------------------------------------------------------------------------------
// Seeds from the repository

/** Files named `name` anywhere under the fixtures and examples. */
function repoFiles(test: (name: string, path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      if (e === "node_modules" || e === "fuzz") continue;
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (test(e, p)) out.push(p);
    }
  };
  for (const d of ["src/project/__fixtures__", "examples", "test/fixtures"]) walk(join(ROOT, d));
  return out;
}

const texts = (test: (name: string, path: string) => boolean) =>
  repoFiles(test).map((p) => readFileSync(p, "utf8"));

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      v = f();
      done = true;
    }
    return v as T;
  };
};

// ---------------------------------------------------------------------------------------------
// Arbitraries of the Python grammar pieces

const nameArb = fc.oneof(
  fc.constantFrom(
    "flask",
    "Django",
    "zope.interface",
    "typing_extensions",
    "a",
    "x-y",
    "A_B.c",
    "psycopg2-binary",
  ),
  fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,12}[A-Za-z0-9])?$/),
);
const versionArb = fc
  .tuple(
    fc.option(
      fc.nat(3).map((n) => `${n}!`),
      { nil: "" },
    ),
    fc.array(fc.nat(30), { minLength: 1, maxLength: 4 }).map((a) => a.join(".")),
    fc.option(
      fc
        .tuple(fc.constantFrom("a", "b", "rc", "alpha", "beta", "c", "pre", "preview", "-rc"), fc.nat(9))
        .map(([p, n]) => `${p}${n}`),
      { nil: "" },
    ),
    fc.option(fc.constantFrom(".post1", "-1", "post2", ".post"), { nil: "" }),
    fc.option(fc.constantFrom(".dev0", "dev3", ".dev"), { nil: "" }),
    fc.option(fc.stringMatching(/^\+[a-z0-9]{1,4}(\.[a-z0-9]{1,4}){0,2}$/), { nil: "" }),
  )
  .map((p) => p.join(""));
const looseVersionArb = fc.oneof(
  { weight: 4, arbitrary: versionArb },
  fc.stringMatching(/^[0-9a-zA-Z.*+!_-]{0,12}$/),
  fc.constantFrom("1.*", "1.0.*", "*", "v1.0", " 1.0 ", "1..0", "1.0-", "1!", "0x10", "１.０"),
);
const OPS = ["==", "!=", "<=", ">=", "<", ">", "~=", "===", "=", "=>", "<>", ""];
const clauseArb = fc
  .tuple(fc.constantFrom(...OPS), fc.constantFrom("", " "), looseVersionArb, fc.constantFrom("", ".*"))
  .map(([op, ws, v, wild]) => `${op}${ws}${v}${wild}`);
const specifierArb = fc
  .tuple(fc.array(clauseArb, { maxLength: 4 }), fc.constantFrom(",", ", ", " ,", ",,", " "))
  .map(([cs, sep]) => cs.join(sep));

const markerValueArb = fc.oneof(
  looseVersionArb,
  fc.constantFrom("linux", "win32", "posix", "CPython", "x86_64", "dev", "security", "", "a'b", 'a"b'),
);
const markerVarArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...MARKER_VARIABLES) },
  fc.constantFrom("os.name", "sys.platform", "python_implementation", "foo"),
);
const quoted = (s: string, rng = 0) => (rng % 2 ? `'${s}'` : `"${s}"`);
const markerArb: fc.Arbitrary<string> = fc.letrec<{ m: string; atom: string }>((tie) => ({
  atom: fc
    .tuple(
      markerVarArb,
      fc.constantFrom("==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in", "not  in", "is"),
      markerValueArb,
      fc.boolean(),
      fc.nat(1),
    )
    .map(([v, op, val, flip, q]) => (flip ? `${quoted(val, q)} ${op} ${v}` : `${v} ${op} ${quoted(val, q)}`)),
  m: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("atom"),
    fc
      .tuple(tie("m"), fc.constantFrom(" and ", " or ", "and", " AND "), tie("m"))
      .map(([a, o, b]) => a + o + b),
    tie("m").map((m) => `(${m})`),
  ),
})).m;

const urlArb = fc.oneof(
  fc.constantFrom(
    "https://example.org/pkg-1.0.tar.gz",
    "git+https://example.org/repo.git@v1#egg=pkg",
    "file:///tmp/x",
    "file:../local",
    "http://[::1]:8080/simple",
    "not-a-url",
    "./local/dir",
    "pkg.whl",
  ),
  fc.webUrl(),
);
const requirementArb = fc
  .tuple(
    nameArb,
    fc.option(
      fc.array(nameArb, { maxLength: 3 }).map((e) => `[${e.join(",")}]`),
      { nil: "" },
    ),
    fc.oneof(
      specifierArb,
      specifierArb.map((s) => ` (${s})`),
      urlArb.map((u) => ` @ ${u}`),
    ),
    fc.option(
      markerArb.map((m) => ` ; ${m}`),
      { nil: "" },
    ),
    fc.constantFrom("", " ", "\t"),
  )
  .map(([n, e, s, m, ws]) => `${ws}${n}${e}${s}${m}`);

// ---------------------------------------------------------------------------------------------
// Target helpers

const text = {
  kind: "text" as const,
  encode: (s: string) => Buffer.from(s, "utf8"),
  decode: (b: Buffer) => b.toString("utf8"),
};
const bytes = {
  kind: "bytes" as const,
  encode: (b: Buffer) => b,
  decode: (b: Buffer) => b,
};

/** A text target over a parser of `(content, path)`. */
function textTarget(o: {
  name: string;
  exercises: string;
  ext: string;
  quick?: number;
  seeds: () => readonly string[];
  arbitrary: () => fc.Arbitrary<string>;
  tokens?: readonly string[];
  /** Mutate the parsed document (TOML or JSON) as well as the text. */
  tree?: "toml" | "json";
  run: (input: string) => unknown;
}): FuzzTarget<string> {
  return {
    name: o.name,
    exercises: o.exercises,
    ext: o.ext,
    quick: o.quick ?? 1000,
    ...text,
    seeds: once(o.seeds),
    arbitrary: once(o.arbitrary),
    mutate(input, rng, corpus) {
      if (o.tree && rng.bool(0.4)) {
        try {
          const doc = o.tree === "toml" ? parseTomlText(input) : JSON.parse(input);
          mutateTree(doc, rng, o.tree === "json");
          return o.tree === "toml" ? stringifyToml(doc) : JSON.stringify(doc, null, rng.bool() ? 4 : 0);
        } catch {
          /* not parseable: mutate the text */
        }
      }
      return mutateText(input, rng, { tokens: o.tokens, corpus });
    },
    run: o.run,
  };
}

const sourceRun = (format: SourceFormat, path: string) => (input: string) => format.parse(input, path);

// TOML-shaped values: no null, dates allowed.
const tomlScalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.boolean(),
  fc.double({ noNaN: false }),
  fc.constantFrom("*", "^1.2", "~1.2.3", ">=1,<2", "1.2 || 1.4", "==1.0", "__proto__"),
);
const tomlValue = fc.oneof(
  { weight: 4, arbitrary: tomlScalar },
  fc.array(tomlScalar, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), tomlScalar, { maxKeys: 3 }),
);
const toToml = (doc: unknown) => {
  try {
    return stringifyToml(doc as Record<string, unknown>);
  } catch {
    return "";
  }
};

const groupName = fc.constantFrom("dev", "test", "docs", "lint", "a", "b", "__proto__", "main");
const poetryConstraint = fc.oneof(
  fc.constantFrom(
    "*",
    "^1.2",
    "^0.0.3",
    "^0",
    "~1.2.3",
    "~1",
    ">=1,<2",
    "1.2 || 1.4",
    "1.2.*",
    "=1.0",
    "^",
    "~",
  ),
  looseVersionArb.map((v) => `^${v}`),
  looseVersionArb.map((v) => `~${v}`),
  specifierArb,
);
const poetryDep = fc.oneof(
  poetryConstraint,
  fc.record(
    {
      version: poetryConstraint,
      extras: fc.array(fc.oneof(nameArb, tomlScalar), { maxLength: 2 }),
      markers: markerArb,
      python: poetryConstraint,
      optional: fc.boolean(),
      git: urlArb,
      rev: fc.string({ maxLength: 6 }),
      path: fc.string({ maxLength: 8 }),
      url: urlArb,
    },
    { requiredKeys: [] },
  ),
  fc.array(fc.record({ version: poetryConstraint, python: poetryConstraint }, { requiredKeys: [] }), {
    maxLength: 2,
  }),
  tomlValue,
);

// ---------------------------------------------------------------------------------------------
// Targets

const requirementTokens = [
  "-r ",
  "-c ",
  "-e ",
  "-rbase.txt",
  "--requirement=",
  "--constraint ",
  "-i ",
  "--index-url=",
  "--extra-index-url ",
  "--no-index",
  "--pre",
  "--hash=sha256:",
  "--hash",
  " --hash=sha256:ab12",
  "--only-binary :all:",
  "--no-binary=",
  "-C",
  "--config-settings",
  "--trusted-host ",
  "-f ",
  " \\\n",
  "; ",
  "python_version < '3.10'",
  " @ ",
  "git+https://h/r.git#egg=x",
  "#egg=",
  "file:",
  "../",
  "/abs",
  "requirements.txt",
  "base.txt",
  "sub/dev.txt",
];

type FileSet = Record<string, string>;
const REQ_FILES = ["requirements.txt", "base.txt", "sub/dev.txt", "sub/base.txt", "c.txt"];
const INCLUDE_REFS = [
  "base.txt",
  "sub/dev.txt",
  "dev.txt",
  "base.txt",
  "./base.txt",
  "../base.txt",
  "../../x.txt",
  "/etc/passwd",
  "C:\\x.txt",
  "missing.txt",
  "requirements.txt",
  "c.txt",
  "sub/../c.txt",
  "sub",
  ".",
];
const includeTarget = (from: string, rel: string) => posix.normalize(posix.join(posix.dirname(from), rel));

const requirementLine = fc.oneof(
  { weight: 6, arbitrary: requirementArb },
  requirementArb.map((r) => `${r} --hash=sha256:${"ab".repeat(32)}`),
  requirementArb.map((r) => `${r} \\\n    --hash=sha256:01ff \\\n    --hash=sha512:${"c".repeat(8)}`),
  fc
    .tuple(
      fc.constantFrom("-r ", "-c ", "--requirement=", "-r", "--constraint "),
      fc.constantFrom(...INCLUDE_REFS),
    )
    .map(([o, p]) => o + p),
  fc.tuple(fc.constantFrom("-e ", "--editable="), fc.oneof(urlArb, requirementArb)).map(([o, t]) => o + t),
  fc
    .tuple(
      fc.constantFrom(
        "-i ",
        "--index-url ",
        "--extra-index-url=",
        "-f ",
        "--trusted-host ",
        "--no-binary ",
        "--only-binary=",
      ),
      fc.oneof(urlArb, fc.constantFrom(":all:", ":none:", "a,b", "https://u:p@h/simple")),
    )
    .map(([o, v]) => o + v),
  fc.constantFrom(
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--require-hashes",
    "--unknown",
    "-x",
    "--",
    "-",
    "# comment",
    "",
    "   # c",
  ),
  urlArb,
);

const requirementsTarget: FuzzTarget<FileSet> = {
  name: "requirements",
  exercises:
    "resolveRequirements + flattenRequirements (src/project/sources/requirements), -r/-c includes in memory",
  ext: "json",
  kind: "files",
  quick: 1000,
  seeds: once(() => {
    const sets: FileSet[] = [];
    const roots = repoFiles((n) => n === "requirements.txt");
    for (const root of roots) {
      const dir = dirname(root);
      const set: FileSet = {};
      for (const p of repoFiles((n, full) => n.endsWith(".txt") && full.startsWith(`${dir}/`)))
        set[relative(dir, p)] = readFileSync(p, "utf8");
      sets.push(set);
    }
    return sets;
  }),
  arbitrary: once(() =>
    fc
      .tuple(
        fc.array(requirementLine, { maxLength: 12 }),
        fc.dictionary(fc.constantFrom(...REQ_FILES.slice(1)), fc.array(requirementLine, { maxLength: 6 }), {
          maxKeys: 4,
        }),
        fc.constantFrom("\n", "\r\n", "\n\n"),
      )
      .map(([root, others, eol]) => {
        const set: FileSet = { "requirements.txt": root.join(eol) };
        for (const [k, v] of Object.entries(others)) set[k] = v.join(eol);
        return set;
      }),
  ),
  mutate(input, rng, corpus) {
    const set = { ...input };
    const keys = Object.keys(set);
    const key = keys.length && rng.bool(0.9) ? rng.pick(keys) : rng.pick(REQ_FILES);
    const others = corpus.flatMap((c) => Object.values(c));
    set[key] = mutateText(set[key] ?? "", rng, { tokens: requirementTokens, corpus: others });
    if (rng.bool(0.1)) set[rng.pick(REQ_FILES)] = `-r ${rng.pick(INCLUDE_REFS)}\n`;
    if (!("requirements.txt" in set)) set["requirements.txt"] = "";
    return set;
  },
  run(set) {
    const read = (p: string) => {
      if (!Object.hasOwn(set, p)) throw new Error(`ENOENT: ${p}`);
      return set[p]!;
    };
    const resolved = resolveRequirements("requirements.txt", read, includeTarget);
    for (const inc of resolved.includes) escapesProject(inc.path, inc.path);
    return flattenRequirements(resolved);
  },
  encode: (s) => Buffer.from(`${JSON.stringify(s, null, 2)}\n`),
  decode: (b) => JSON.parse(b.toString("utf8")) as FileSet,
};

const pyprojectTarget = textTarget({
  name: "pyproject",
  exercises: "pyproject.toml reader (PEP 621, PEP 735, Poetry, [tool.slimwheel])",
  ext: "toml",
  tree: "toml",
  seeds: () => texts((n) => n === "pyproject.toml"),
  arbitrary: () =>
    fc
      .record(
        {
          project: fc.oneof(
            fc.record(
              {
                name: fc.oneof(nameArb, tomlScalar),
                version: looseVersionArb,
                "requires-python": specifierArb,
                dependencies: fc.array(fc.oneof({ weight: 5, arbitrary: requirementArb }, tomlScalar), {
                  maxLength: 5,
                }),
                "optional-dependencies": fc.dictionary(nameArb, fc.array(requirementArb, { maxLength: 3 }), {
                  maxKeys: 3,
                }),
                scripts: fc.dictionary(nameArb, fc.oneof(fc.constant("pkg.mod:main"), tomlScalar), {
                  maxKeys: 2,
                }),
                "gui-scripts": fc.dictionary(nameArb, fc.constant("pkg:gui"), { maxKeys: 1 }),
                dynamic: fc.subarray(["dependencies", "version", "optional-dependencies"]),
              },
              { requiredKeys: [] },
            ),
            tomlValue,
          ),
          "dependency-groups": fc.dictionary(
            groupName,
            fc.array(
              fc.oneof(
                requirementArb,
                groupName.map((g) => ({ "include-group": g })),
                tomlScalar,
              ),
              { maxLength: 4 },
            ),
            { maxKeys: 5 },
          ),
          "build-system": fc.record(
            {
              requires: fc.array(requirementArb, { maxLength: 2 }),
              "build-backend": fc.string({ maxLength: 10 }),
            },
            { requiredKeys: [] },
          ),
          tool: fc.record(
            {
              poetry: fc.record(
                {
                  name: nameArb,
                  version: looseVersionArb,
                  dependencies: fc.dictionary(fc.oneof(nameArb, fc.constant("python")), poetryDep, {
                    maxKeys: 5,
                  }),
                  group: fc.dictionary(
                    groupName,
                    fc.record({ dependencies: fc.dictionary(nameArb, poetryDep, { maxKeys: 3 }) }),
                    { maxKeys: 2 },
                  ),
                  "dev-dependencies": fc.dictionary(nameArb, poetryDep, { maxKeys: 2 }),
                  scripts: fc.dictionary(
                    nameArb,
                    fc.oneof(
                      fc.constant("a:b"),
                      fc.record({ reference: fc.string(), type: fc.constant("file") }),
                    ),
                    { maxKeys: 2 },
                  ),
                },
                { requiredKeys: [] },
              ),
              slimwheel: fc.dictionary(
                fc.constantFrom(
                  "python",
                  "strategy",
                  "command",
                  "port",
                  "build-packages",
                  "runtime-packages",
                  "ignore-lock",
                  "index-url",
                  "groups",
                  "extras",
                  "unknown",
                ),
                tomlValue,
                { maxKeys: 4 },
              ),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      )
      .map(toToml),
  tokens: [
    "[project]",
    "dependencies = [",
    "[dependency-groups]",
    '{include-group = "dev"}',
    "[tool.poetry.dependencies]",
    'python = "^3.8"',
    "optional = true",
    "[tool.slimwheel]",
    "port = 0",
    "'''",
    '"""',
  ],
  run: sourceRun(pyproject, "pyproject.toml"),
});

const poetryLockTarget = textTarget({
  name: "poetry-lock",
  exercises: "poetry.lock reader",
  ext: "lock",
  tree: "toml",
  seeds: () => texts((n) => n === "poetry.lock"),
  arbitrary: () =>
    fc
      .record({
        package: fc.array(
          fc.record(
            {
              name: fc.oneof({ weight: 5, arbitrary: nameArb }, tomlScalar),
              version: looseVersionArb,
              category: fc.constantFrom("main", "dev"),
              groups: fc.array(groupName, { maxLength: 2 }),
              markers: fc.oneof(markerArb, fc.record({ main: markerArb }), tomlScalar),
              files: fc.array(
                fc.record({ file: fc.string(), hash: fc.constant(`sha256:${"a".repeat(64)}`) }),
                {
                  maxLength: 2,
                },
              ),
              source: fc.record({
                type: fc.constantFrom("git", "directory", "file", "url", "legacy"),
                url: urlArb,
              }),
              dependencies: fc.dictionary(
                nameArb,
                fc.oneof(
                  poetryConstraint,
                  fc.record(
                    {
                      version: poetryConstraint,
                      markers: markerArb,
                      optional: fc.boolean(),
                      extras: fc.array(nameArb),
                    },
                    { requiredKeys: [] },
                  ),
                  fc.array(
                    fc.record({ version: poetryConstraint, markers: markerArb }, { requiredKeys: [] }),
                    {
                      maxLength: 2,
                    },
                  ),
                ),
                { maxKeys: 4 },
              ),
              extras: fc.dictionary(
                nameArb,
                fc.array(
                  fc.oneof(
                    nameArb.map((n) => `${n} (>=1)`),
                    nameArb.map((n) => `${n}[x,y]`),
                    fc.string(),
                  ),
                  {
                    maxLength: 2,
                  },
                ),
                { maxKeys: 2 },
              ),
            },
            { requiredKeys: ["name"] },
          ),
          { maxLength: 5 },
        ),
        metadata: fc.record(
          {
            "lock-version": fc.constantFrom("1.1", "2.0", "2.1", "3.0", ""),
            "python-versions": fc.oneof(specifierArb, fc.constant("*")),
            "content-hash": fc.string(),
            files: fc.dictionary(nameArb, fc.array(fc.record({ hash: fc.string() }), { maxLength: 2 }), {
              maxKeys: 2,
            }),
          },
          { requiredKeys: [] },
        ),
      })
      .map(toToml),
  tokens: [
    "[[package]]",
    "name = ",
    "[package.dependencies]",
    "[package.extras]",
    "markers = ",
    "[metadata.files]",
  ],
  run: sourceRun(poetryLock, "poetry.lock"),
});

const uvLockTarget = textTarget({
  name: "uv-lock",
  exercises: "uv.lock reader",
  ext: "lock",
  tree: "toml",
  seeds: () => texts((n) => n === "uv.lock"),
  arbitrary: () => {
    const dep = fc.record(
      {
        name: fc.oneof({ weight: 5, arbitrary: nameArb }, tomlScalar),
        version: looseVersionArb,
        extra: fc.array(nameArb, { maxLength: 2 }),
        marker: markerArb,
      },
      { requiredKeys: ["name"] },
    );
    return fc
      .record(
        {
          version: fc.oneof(fc.constant(1), fc.integer(), fc.string({ maxLength: 3 })),
          "requires-python": specifierArb,
          manifest: fc.record({ members: fc.array(nameArb, { maxLength: 3 }) }),
          package: fc.array(
            fc.record(
              {
                name: fc.oneof({ weight: 5, arbitrary: nameArb }, tomlScalar),
                version: looseVersionArb,
                source: fc.oneof(
                  fc.constantFrom(
                    { editable: "." },
                    { virtual: "." },
                    { registry: "https://pypi.org/simple" },
                  ),
                  fc.dictionary(fc.constantFrom("git", "url", "path", "directory", "editable"), fc.string(), {
                    maxKeys: 2,
                  }),
                ),
                dependencies: fc.array(fc.oneof({ weight: 5, arbitrary: dep }, tomlValue), { maxLength: 4 }),
                "optional-dependencies": fc.dictionary(nameArb, fc.array(dep, { maxLength: 2 }), {
                  maxKeys: 2,
                }),
                "dev-dependencies": fc.dictionary(groupName, fc.array(dep, { maxLength: 2 }), { maxKeys: 2 }),
                sdist: fc.record({ url: fc.string(), hash: fc.string() }, { requiredKeys: [] }),
                wheels: fc.array(fc.record({ url: fc.string(), hash: fc.string() }, { requiredKeys: [] }), {
                  maxLength: 2,
                }),
              },
              { requiredKeys: ["name"] },
            ),
            { maxLength: 6 },
          ),
        },
        { requiredKeys: ["version"] },
      )
      .map(toToml);
  },
  tokens: [
    "[[package]]",
    "version = 1",
    'source = { editable = "." }',
    "dependencies = [",
    '{ name = "x" }',
    "marker = ",
  ],
  run: sourceRun(uvLock, "uv.lock"),
});

const pipfileTarget = textTarget({
  name: "pipfile",
  exercises: "Pipfile reader",
  ext: "toml",
  tree: "toml",
  seeds: () => texts((n) => n === "Pipfile"),
  arbitrary: () => {
    const spec = fc.oneof(
      fc.constant("*"),
      specifierArb,
      fc.record(
        {
          version: specifierArb,
          extras: fc.array(fc.oneof(nameArb, tomlScalar), { maxLength: 2 }),
          markers: markerArb,
          git: urlArb,
          ref: fc.string({ maxLength: 5 }),
          path: fc.string({ maxLength: 8 }),
          editable: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      tomlValue,
    );
    return fc
      .record(
        {
          source: fc.array(
            fc.record(
              { name: fc.string(), url: fc.oneof(urlArb, fc.string()), verify_ssl: fc.boolean() },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          packages: fc.dictionary(nameArb, spec, { maxKeys: 5 }),
          "dev-packages": fc.dictionary(nameArb, spec, { maxKeys: 3 }),
          requires: fc.record(
            { python_version: looseVersionArb, python_full_version: looseVersionArb },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      )
      .map(toToml);
  },
  tokens: ["[[source]]", "url = ", "verify_ssl = false", "[packages]", "[dev-packages]", "[requires]"],
  run: sourceRun(pipfile, "Pipfile"),
});

const pipfileLockTarget = textTarget({
  name: "pipfile-lock",
  exercises: "Pipfile.lock reader (JSON)",
  ext: "json",
  tree: "json",
  seeds: () => texts((n) => n === "Pipfile.lock"),
  arbitrary: () => {
    const entry = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record(
          {
            version: fc.oneof(
              versionArb.map((v) => `==${v}`),
              fc.string({ maxLength: 5 }),
            ),
            hashes: fc.array(fc.oneof(fc.constant(`sha256:${"b".repeat(64)}`), fc.jsonValue()), {
              maxLength: 2,
            }),
            markers: markerArb,
            git: urlArb,
            path: fc.string({ maxLength: 5 }),
            index: fc.constant("pypi"),
          },
          { requiredKeys: [] },
        ),
      },
      fc.jsonValue({ maxDepth: 2 }),
    );
    return fc
      .record(
        {
          _meta: fc.record(
            {
              "pipfile-spec": fc.oneof(fc.constant(6), fc.integer(), fc.jsonValue({ maxDepth: 1 })),
              requires: fc.record({ python_version: looseVersionArb }, { requiredKeys: [] }),
              sources: fc.array(fc.record({ name: fc.string(), url: urlArb })),
            },
            { requiredKeys: [] },
          ),
          default: fc.oneof(
            { weight: 5, arbitrary: fc.dictionary(nameArb, entry, { maxKeys: 5 }) },
            fc.jsonValue({ maxDepth: 1 }),
          ),
          develop: fc.oneof(
            { weight: 5, arbitrary: fc.dictionary(nameArb, entry, { maxKeys: 3 }) },
            fc.jsonValue({ maxDepth: 1 }),
          ),
        },
        { requiredKeys: [] },
      )
      .map((d) => JSON.stringify(d, null, 4));
  },
  tokens: ['"default": {', '"develop": {', '"version": "==1.0"', '"markers": "', "null", "[]", "{}"],
  run: sourceRun(pipfileLock, "Pipfile.lock"),
});

const pylockTarget = textTarget({
  name: "pylock",
  exercises: "pylock.toml reader (PEP 751)",
  ext: "toml",
  tree: "toml",
  seeds: () => texts((n) => n === "pylock.toml"),
  arbitrary: () => {
    const hashes = fc.dictionary(
      fc.constantFrom("sha256", "sha512", "md5"),
      fc.oneof(fc.constant("ab".repeat(32)), tomlScalar),
      {
        maxKeys: 2,
      },
    );
    return fc
      .record(
        {
          "lock-version": fc.oneof(fc.constantFrom("1.0", "1.1", "2.0", "1", "x", ""), tomlScalar),
          "requires-python": specifierArb,
          "default-groups": fc.array(groupName, { maxLength: 2 }),
          "created-by": fc.constant("fuzz"),
          packages: fc.oneof(
            {
              weight: 6,
              arbitrary: fc.array(
                fc.record(
                  {
                    name: fc.oneof({ weight: 5, arbitrary: nameArb }, tomlScalar),
                    version: looseVersionArb,
                    marker: markerArb,
                    index: urlArb,
                    wheels: fc.array(
                      fc.record({ name: fc.string(), url: urlArb, hashes }, { requiredKeys: [] }),
                      { maxLength: 2 },
                    ),
                    sdist: fc.record({ name: fc.string(), hashes }, { requiredKeys: [] }),
                    archive: fc.oneof(fc.record({ url: urlArb, hashes }, { requiredKeys: [] }), tomlScalar),
                    vcs: fc.oneof(
                      fc.record({ type: fc.constant("git"), url: urlArb }, { requiredKeys: [] }),
                      tomlScalar,
                    ),
                    directory: fc.oneof(fc.record({ path: fc.string() }, { requiredKeys: [] }), tomlScalar),
                  },
                  { requiredKeys: ["name"] },
                ),
                { maxLength: 5 },
              ),
            },
            tomlValue,
          ),
        },
        { requiredKeys: ["lock-version"] },
      )
      .map(toToml);
  },
  tokens: [
    "[[packages]]",
    'lock-version = "1.0"',
    "marker = ",
    "[packages.vcs]",
    "[[packages.wheels]]",
    "hashes = {",
  ],
  run: sourceRun(pylock, "pylock.toml"),
});

const setupCfgTarget = textTarget({
  name: "setup-cfg",
  exercises: "setup.cfg reader (INI)",
  ext: "cfg",
  seeds: () => texts((n) => n === "setup.cfg"),
  arbitrary: () => {
    const section = fc.constantFrom(
      "metadata",
      "options",
      "options.extras_require",
      "options.entry_points",
      "__proto__",
      "constructor",
      "bdist_wheel",
      " options ",
    );
    const value = fc.oneof(
      requirementArb,
      fc.array(requirementArb, { maxLength: 4 }).map((rs) => rs.map((r) => `\n    ${r}`).join("")),
      fc
        .array(fc.constantFrom("a = b:c", "tool=pkg.cli:main", "bad", "x = "), { maxLength: 3 })
        .map((rs) => rs.map((r) => `\n    ${r}`).join("")),
      specifierArb,
      fc.constantFrom("attr: pkg.__version__", "file: README.md", "", "a; b", "x # comment"),
    );
    const key = fc.constantFrom(
      "name",
      "version",
      "install_requires",
      "install-requires",
      "python_requires",
      "console_scripts",
      "dev",
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "Name",
    );
    return fc
      .array(
        fc.tuple(
          section,
          fc.array(fc.tuple(key, fc.constantFrom(" = ", "=", ": ", " : "), value), { maxLength: 4 }),
        ),
        { maxLength: 4 },
      )
      .map((secs) =>
        secs
          .map(([s, kvs]) => `[${s}]\n${kvs.map(([k, sep, v]) => `${k}${sep}${v}`).join("\n")}\n`)
          .join("\n"),
      );
  },
  tokens: [
    "[options]",
    "install_requires =\n    ",
    "\n    ",
    "[metadata]",
    "; comment",
    "# c",
    "[__proto__]",
    "__proto__ = x",
  ],
  run: sourceRun(setupCfg, "setup.cfg"),
});

const setupPyTarget = textTarget({
  name: "setup-py",
  exercises: "setup.py static reader",
  ext: "py",
  seeds: () => texts((n) => n === "setup.py"),
  arbitrary: () => {
    const lit = fc
      .tuple(
        fc.constantFrom('"', "'", '"""', "'''", 'r"', "b'", "u'"),
        fc.oneof(requirementArb, fc.string({ maxLength: 10 })),
      )
      .map(([q, s]) => {
        const close = q.replace(/^[rbu]/, "");
        return `${q}${s.replaceAll(close, `\\${close}`)}${close}`;
      });
    return fc
      .tuple(
        fc.option(lit, { nil: undefined }),
        fc.oneof(
          fc.array(lit, { maxLength: 4 }).map((ls) => `[${ls.join(", ")}]`),
          fc.array(lit, { maxLength: 3 }).map((ls) => `(${ls.join(",\n    ")},)`),
          fc.constantFrom(
            "REQUIREMENTS",
            "read('requirements.txt')",
            "[\n  # c\n  'a',\n]",
            "[",
            "['a' 'b']",
          ),
        ),
        fc.option(lit, { nil: undefined }),
        fc.array(fc.constantFrom('"tool = pkg.cli:main"', "'bad'", '"a=b"', "x"), { maxLength: 2 }),
      )
      .map(
        ([name, reqs, py, eps]) =>
          `from setuptools import setup\n\nsetup(\n${name ? `    name=${name},\n` : ""}    install_requires=${reqs},\n${py ? `    python_requires=${py},\n` : ""}    entry_points={"console_scripts": [${eps.join(", ")}]},\n)\n`,
      );
  },
  tokens: [
    "install_requires=",
    "install_requires = [",
    "python_requires=",
    "name=",
    "'console_scripts': [",
    '"""',
    "'''",
    "\\",
    "r'",
  ],
  run: sourceRun(setupPy, "setup.py"),
});

const pythonVersionTarget = textTarget({
  name: "python-version",
  exercises: ".python-version and runtime.txt readers",
  ext: "txt",
  seeds: () => [...texts((n) => n === ".python-version" || n === "runtime.txt"), "3.12\n", "python-3.11.4\n"],
  arbitrary: () =>
    fc
      .tuple(
        fc.constantFrom("", "python-", "cpython-", "pypy", "# c\n", "\n\n"),
        looseVersionArb,
        fc.constantFrom("", "\n", " # x", "\r\n3.9"),
      )
      .map((p) => p.join("")),
  run: (input) => {
    try {
      pythonVersionFile.parse(input, ".python-version");
    } finally {
      runtimeTxt.parse(input, "runtime.txt");
    }
  },
});

const pep440Target = textTarget({
  name: "pep440",
  exercises:
    "PEP 440 versions and specifiers (src/python/pep440.ts): validity, compare, satisfies, maxSatisfying",
  ext: "txt",
  seeds: () => [
    "1.0\n2.0.post1\n1.0a1\n>=1.0,<2",
    "1!2.0\n0.9\n~=1.0",
    "1.0.0+local.1\n1.0\n==1.0.*",
    "3.12.1\n3.8\n!=3.9.*,>=3.8",
    "2.0rc1\n2.0\n===2.0",
    "1.0\n1.0\n",
  ],
  arbitrary: () =>
    fc
      .tuple(fc.array(looseVersionArb, { minLength: 1, maxLength: 4 }), specifierArb)
      .map(([vs, s]) => [...vs, s].join("\n")),
  tokens: ["~=", "==", ".*", "!", "+", "post", "dev", "rc", ",", "<", ">"],
  run: (input) => {
    const lines = input.split("\n");
    const spec = lines.pop() ?? "";
    const valid = lines.filter(isValidVersion);
    const specOk = isValidSpecifier(spec);
    for (let i = 1; i < valid.length; i++) compareVersions(valid[i - 1]!, valid[i]!);
    if (specOk) {
      for (const v of valid) satisfies(v, spec);
      maxSatisfying(valid, spec);
    }
  },
});

/** format ∘ parse is stable: formatting a parsed requirement and parsing it again gives the same text. */
function roundTrip<T>(parse: (s: string) => T, format: (t: T) => string, input: string): void {
  const once = format(parse(input));
  const twice = format(parse(once));
  if (once !== twice)
    throw new RoundTripError(
      `format(parse(x)) is not stable: ${JSON.stringify(once)} → ${JSON.stringify(twice)}`,
    );
}
export class RoundTripError extends Error {
  override readonly name = "RoundTripError";
}

const ENVS = [
  linuxTarget("3.12"),
  linuxTarget("3.8.10", "aarch64"),
  { ...linuxTarget("3.11"), extra: "dev", extras: ["dev", "Security"], dependency_groups: ["test"] },
];

const pep508Target = textTarget({
  name: "pep508",
  exercises:
    "PEP 508 requirements (src/python/pep508.ts): parse, format round trip, pinnedVersion, appliesTo",
  ext: "txt",
  seeds: () => [
    ...texts((n) => n.endsWith(".txt") && n.startsWith("requirements"))
      .flatMap((t) => t.split("\n"))
      .map((l) =>
        l
          .replace(/\s--hash.*$/, "")
          .replace(/#.*$/, "")
          .trim(),
      )
      .filter((l) => l && !l.startsWith("-")),
    'requests[security,socks]>=2.8.1,==2.8.*; python_version < "2.7"',
    "name @ https://example.org/x.zip ; os_name == 'posix'",
    "pip (>=20.0)",
    'a; extra == "dev" and (sys_platform == "linux" or python_full_version >= "3.9.1")',
  ],
  arbitrary: () => requirementArb,
  tokens: [
    "[",
    "]",
    ",",
    "==",
    "~=",
    "===",
    ".*",
    " @ ",
    ";",
    " and ",
    " or ",
    "(",
    ")",
    "python_version",
    "extra",
    "'",
    '"',
  ],
  run: (input) => {
    const r = parseRequirement(input, { file: "requirements.txt", line: 1, column: 1 });
    roundTrip((s) => parseRequirement(s), formatRequirement, input);
    pinnedVersion(r);
    for (const env of ENVS) appliesTo(r, env);
  },
});

const markersTarget = textTarget({
  name: "markers",
  exercises:
    "PEP 508 markers (src/python/markers.ts): parse, evaluate in three targets, format round trip, extras",
  ext: "txt",
  seeds: () =>
    [
      ...texts((n) => n.endsWith(".lock") || n === "pylock.toml" || n === "Pipfile.lock").flatMap((t) =>
        [...t.matchAll(/markers?"?\s*[:=]\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replaceAll('\\"', '"')),
      ),
      'python_version >= "3.8" and (sys_platform == "linux" or platform_machine != "x86_64")',
      "'dev' in dependency_groups or extra == 'test'",
      'platform_release >= "5.0" and implementation_name == "cpython"',
      '"linux" in sys_platform',
    ].filter(Boolean),
  arbitrary: () => markerArb,
  tokens: [
    " and ",
    " or ",
    "(",
    ")",
    "not in",
    " in ",
    "python_version",
    "extras",
    "dependency_groups",
    "'",
    '"',
    "==",
    "~=",
  ],
  run: (input) => {
    const m = parseMarker(input, { file: "pyproject.toml", line: 3 });
    for (const env of ENVS) evaluateMarker(m, env);
    markerExtras(m);
    roundTrip(
      (s) => parseMarker(s),
      (x) => formatMarker(x),
      input,
    );
  },
});

const wheelTarget = textTarget({
  name: "wheel-filename",
  exercises: "wheel file names (parseWheelFilename, src/python/wheel-filename.ts)",
  ext: "txt",
  seeds: () => [
    "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "six-1.16.0-py2.py3-none-any.whl",
    "pkg-1.0-1-py3-none-any.whl",
    "psycopg2_binary-2.9.9-cp311-cp311-musllinux_1_1_aarch64.whl",
    ...texts((n) => n.endsWith(".lock") || n === "pylock.toml").flatMap(
      (t) => t.match(/[\w.+!-]+\.whl/g) ?? [],
    ),
  ],
  arbitrary: () =>
    fc
      .tuple(
        nameArb,
        looseVersionArb,
        fc.option(fc.stringMatching(/^[0-9a-z_]{1,3}$/), { nil: undefined }),
        fc.array(fc.constantFrom("py3", "py2", "cp312", "pp310", ""), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom("none", "abi3", "cp312"), { minLength: 1, maxLength: 3 }),
        fc.array(fc.constantFrom("any", "linux_x86_64", "manylinux_2_17_aarch64", "win_amd64"), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.constantFrom(".whl", ".WHL", ".zip", ""),
      )
      .map(
        ([n, v, b, py, abi, plat, ext]) =>
          `${n}-${v}${b !== undefined ? `-${b}` : ""}-${py.join(".")}-${abi.join(".")}-${plat.join(".")}${ext}`,
      ),
  tokens: ["-", ".", "_", ".whl", "py3", "none", "any"],
  run: (input) => parseWheelFilename(input),
});

const sdistTarget = textTarget({
  name: "sdist-filename",
  exercises: "sdist file names (parseSdistFilename, src/python/wheel-filename.ts)",
  ext: "txt",
  seeds: () => [
    "flask-2.2.2.tar.gz",
    "zope.interface-6.0.zip",
    "my-legacy-name-1.0.post1.tar.bz2",
    ...texts((n) => n.endsWith(".lock") || n === "pylock.toml").flatMap(
      (t) => t.match(/[\w.+!-]+\.tar\.gz/g) ?? [],
    ),
  ],
  arbitrary: () =>
    fc
      .tuple(
        nameArb,
        fc.constantFrom("-", "_", "--"),
        looseVersionArb,
        fc.constantFrom(".tar.gz", ".zip", ".tar.bz2", ".tar", ".tgz", ""),
      )
      .map((p) => p.join("")),
  tokens: ["-", ".tar.gz", ".zip", "1.0", "-1"],
  run: (input) => parseSdistFilename(input),
});

// ---------------------------------------------------------------------------------------------
// Binary targets

const elfArb = fc
  .record({
    cls: fc.constantFrom(32 as const, 64 as const),
    le: fc.boolean(),
    machine: fc.constantFrom(62, 183, 3, 40, 0, 0xffff),
    needed: fc.array(
      fc.constantFrom("libc.so.6", "libc.musl-x86_64.so.1", "libssl.so.3", "libpq.so.5", "", "a:b"),
      { maxLength: 4 },
    ),
    soname: fc.option(fc.constantFrom("libx.so.1", ""), { nil: undefined }),
    rpath: fc.option(fc.constantFrom("$ORIGIN/../lib", "/usr/lib:/opt/lib", ":"), { nil: undefined }),
    runpath: fc.option(fc.constantFrom("$ORIGIN", "/a::/b"), { nil: undefined }),
    interp: fc.option(fc.constantFrom("/lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1", ""), {
      nil: undefined,
    }),
    static: fc.boolean(),
    mapped: fc.boolean(),
  })
  .map(elfOf);

const elfTarget: FuzzTarget<Buffer> = {
  name: "elf",
  exercises: "ELF reader (parseElf, src/sysdeps/elf.ts)",
  ext: "so",
  quick: 2000,
  ...bytes,
  seeds: once(() => [
    elfOf({
      cls: 64,
      le: true,
      machine: 62,
      needed: ["libc.so.6", "libssl.so.3"],
      soname: "libx.so",
      mapped: true,
      interp: "/lib64/ld-linux-x86-64.so.2",
    }),
    elfOf({ cls: 64, le: true, machine: 183, needed: ["libc.musl-aarch64.so.1"], runpath: "$ORIGIN/../lib" }),
    elfOf({ cls: 32, le: false, machine: 40, needed: ["libc.so.6"], rpath: "/a:/b" }),
    elfOf({ cls: 32, le: true, machine: 3, needed: [], static: true, interp: "/lib/ld-linux.so.2" }),
  ]),
  arbitrary: () => elfArb,
  mutate: (input, rng, corpus) => mutateBytes(input, rng, corpus),
  run: (input) => parseElf(input, "module.so"),
};

const tarEntryArb: fc.Arbitrary<TarEntry> = fc.record(
  {
    name: fc.constantFrom(
      "usr/bin/gcc-12",
      "./usr/include/stdio.h",
      "app/.wh.old.py",
      "app/.wh..wh..opq",
      "usr/lib/libx.a",
      "app/main.py",
      "a/b/",
      ".wh.",
      "",
      "../../escape",
      "/abs/file",
      "x".repeat(99),
    ),
    type: fc.constantFrom("0", "0", "0", "5", "2", "1", "x", "L", "g", "7", "\0"),
    data: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constant("path=very/long/name\n"),
      fc.constant("25 path=a/.wh.b\n"),
    ),
    linkname: fc.constantFrom("", "target", "../../etc/passwd"),
    size: fc.option(fc.nat(2048), { nil: undefined, freq: 8 }),
  },
  { requiredKeys: ["name", "data"] },
);

const tarLayerTarget: FuzzTarget<Buffer> = {
  name: "tar-layer",
  exercises: "layer tar reader (analyzeLayer, src/oci/layer.ts), plain and gzip",
  ext: "tar",
  quick: 500,
  ...bytes,
  seeds: once(() => [
    tarOf([
      { name: "app/main.py", data: "print(1)\n" },
      { name: "usr/bin/gcc-12", data: "ELF" },
    ]),
    gzip(
      tarOf([
        { name: "app/.wh.old.py", data: "" },
        { name: "app/", type: "5" },
      ]),
    ),
    tarOf([]),
  ]),
  arbitrary: () =>
    fc
      .tuple(fc.array(tarEntryArb, { maxLength: 5 }), fc.boolean())
      .map(([entries, gz]) => (gz ? gzip(tarOf(entries)) : tarOf(entries))),
  mutate(input, rng, corpus) {
    // Mutate the tar inside the gzip too, not only the compressed bytes.
    if (input[0] === 0x1f && input[1] === 0x8b && rng.bool(0.7)) {
      try {
        return gzip(mutateBytes(Buffer.from(gunzipSync(input)), rng, corpus));
      } catch {
        /* corrupt already */
      }
    }
    return mutateBytes(input, rng, corpus);
  },
  run: (input) => analyzeLayer(Readable.from([input]), input[0] === 0x1f && input[1] === 0x8b, "layer"),
};

/** An image as files: OCI layout (blobs by digest) from layer entry lists. */
interface ImageSpec {
  readonly layers: readonly { readonly entries: readonly TarEntry[]; readonly gz: boolean }[];
  readonly nested: boolean;
  readonly mediaType: string;
  readonly history: boolean;
}

const imageSpecArb: fc.Arbitrary<ImageSpec> = fc.record({
  layers: fc.array(fc.record({ entries: fc.array(tarEntryArb, { maxLength: 3 }), gz: fc.boolean() }), {
    maxLength: 3,
  }),
  nested: fc.boolean(),
  mediaType: fc.constantFrom(
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "",
  ),
  history: fc.boolean(),
});

type BinFiles = Record<string, Buffer>;

function ociLayout(spec: ImageSpec): BinFiles {
  const files: BinFiles = { "oci-layout": Buffer.from('{"imageLayoutVersion":"1.0.0"}') };
  const blob = (b: Buffer) => {
    const d = sha256(b);
    files[`blobs/sha256/${d}`] = b;
    return { digest: `sha256:${d}`, size: b.length };
  };
  const layerTars = spec.layers.map((l) => tarOf(l.entries));
  const layers = spec.layers.map((l, i) => ({
    mediaType: l.gz ? "application/vnd.oci.image.layer.v1.tar+gzip" : spec.mediaType,
    ...blob(l.gz ? gzip(layerTars[i]!) : layerTars[i]!),
  }));
  const config = {
    architecture: "amd64",
    os: "linux",
    config: { User: "app", Env: ["PATH=/usr/bin"], Cmd: ["python", "app.py"], Labels: { a: "b" } },
    rootfs: { type: "layers", diff_ids: layerTars.map((t) => `sha256:${sha256(t)}`) },
    history: spec.history ? layerTars.map((_, i) => ({ created_by: `RUN step ${i}` })) : undefined,
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      ...blob(Buffer.from(JSON.stringify(config))),
    },
    layers,
  };
  let top = { mediaType: manifest.mediaType, ...blob(Buffer.from(JSON.stringify(manifest))) };
  if (spec.nested) {
    const index = { schemaVersion: 2, manifests: [top] };
    top = {
      mediaType: "application/vnd.oci.image.index.v1+json",
      ...blob(Buffer.from(JSON.stringify(index))),
    };
  }
  files["index.json"] = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [top] }));
  return files;
}

function mutateJsonBytes(b: Buffer, rng: Rng): Buffer {
  try {
    const doc = JSON.parse(b.toString("utf8"));
    mutateTree(doc, rng, true);
    return Buffer.from(JSON.stringify(doc));
  } catch {
    return Buffer.from(mutateText(b.toString("utf8"), rng));
  }
}

function mutateFiles(input: BinFiles, rng: Rng, corpus: readonly Buffer[]): BinFiles {
  const files = { ...input };
  const keys = Object.keys(files);
  const rounds = 1 + rng.small(3);
  for (let r = 0; r < rounds && keys.length; r++) {
    const k = rng.pick(keys);
    const b = files[k];
    if (!b) continue;
    const isJson = b[0] === 0x7b || b[0] === 0x5b;
    const op = rng.int(10);
    if (op === 0) delete files[k];
    else if (isJson && op < 7) files[k] = mutateJsonBytes(b, rng);
    else files[k] = mutateBytes(b, rng, corpus);
  }
  return files;
}

const encodeFiles = (f: BinFiles) =>
  Buffer.from(
    `${JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.toString("base64")])), null, 2)}\n`,
  );
const decodeFiles = (b: Buffer): BinFiles =>
  Object.fromEntries(
    Object.entries(JSON.parse(b.toString("utf8")) as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, "base64"),
    ]),
  );

/** Writes a file set under `dir` (emptied first); names are confined to it. */
function writeFiles(dir: string, files: BinFiles): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const rel = posix.normalize(name).replace(/^(\.\.\/)+|^\/+/, "");
    if (!rel || rel === "." || rel.startsWith("..")) continue;
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
  }
}

const ociLayoutTarget: FuzzTarget<BinFiles> = {
  name: "oci-layout",
  exercises: "OCI image layout reader (readLayout, src/oci/layout.ts) over a temp directory",
  ext: "json",
  kind: "files",
  quick: 400,
  seeds: once(() => [
    ociLayout({
      layers: [{ entries: [{ name: "app/main.py", data: "x" }], gz: true }],
      nested: false,
      mediaType: "",
      history: true,
    }),
    ociLayout({
      layers: [{ entries: [{ name: "usr/bin/gcc", data: "x" }], gz: false }],
      nested: true,
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      history: false,
    }),
  ]),
  arbitrary: () => imageSpecArb.map(ociLayout),
  mutate: (input, rng, corpus) =>
    mutateFiles(
      input,
      rng,
      corpus.flatMap((c) => Object.values(c)),
    ),
  run(input, scratch) {
    const dir = join(scratch.dir, "layout");
    writeFiles(dir, input);
    return readLayout(dir);
  },
  encode: encodeFiles,
  decode: decodeFiles,
};

function dockerArchive(spec: ImageSpec): Buffer {
  const layerTars = spec.layers.map((l) => tarOf(l.entries));
  const names = layerTars.map((t, i) => (spec.nested ? `blobs/sha256/${sha256(t)}` : `${i}abc/layer.tar`));
  const config = {
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["python"], Env: [] },
    rootfs: { type: "layers", diff_ids: layerTars.map((t) => `sha256:${sha256(t)}`) },
    history: spec.history ? layerTars.map((_, i) => ({ created_by: `RUN ${i}` })) : undefined,
  };
  const configText = JSON.stringify(config);
  const configName = `${sha256(configText)}.json`;
  const manifest = [{ Config: configName, RepoTags: ["app:latest"], Layers: names }];
  return tarOf([
    { name: "manifest.json", data: JSON.stringify(manifest) },
    { name: configName, data: configText },
    ...layerTars.map((t, i) => ({ name: names[i]!, data: spec.layers[i]!.gz ? gzip(t) : t })),
    { name: "repositories", data: '{"app":{"latest":"x"}}' },
  ]);
}

/** Entries of a tar built by tarOf (to mutate a docker archive's JSON members structurally). */
function tarMembers(b: Buffer): TarEntry[] | undefined {
  const out: TarEntry[] = [];
  for (let o = 0; o + 512 <= b.length; ) {
    const h = b.subarray(o, o + 512);
    if (h.every((x) => x === 0)) return out;
    const name = h.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const size = Number.parseInt(h.toString("latin1", 124, 136).replace(/\0.*$/s, ""), 8);
    if (!Number.isFinite(size)) return undefined;
    out.push({ name, type: String.fromCharCode(h[156]!), data: b.subarray(o + 512, o + 512 + size) });
    o += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const dockerArchiveTarget: FuzzTarget<Buffer> = {
  name: "docker-archive",
  exercises: "docker archive reader (readDockerArchive, src/oci/docker-archive.ts) over a temp file",
  ext: "tar",
  quick: 250,
  ...bytes,
  seeds: once(() => [
    dockerArchive({
      layers: [{ entries: [{ name: "app/main.py", data: "x" }], gz: false }],
      nested: false,
      mediaType: "",
      history: true,
    }),
    dockerArchive({
      layers: [
        { entries: [{ name: "usr/bin/cc", data: "x" }], gz: true },
        { entries: [], gz: false },
      ],
      nested: true,
      mediaType: "",
      history: false,
    }),
  ]),
  arbitrary: () => imageSpecArb.map(dockerArchive),
  mutate(input, rng, corpus) {
    if (rng.bool(0.5)) {
      const members = tarMembers(input);
      if (members?.length) {
        const i = rng.int(members.length);
        const m = members[i]!;
        const data = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data ?? "");
        members[i] = {
          ...m,
          data:
            data[0] === 0x7b || data[0] === 0x5b
              ? mutateJsonBytes(data, rng)
              : mutateBytes(data, rng, corpus),
        };
        if (rng.bool(0.1)) members.splice(rng.int(members.length), 1);
        return tarOf(members);
      }
    }
    return mutateBytes(input, rng, corpus);
  },
  run(input, scratch) {
    mkdirSync(scratch.dir, { recursive: true });
    const file = join(scratch.dir, "image.tar");
    writeFileSync(file, input);
    return readDockerArchive(file);
  },
};

const dockerfileTarget = textTarget({
  name: "dockerfile",
  exercises: "Dockerfile parser and every lint rule (lintText)",
  ext: "Dockerfile",
  quick: 500,
  seeds: () => [
    ...texts((n) => n.endsWith(".Dockerfile") || n === "Dockerfile"),
    ...lintRules.flatMap((r) => [...r.good, ...r.bad]),
  ],
  arbitrary: () => {
    const keyword = fc.constantFrom(
      "FROM",
      "RUN",
      "COPY",
      "ADD",
      "ENV",
      "ARG",
      "USER",
      "WORKDIR",
      "CMD",
      "ENTRYPOINT",
      "LABEL",
      "EXPOSE",
      "HEALTHCHECK",
      "ONBUILD",
      "SHELL",
      "VOLUME",
      "STOPSIGNAL",
      "from",
      "# slimwheel-ignore",
      "# escape=`",
    );
    const word = fc.oneof(
      fc.constantFrom(
        "python:3.12-slim AS build",
        "--from=build",
        "--mount=type=cache,target=/root/.cache/pip",
        "apt-get install -y gcc",
        "pip install -r requirements.txt",
        '["python", "app.py"]',
        "&& rm -rf /var/lib/apt/lists/*",
        "\\",
        "${X:-y}",
        "<<EOF",
        "EOF",
        ". /app/",
      ),
      fc.string({ maxLength: 12 }),
    );
    return fc
      .array(fc.tuple(keyword, fc.array(word, { maxLength: 5 })), { maxLength: 12 })
      .map((lines) => lines.map(([k, ws]) => `${k} ${ws.join(" ")}`).join("\n"));
  },
  tokens: [
    "FROM python:3.12\n",
    "RUN ",
    "\\\n",
    "COPY --from=",
    "<<EOF\n",
    "\nEOF\n",
    "# escape=`\n",
    "`\n",
    "${",
    "}",
  ],
  run: (input) => lintText(input, "Dockerfile"),
});

export const targets: readonly FuzzTarget[] = [
  requirementsTarget,
  pyprojectTarget,
  poetryLockTarget,
  uvLockTarget,
  pipfileTarget,
  pipfileLockTarget,
  pylockTarget,
  setupCfgTarget,
  setupPyTarget,
  pythonVersionTarget,
  pep440Target,
  pep508Target,
  markersTarget,
  wheelTarget,
  sdistTarget,
  elfTarget,
  tarLayerTarget,
  ociLayoutTarget,
  dockerArchiveTarget,
  dockerfileTarget,
] as unknown as readonly FuzzTarget[];

export function targetNamed(name: string): FuzzTarget {
  const t = targets.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target "${name}" (known: ${targets.map((x) => x.name).join(", ")})`);
  return t;
}
