/** Reading an engine's output for people: the lines that say something, without the engine's own noise. */
import { splitLines } from "../util/lines.js";

/** Engine noise after a failed command, e.g. buildah's "subprocess exited with status 1". */
const ENGINE_NOISE = /^(subprocess exited|Error: exit status|error while running runtime)/;

/** The last `n` lines of `text` that are not engine noise, joined by " | ". */
export function lastMeaningfulLines(text: string, n: number): string {
  return splitLines(text)
    .map((l) => l.trim())
    .filter((l) => l && !ENGINE_NOISE.test(l))
    .slice(-n)
    .join(" | ");
}
