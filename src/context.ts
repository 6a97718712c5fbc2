import type { Reporter } from "./reporter/index.js";

/** Everything an operation may consult about its surroundings; nothing is read from globals. */
export interface Context {
  readonly signal: AbortSignal;
  readonly reporter: Reporter;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** SOURCE_DATE_EPOCH in seconds, when set: timestamps in outputs use it. */
  readonly sourceDateEpoch?: number;
}
