/**
 * PEP 440 versions and specifiers, through @renovatebot/pep440 (maintained by Renovate for its
 * Python support). Kept behind this module so the rest of the code names the spec, not the library.
 */
import * as pep440 from "@renovatebot/pep440";

export function isValidVersion(v: string): boolean {
  return pep440.valid(v) !== null;
}

/** Negative when a < b, 0 when equal, positive when a > b. Both must be valid. */
export function compareVersions(a: string, b: string): number {
  return pep440.compare(a, b);
}

/** Whether `version` satisfies the comma-separated specifier set (empty = anything). */
export function satisfies(
  version: string,
  specifier: string,
  options: { prereleases?: boolean } = {},
): boolean {
  if (specifier.trim() === "") return true;
  return pep440.satisfies(version, specifier, { prereleases: options.prereleases ?? true });
}

export function isValidSpecifier(specifier: string): boolean {
  return specifier.trim() === "" || pep440.validRange(specifier);
}

/** The highest of `versions` satisfying `specifier`, or undefined. */
export function maxSatisfying(versions: readonly string[], specifier: string): string | undefined {
  return pep440.maxSatisfying([...versions], specifier, { prereleases: true }) ?? undefined;
}
