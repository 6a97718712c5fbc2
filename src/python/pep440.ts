/**
 * PEP 440 versions and specifiers, through @renovatebot/pep440 (maintained by Renovate for its
 * Python support). Kept behind this module so the rest of the code names the spec, not the library.
 *
 * The library throws a TypeError on some valid-looking inputs (a bound past its integer range,
 * `<2222222222222222222222`): every call that can reach it turns that into an input error here.
 */
import * as pep440 from "@renovatebot/pep440";
import { SlimwheelError } from "../errors.js";

/** Runs a library call; its own exceptions become an input error naming what was compared. */
function guarded<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SlimwheelError) throw e;
    throw new SlimwheelError(
      "input",
      `cannot evaluate ${what}: ${e instanceof Error ? e.message : String(e)}`,
      {
        hint: "use plain PEP 440 versions and specifiers (numbers of a reasonable size)",
        cause: e,
      },
    );
  }
}

/**
 * The library spends ~0.1 ms per clause on every call: a specifier of thousands of clauses (the
 * fuzzer's `>=1.0,<2,<2,…`) takes seconds. Real ones have a handful; more than this is refused.
 */
export const MAX_CLAUSES = 64;

const clauses = (specifier: string) => specifier.split(",").length;

function checkSize(specifier: string): void {
  if (clauses(specifier) > MAX_CLAUSES)
    throw new SlimwheelError(
      "input",
      `the version specifier has ${clauses(specifier)} clauses (at most ${MAX_CLAUSES})`,
      {
        hint: "write the constraint with fewer clauses (>=A,<B covers a range)",
      },
    );
}

export function isValidVersion(v: string): boolean {
  return pep440.valid(v) !== null;
}

/** Negative when a < b, 0 when equal, positive when a > b. Both must be valid. */
export function compareVersions(a: string, b: string): number {
  return guarded(`versions "${a}" and "${b}"`, () => pep440.compare(a, b));
}

/** Whether `version` satisfies the comma-separated specifier set (empty = anything). */
export function satisfies(
  version: string,
  specifier: string,
  options: { prereleases?: boolean } = {},
): boolean {
  if (specifier.trim() === "") return true;
  checkSize(specifier);
  return guarded(`"${version}" against "${specifier}"`, () =>
    pep440.satisfies(version, specifier, { prereleases: options.prereleases ?? true }),
  );
}

/** A specifier the library parses and can evaluate (it rejects some it parses, see above). */
export function isValidSpecifier(specifier: string): boolean {
  if (specifier.trim() === "") return true;
  if (clauses(specifier) > MAX_CLAUSES) return false;
  try {
    if (!pep440.validRange(specifier)) return false;
    pep440.satisfies("0", specifier);
    return true;
  } catch {
    return false;
  }
}

/** The highest of `versions` satisfying `specifier`, or undefined. */
export function maxSatisfying(versions: readonly string[], specifier: string): string | undefined {
  checkSize(specifier);
  return guarded(
    `"${specifier}"`,
    () => pep440.maxSatisfying([...versions], specifier, { prereleases: true }) ?? undefined,
  );
}
