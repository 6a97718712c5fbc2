/**
 * What every cached artifact of the test bed is keyed by, besides its own inputs. Changing any
 * of these rebuilds the images or the index for everyone using this machine's test bed.
 */
import { createHash } from "node:crypto";

/** Bump when the way images or the index are made changes, to invalidate the caches. */
export const RECIPE_VERSION = "1";
export const PYTHON = "3.11";
export const SUITE = "bookworm";

export const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
