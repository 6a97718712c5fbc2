import { containersEngine } from "./containers-common.js";
import type { Engine } from "./types.js";

/** buildah: `buildah bud` with chroot isolation and the layer cache. */
export const buildahEngine = (env: Record<string, string | undefined>): Engine =>
  containersEngine("buildah", env);
