import type { Command } from "commander";
import type { GetEnv } from "../program.js";
import { registerBuild } from "./build.js";
import { registerCache } from "./cache.js";
import { registerCi } from "./ci.js";
import { registerCompare } from "./compare.js";
import { registerCompletion } from "./completion.js";
import { registerDockerfile } from "./dockerfile.js";
import { registerInspect } from "./inspect.js";
import { registerLint } from "./lint.js";
import { registerPlan } from "./plan.js";
import { registerPush } from "./push.js";
import { registerSbom } from "./sbom.js";

/** Adds one subcommand to the program. Each lives in its own module and is listed here. */
export type RegisterCommand = (program: Command, getEnv: GetEnv) => void;

/** The explicit registry of subcommands. Only commands that really work are listed. */
export const commands: readonly RegisterCommand[] = [
  registerPlan,
  registerDockerfile,
  registerBuild,
  registerCompare,
  registerInspect,
  registerLint,
  registerPush,
  registerCi,
  registerSbom,
  registerCache,
  registerCompletion,
];
