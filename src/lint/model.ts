/**
 * A Dockerfile as the lint rules see it: instructions with exact positions, grouped into stages,
 * with the build arguments declared before the first FROM resolved from their defaults.
 *
 * Parsing is dockerfile-ast's (docs/dependencies.md): BuildKit heredocs, `RUN --mount`, the
 * `# escape=` directive, line continuations and comments inside them.
 */
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { SlimwheelError } from "../errors.js";
import type { Range0 } from "./types.js";

export interface Flag {
  readonly name: string;
  readonly value: string | undefined;
  readonly range: Range0;
}

export interface Inst {
  /** Upper-case keyword: RUN, COPY, FROM… */
  readonly keyword: string;
  /** 0-based range of the whole instruction, continuation lines included. */
  readonly range: Range0;
  /** The arguments after the flags: continuation lines joined, comments dropped, heredoc bodies kept. */
  readonly args: string;
  /** The arguments as words (the JSON array's strings for the exec form). */
  readonly argv: readonly string[];
  /** 0-based ranges of the words of `argv` (shell form only; the instruction's range otherwise). */
  readonly argRanges: readonly Range0[];
  readonly json: boolean;
  readonly flags: readonly Flag[];
  /** Index of the stage the instruction belongs to; -1 before the first FROM. */
  readonly stage: number;
  /** For ENV, ARG and LABEL: name, value and the 0-based range of each pair. */
  readonly properties: readonly { name: string; value: string | undefined; range: Range0 }[];
}

export type Libc = "glibc" | "musl";

export interface Stage {
  readonly index: number;
  /** `AS name`, lower-cased (stage names are case-insensitive). */
  readonly name: string | undefined;
  readonly from: Inst;
  /** The image as written, `${VAR}`s and all. */
  readonly image: string;
  /** The image with build arguments replaced by their defaults; undefined when one has none. */
  readonly resolvedImage: string | undefined;
  /** The stage this one starts from (`FROM name`), if any. */
  readonly parent: number | undefined;
  readonly instructions: readonly Inst[];
}

export interface DockerfileModel {
  readonly path: string;
  readonly text: string;
  readonly escape: string;
  readonly instructions: readonly Inst[];
  readonly stages: readonly Stage[];
  /** Comment lines: 0-based line and the text after `#`. */
  readonly comments: readonly { line: number; text: string }[];
  /** Build arguments declared before the first FROM, with their (resolved) defaults. */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
}

/** The last stage: what `docker build` ships without `--target`. */
export const finalStage = (df: DockerfileModel): Stage | undefined => df.stages.at(-1);

/** The stages whose layers end up in the final image: the last stage and the stages it starts FROM. */
export function shippedStages(df: DockerfileModel): Set<number> {
  const out = new Set<number>();
  let s = finalStage(df);
  while (s && !out.has(s.index)) {
    out.add(s.index);
    s = s.parent === undefined ? undefined : df.stages[s.parent];
  }
  return out;
}

/** A stage and its ancestors, oldest first: everything a stage's image holds. */
export function lineage(df: DockerfileModel, stage: Stage): Stage[] {
  const out: Stage[] = [];
  const seen = new Set<number>();
  let s: Stage | undefined = stage;
  while (s && !seen.has(s.index)) {
    seen.add(s.index);
    out.unshift(s);
    s = s.parent === undefined ? undefined : df.stages[s.parent];
  }
  return out;
}

/** The stage `--from=NAME` names (a name or an index), if it is a stage of this file. */
export function stageNamed(df: DockerfileModel, ref: string): Stage | undefined {
  const r = ref.toLowerCase();
  if (/^\d+$/.test(r)) return df.stages[Number(r)];
  return df.stages.find((s) => s.name === r);
}

/** The C library of a stage's image, when its name tells; undefined when it does not. */
export function libcOf(df: DockerfileModel, stage: Stage): Libc | undefined {
  if (stage.parent !== undefined) {
    const p = df.stages[stage.parent];
    return p && p.index !== stage.index ? libcOf(df, p) : undefined;
  }
  return libcOfImage(stage.resolvedImage);
}

export function libcOfImage(image: string | undefined): Libc | undefined {
  if (!image) return undefined;
  const { name, tag } = splitImage(image);
  const last = name.split("/").at(-1) ?? name;
  if (last === "alpine" || /(^|[-.])alpine/.test(tag ?? "") || /alpine/.test(last)) return "musl";
  if (last === "scratch") return undefined;
  if (
    /^(python|debian|ubuntu|buildpack-deps|fedora|centos|rockylinux|almalinux|amazonlinux|redhat|ubi\d*|ubi\d*-minimal|pypy|node|golang|rust|openjdk|eclipse-temurin)$/.test(
      last,
    ) ||
    name.includes("distroless")
  )
    return "glibc";
  return undefined;
}

/** `registry/name:tag@digest` → its parts (the tag and digest when present). */
export function splitImage(image: string): {
  name: string;
  tag: string | undefined;
  digest: string | undefined;
} {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest.toLowerCase(), tag, digest };
}

/** Replaces `$X`, `${X}`, `${X:-default}` and `${X:+alt}` from `vars`; undefined when a variable has no value. */
export function substitute(value: string, vars: ReadonlyMap<string, string | undefined>): string | undefined {
  let unresolved = false;
  const out = value.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (
      _m,
      braced: string | undefined,
      op: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      const name = (braced ?? bare) as string;
      const v = vars.get(name);
      const set = v !== undefined && v !== "";
      if (op === "-") return set ? v : (word ?? "");
      if (op === "+") return set ? (word ?? "") : "";
      if (v === undefined) unresolved = true;
      return v ?? "";
    },
  );
  return unresolved ? undefined : out;
}

function rangeOf(r: {
  start: { line: number; character: number };
  end: { line: number; character: number };
}): Range0 {
  return {
    start: { line: r.start.line, character: r.start.character },
    end: { line: r.end.line, character: r.end.character },
  };
}

function flagsOf(i: Instruction): Flag[] {
  const withFlags = i as Instruction & {
    getFlags?: () => { getName(): string; getValue(): string | null; getRange(): Range0 }[];
  };
  if (typeof withFlags.getFlags !== "function") return [];
  return withFlags.getFlags().map((f) => ({
    name: f.getName().toLowerCase(),
    value: f.getValue() ?? undefined,
    range: rangeOf(f.getRange()),
  }));
}

function propertiesOf(i: Instruction): Inst["properties"] {
  const withProps = i as Instruction & {
    getProperties?: () => { getName(): string; getValue(): string | null; getRange(): Range0 }[];
    getProperty?: () => { getName(): string; getValue(): string | null; getRange(): Range0 } | null;
  };
  const list =
    typeof withProps.getProperties === "function"
      ? withProps.getProperties()
      : typeof withProps.getProperty === "function"
        ? [withProps.getProperty()].filter((p) => p !== null)
        : [];
  return list.map((p) => ({
    name: p.getName(),
    value: p.getValue() ?? undefined,
    range: rangeOf(p.getRange()),
  }));
}

function jsonArgs(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a Dockerfile's text. Throws only SlimwheelError (code "input") naming `path`. */
export function parseDockerfile(text: string, path: string): DockerfileModel {
  let ast: ReturnType<typeof DockerfileParser.parse>;
  try {
    ast = DockerfileParser.parse(text);
  } catch (e) {
    throw new SlimwheelError("input", "could not be parsed as a Dockerfile", {
      location: path,
      hint: "check the file is a Dockerfile (instructions such as FROM, RUN, COPY)",
      cause: e,
    });
  }
  const instructions: Inst[] = [];
  const stages: Stage[] = [];
  const stageInsts: Inst[][] = [];
  const globalArgs = new Map<string, string | undefined>();
  for (const i of ast.getInstructions()) {
    const keyword = i.getKeyword().toUpperCase();
    const args = i.getArgumentsContent() ?? "";
    const parsedJson = jsonArgs(args.trim());
    const words = i.getArguments();
    const inst: Inst = {
      keyword,
      range: rangeOf(i.getRange()),
      args,
      argv: parsedJson ?? words.map((a) => a.getValue()),
      argRanges: parsedJson
        ? parsedJson.map(() => rangeOf(i.getRange()))
        : words.map((a) => rangeOf(a.getRange())),
      json: parsedJson !== undefined,
      flags: flagsOf(i),
      stage: keyword === "FROM" ? stages.length : stages.length - 1,
      properties: keyword === "ENV" || keyword === "ARG" || keyword === "LABEL" ? propertiesOf(i) : [],
    };
    instructions.push(inst);
    if (keyword === "ARG" && stages.length === 0) {
      for (const p of inst.properties) {
        globalArgs.set(p.name, p.value === undefined ? undefined : substitute(p.value, globalArgs));
      }
    }
    if (keyword === "FROM") {
      const image = inst.argv[0] ?? "";
      const asAt = inst.argv.findIndex((a) => a.toLowerCase() === "as");
      const name = asAt >= 1 ? inst.argv[asAt + 1]?.toLowerCase() : undefined;
      const resolved = substitute(image, globalArgs);
      const parentStage =
        resolved === undefined ? undefined : stages.find((s) => s.name === resolved.toLowerCase());
      const list: Inst[] = [];
      stageInsts.push(list);
      stages.push({
        index: stages.length,
        name,
        from: inst,
        image,
        resolvedImage: resolved,
        parent: parentStage?.index,
        instructions: list,
      });
    } else if (stages.length > 0) {
      stageInsts[stages.length - 1]!.push(inst);
    }
  }
  const comments = ast.getComments().map((c) => ({ line: c.getRange().start.line, text: c.getContent() }));
  return { path, text, escape: ast.getEscapeCharacter(), instructions, stages, comments, globalArgs };
}

/** The instruction's flag of that name (`--mount` may appear several times: see `flagsNamed`). */
export const flagNamed = (i: Inst, name: string): Flag | undefined => i.flags.find((f) => f.name === name);
export const flagsNamed = (i: Inst, name: string): Flag[] => i.flags.filter((f) => f.name === name);

/** The `key=value` options of a `--mount` flag. */
export function mountOptions(f: Flag): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (f.value ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) out.set(part.trim().toLowerCase(), "");
    else out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}
