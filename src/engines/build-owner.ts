/**
 * Which of buildah's working containers one `slimwheel build` made. `buildah bud` names its
 * working containers after the base image (`IMAGE-working-container-N`), so two builds on one
 * storage cannot be told apart by name. But buildah records every `--build-arg` of the build in the
 * container's state (`buildah.json`, field `Args`), so each build passes one argument no
 * Dockerfile declares, `SLIMWHEEL_BUILD_ID`, with a value of its own. An undeclared argument
 * changes nothing in the image and nothing in buildah's layer cache (it keys on the arguments a
 * stage declares); buildah only warns that it was not consumed, a line `ownArgWarning` filters.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Env, exec } from "../util/exec.js";

export const BUILD_ID_ARG = "SLIMWHEEL_BUILD_ID";

/** A build id: the process id (so tests can attribute it) and 8 random hex digits. */
export function newBuildId(pid = process.pid): string {
  return `slimwheel-${pid}-${randomBytes(4).toString("hex")}`;
}

export interface ListedContainer {
  readonly id: string;
  readonly builder: boolean;
  readonly containername: string;
}

/** A build id, or a test over build ids (e.g. every build of one process). */
export type BuildMatch = string | ((buildId: string) => boolean);

/** The containers (from `buildah containers --json`) whose recorded build id matches. */
export async function ownedBy(
  list: readonly ListedContainer[],
  match: BuildMatch,
  argsOf: (id: string) => Promise<Record<string, string> | undefined>,
): Promise<string[]> {
  const test = typeof match === "string" ? (id: string) => id === match : match;
  const mine: string[] = [];
  for (const c of list) {
    if (!c.builder) continue;
    const id = (await argsOf(c.id))?.[BUILD_ID_ARG];
    if (id !== undefined && test(id)) mine.push(c.id);
  }
  return mine;
}

/** The arguments buildah recorded for a container, read from its state file (undefined if gone). */
export async function recordedArgs(
  storage: { graphRoot: string; driver: string },
  id: string,
): Promise<Record<string, string> | undefined> {
  const file = join(storage.graphRoot, `${storage.driver}-containers`, id, "userdata", "buildah.json");
  try {
    const state = JSON.parse(await readFile(file, "utf8")) as { Args?: Record<string, string> };
    return state.Args ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * A buildah query that may fail for a moment while other builds on the same storage add or remove
 * containers (exit 125): tried three times, a second apart. `strict` throws on the last failure;
 * otherwise it gives undefined.
 */
async function query(args: string[], env: Env, strict: boolean): Promise<unknown> {
  let last = "";
  for (let i = 0; i < 3; i++) {
    if (i) await new Promise((r) => setTimeout(r, 1000));
    const r = await exec("buildah", args, { env, allowFailure: true });
    if (r.code === 0) {
      try {
        return JSON.parse(r.stdout || "null") as unknown;
      } catch {
        last = `not JSON: ${r.stdout.slice(0, 200)}`;
        continue;
      }
    }
    last = r.stderr.trim();
  }
  if (strict) throw new Error(`buildah ${args.join(" ")} failed three times: ${last}`);
  return undefined;
}

/**
 * The working containers the matching builds left in buildah's storage. When buildah cannot be
 * asked, none (a clean-up that cannot tell whose a container is removes nothing) — or, with
 * `strict` (tests), an error.
 */
export async function containersOfBuild(match: BuildMatch, env: Env, strict = false): Promise<string[]> {
  const info = (await query(["info"], env, strict)) as
    | { store?: { GraphRoot?: string; GraphDriverName?: string } }
    | undefined;
  const store = info?.store;
  if (!store?.GraphRoot || !store.GraphDriverName) {
    if (strict) throw new Error("buildah info names no GraphRoot/GraphDriverName");
    return [];
  }
  const storage = { graphRoot: store.GraphRoot, driver: store.GraphDriverName };
  const list = await query(["containers", "--json"], env, strict);
  if (!Array.isArray(list)) return [];
  return ownedBy(list as ListedContainer[], match, (id) => recordedArgs(storage, id));
}

/**
 * buildah's "[Warning] one or more build args were not consumed: [A B]" without our own argument:
 * the line unchanged when it does not name it, the other names when it does, undefined when ours
 * was the only one.
 */
export function ownArgWarning(line: string): string | undefined {
  const m = /^(.*build args were not consumed: \[)([^\]]*)(\].*)$/.exec(line);
  if (!m) return line;
  const names = m[2]!.split(/\s+/).filter((n) => n && n !== BUILD_ID_ARG);
  return names.length ? `${m[1]}${names.join(" ")}${m[3]}` : undefined;
}
