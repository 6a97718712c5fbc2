import { containersEngine } from "./containers-common.js";
import type { Engine } from "./types.js";

/** podman: `podman build` (buildah's library), sharing buildah's storage; commands run through buildah where `podman run` cannot. */
export const podmanEngine = (env: Record<string, string | undefined>): Engine =>
  containersEngine("podman", env);
