/** The options every strategy takes, and the constants of the images slimwheel writes. */
import type { SystemNeed } from "../sysdeps/known-packages.js";

export interface StrategyOptions {
  /** SOURCE_DATE_EPOCH, for labels; builds pass it to the engine too. */
  readonly sourceDateEpoch?: number;
  /** Extra system packages (add to what is detected). */
  readonly runtimePackages?: readonly string[];
  readonly buildPackages?: readonly string[];
  /** The runtime needs read from the built artifacts (ELF analysis): packages, with reasons. */
  readonly runtimeNeeds?: readonly SystemNeed[];
  /** Leave these out of the runtime packages (to prove the import test can fail). */
  readonly withoutRuntimePackages?: readonly string[];
  /** `--debug-shell` (minimal runtime): install {@link DEBUG_SHELL_PACKAGE}, whose /bin/busybox the minimal image keeps. */
  readonly debugShell?: boolean;
}

/** Debian's static busybox: `--debug-shell`'s /bin/busybox (static, so it needs no libraries). */
export const DEBUG_SHELL_PACKAGE = "busybox-static";

export const APP_DIR = "/app";

export const APP_UID = 10001;

export const INDEX_ARGS = ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"] as const;
