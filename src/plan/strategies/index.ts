/** The explicit registry of strategies; `slimwheel` is the default. */
import { alpine } from "./alpine.js";
import { full } from "./full.js";
import { singleLayer } from "./single-layer.js";
import { slim } from "./slim.js";
import { slimApt } from "./slim-apt.js";
import { slimwheelStrategy } from "./slimwheel.js";
import type { Strategy } from "./strategy.js";
import { venv } from "./venv.js";
import { wheels } from "./wheels.js";

export type { Strategy } from "./strategy.js";

export const strategies: readonly Strategy[] = [
  full,
  slim,
  slimApt,
  singleLayer,
  wheels,
  venv,
  alpine,
  slimwheelStrategy,
];
export const DEFAULT_STRATEGY = "slimwheel";

export function findStrategy(id: string): Strategy | undefined {
  return strategies.find((s) => s.id === id);
}
