/** The slimwheel library: everything the `slimwheel` command does, as functions. */
export type { Context } from "./context.js";
export { type ErrorCode, ExitCode, isSlimwheelError, SlimwheelError, wrapError } from "./errors.js";
export { type ReportEvent, type Reporter, silentReporter, step, streamReporter } from "./reporter/index.js";
