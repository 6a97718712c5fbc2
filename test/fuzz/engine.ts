/**
 * Running fuzz cases: deterministic inputs per (seed, target, index), the contract check (a result
 * or a SlimwheelError; anything else is a crash), crash signatures, minimization of crashing
 * inputs, and regression fixtures under test/fixtures/fuzz/<target>/<hash>.<ext>.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { isSlimwheelError } from "../../src/errors.js";
import { caseSeed, Rng, sha256 } from "./mutate.js";
import type { FuzzTarget, Scratch } from "./targets.js";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "fuzz");

/** Input `index` of a run: half structured (fast-check), half mutations of seeds or generated inputs. */
export function generate<I>(target: FuzzTarget<I>, seed: number, index: number): I {
  const s = caseSeed(seed, target.name, index);
  const rng = new Rng(s);
  const seeds = target.seeds();
  const fresh = () => fc.sample(target.arbitrary(), { seed: s | 0, numRuns: 1 })[0]!;
  const mode = rng.int(10);
  if (mode < 4 || seeds.length === 0) return fresh();
  const base = mode < 8 ? rng.pick(seeds) : fresh();
  return target.mutate(base, rng, seeds);
}

export type Outcome =
  | { readonly kind: "ok" }
  | { readonly kind: "typed"; readonly code: string }
  | { readonly kind: "crash"; readonly error: unknown; readonly signature: string };

/** Own properties of the shared prototypes: a parser must never add any (prototype pollution). */
const PROTOS: readonly [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["String.prototype", String.prototype],
];
const protoKeys = () => PROTOS.map(([, p]) => Reflect.ownKeys(p).length);
const baseline = protoKeys();

export class PrototypePollution extends Error {
  override readonly name = "PrototypePollution";
  constructor(
    message: string,
    readonly keys: readonly string[],
  ) {
    super(`${message}: ${keys.join(", ")}`);
  }
}

function checkPrototypes(): void {
  const now = protoKeys();
  for (let i = 0; i < PROTOS.length; i++) {
    if (now[i] === baseline[i]) continue;
    const [label, proto] = PROTOS[i]!;
    const extra = Reflect.ownKeys(proto).slice(baseline[i]);
    for (const k of extra) Reflect.deleteProperty(proto, k);
    throw new PrototypePollution(`${label} gained properties`, extra.map(String));
  }
}

/** A short, stable name for a crash: error type, message shape, first frame in src/. */
export function signature(e: unknown): string {
  if (!(e instanceof Error)) return `throw ${typeof e}: ${String(e).slice(0, 60)}`;
  const msg = (e instanceof PrototypePollution ? e.message.split(":")[0]! : e.message)
    .split("\n")[0]!
    .replace(/"[^"]*"|'[^']*'/g, "…")
    .replace(/\d+/g, "N")
    .slice(0, 90);
  const frame = (e.stack ?? "")
    .split("\n")
    .find((l) => /\/src\//.test(l))
    ?.replace(/^.*\/src\//, "src/")
    .replace(/[()]/g, "")
    .replace(/:\d+$/, "");
  return `${e.name}: ${msg}${frame ? ` @ ${frame}` : ""}`;
}

/** Runs one input and classifies it. */
export async function runCase<I>(target: FuzzTarget<I>, input: I, scratch: Scratch): Promise<Outcome> {
  try {
    const r = target.run(input, scratch);
    if (r instanceof Promise) await r;
    checkPrototypes();
    return { kind: "ok" };
  } catch (e) {
    try {
      checkPrototypes();
    } catch (pollution) {
      return { kind: "crash", error: pollution, signature: signature(pollution) };
    }
    if (isSlimwheelError(e)) return { kind: "typed", code: e.code };
    return { kind: "crash", error: e, signature: signature(e) };
  }
}

/**
 * A smaller input with the same crash signature (text and bytes inputs: chunk removal, halving
 * chunk sizes), within `budget` runs.
 */
export async function minimize<I>(
  target: FuzzTarget<I>,
  input: I,
  sig: string,
  scratch: Scratch,
  budget = 400,
): Promise<I> {
  if (target.kind === "files") return input;
  let cur = target.encode(input);
  let runs = 0;
  const still = async (b: Buffer) => {
    runs++;
    const o = await runCase(target, target.decode(b), scratch);
    return o.kind === "crash" && o.signature === sig;
  };
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1 && runs < budget; chunk >>= 1) {
    for (let at = 0; at < cur.length && runs < budget; ) {
      const smaller = Buffer.concat([cur.subarray(0, at), cur.subarray(at + chunk)]);
      if (smaller.length < cur.length && (await still(smaller))) cur = smaller;
      else at += chunk;
    }
  }
  return target.decode(cur);
}

/** Saves a crashing input as test/fixtures/fuzz/<target>/<sha256 prefix>.<ext>; returns its path. */
export function saveFixture<I>(target: FuzzTarget<I>, input: I, dir = FIXTURES): string {
  const bytes = target.encode(input);
  const d = join(dir, target.name);
  mkdirSync(d, { recursive: true });
  const file = join(d, `${sha256(bytes).slice(0, 16)}.${target.ext}`);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  return file;
}

/** Every saved regression fixture of a target. */
export function fixturesOf<I>(target: FuzzTarget<I>, dir = FIXTURES): { file: string; input: I }[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, target.name)).filter((n) => !n.includes(".tmp-"));
  } catch {
    return [];
  }
  return names.sort().map((n) => {
    const file = join(dir, target.name, n);
    return { file, input: target.decode(readFileSync(file)) };
  });
}
