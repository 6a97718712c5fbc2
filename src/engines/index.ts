/** The explicit registry of engines, in auto-selection order. */
import { SlimwheelError } from "../errors.js";
import type { Env } from "../util/exec.js";
import { buildahPodmanEngine } from "./buildah-podman.js";
import { dockerEngine } from "./docker.js";
import type { Engine, EngineId, EngineInfo } from "./types.js";

export type { Engine, EngineId, EngineInfo } from "./types.js";

export const ENGINE_IDS: readonly EngineId[] = ["docker", "buildah", "podman"];

/** The adapter for `id`; every program it starts runs with `env`. */
export function createEngine(id: EngineId, env: Env): Engine {
  switch (id) {
    case "buildah":
    case "podman":
      return buildahPodmanEngine(id, env);
    case "docker":
      return dockerEngine(env);
  }
}

/** The engine asked for, or the first available one (docker, buildah, podman). */
export async function selectEngine(
  requested: EngineId | undefined,
  env: Env,
): Promise<{ engine: Engine; info: EngineInfo }> {
  if (requested) {
    const engine = createEngine(requested, env);
    const info = await engine.detect();
    if (!info.available)
      throw new SlimwheelError("not-found", `engine ${requested} is not available: ${info.detail}`, {
        hint: "install it, or choose another with --engine",
      });
    return { engine, info };
  }
  const tried: EngineInfo[] = [];
  for (const id of ENGINE_IDS) {
    const engine = createEngine(id, env);
    const info = await engine.detect();
    if (info.available) return { engine, info };
    tried.push(info);
  }
  throw new SlimwheelError(
    "not-found",
    `no container engine available: ${tried.map((t) => `${t.id}: ${t.detail}`).join("; ")}`,
    {
      hint: "install buildah (apt-get install buildah), podman, or Docker with buildx",
    },
  );
}
