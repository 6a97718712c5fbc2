/**
 * Docker with BuildKit: `docker buildx build` where the buildx plugin exists, otherwise
 * `DOCKER_BUILDKIT=1 docker build` with a client older than 23 (newer clients refuse BuildKit
 * without buildx). DOCKER_HOST (in the engine's env) is honoured. Images are exported with
 * `docker save` (docker-archive); an OCI layout or archive is converted from that archive with
 * `skopeo copy`.
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { SlimwheelError } from "../errors.js";
import { formatBytes } from "../report/html.js";
import { type Env, exec } from "../util/exec.js";
import { firstLine } from "../util/lines.js";
import { runDetachable } from "./run.js";
import { type BuildRequest, type Engine, type EngineInfo, type ExportTarget, transportRef } from "./types.js";

interface Client {
  readonly program: string;
  readonly mode: "buildx" | "buildkit";
  readonly version: string;
}

async function findClient(env: Env): Promise<Client | string> {
  const candidates = [
    ...new Set(
      [env.SLIMWHEEL_DOCKER_CLI, "docker", "/usr/bin/docker"].filter((c): c is string => Boolean(c)),
    ),
  ];
  const reasons: string[] = [];
  for (const program of candidates) {
    const v = await exec(program, ["version", "--format", "{{.Client.Version}}|{{.Server.Version}}"], {
      env,
      allowFailure: true,
    }).catch(() => undefined);
    if (!v) continue;
    const [client = "", server = ""] = v.stdout.trim().split("|");
    if (!client) continue;
    if (v.code !== 0 || !server) {
      reasons.push(`${program} ${client}: no Docker engine answers (${firstLine(v.stderr).slice(0, 120)})`);
      continue;
    }
    const bx = await exec(program, ["buildx", "version"], { env, allowFailure: true });
    if (bx.code === 0) return { program, mode: "buildx", version: server };
    if (Number(client.split(".")[0]) < 23) return { program, mode: "buildkit", version: server };
    reasons.push(`${program} ${client}: no buildx plugin, and clients ≥ 23 need it for BuildKit`);
  }
  return reasons.length ? reasons.join("; ") : "no docker client found";
}

function buildArgs(req: BuildRequest, mode: Client["mode"]): string[] {
  const args = mode === "buildx" ? ["buildx", "build", "--load"] : ["build"];
  args.push("--network", "host", "--progress", "plain");
  if (req.noCache) args.push("--no-cache");
  if (req.platform) args.push("--platform", req.platform);
  if (req.target) args.push("--target", req.target);
  for (const c of req.cacheFrom ?? []) args.push("--cache-from", c);
  if (mode === "buildx") for (const c of req.cacheTo ?? []) args.push("--cache-to", c);
  else if (req.cacheTo?.length) args.push("--build-arg", "BUILDKIT_INLINE_CACHE=1");
  if (req.sourceDateEpoch !== undefined) args.push("--build-arg", `SOURCE_DATE_EPOCH=${req.sourceDateEpoch}`);
  for (const [k, v] of Object.entries(req.buildArgs)) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(req.labels ?? {})) args.push("--label", `${k}=${v}`);
  for (const t of req.tags) args.push("-t", t);
  return args;
}

export function dockerEngine(env: Env): Engine {
  let client: Promise<Client | string> | undefined;
  const lookUp = () => {
    client ??= findClient(env);
    return client;
  };
  const getClient = async (): Promise<Client> => {
    const c = await lookUp();
    if (typeof c === "string") {
      throw new SlimwheelError("not-found", `no usable Docker with BuildKit: ${c}`, {
        hint: "start a Docker engine (or set DOCKER_HOST), and install the buildx plugin; or use --engine buildah",
      });
    }
    return c;
  };
  const dockerEnv = { ...env, DOCKER_BUILDKIT: "1" };
  return {
    id: "docker",
    async detect(): Promise<EngineInfo> {
      const c = await lookUp();
      return typeof c === "string"
        ? { id: "docker", available: false, detail: c }
        : {
            id: "docker",
            available: true,
            version: c.version,
            detail: `${c.program} (${c.mode === "buildx" ? "buildx" : "DOCKER_BUILDKIT=1"}), engine ${c.version}`,
          };
    },
    async build(req, ctx) {
      const c = await getClient();
      if (req.squash)
        ctx.reporter.emit({
          type: "log",
          level: "warn",
          message: "docker with BuildKit cannot --squash; building without it",
        });
      if (req.cacheTo?.length && c.mode !== "buildx") {
        ctx.reporter.emit({
          type: "log",
          level: "warn",
          message:
            "without buildx, docker can only write an inline cache (the final stage's layers): earlier stages will miss the cache in CI",
        });
      }
      const started = ctx.now();
      const iidFile = `${req.dockerfile}.iid`;
      await exec(
        c.program,
        [...buildArgs(req, c.mode), "--iidfile", iidFile, "-f", req.dockerfile, req.contextDir],
        {
          env: dockerEnv,
          signal: ctx.signal,
          onLine: req.onLine,
          doing: `building ${req.tags[0] ?? "the image"} with docker`,
        },
      );
      return { imageId: (await readFile(iidFile, "utf8")).trim(), durationMs: ctx.now() - started };
    },
    async exportImage(image: string, target: ExportTarget, ctx: Context) {
      const c = await getClient();
      if (target.kind === "docker-archive") {
        await exec(c.program, ["save", "-o", target.path, target.tag ?? image], {
          env: dockerEnv,
          signal: ctx.signal,
          doing: `saving ${image}`,
        });
        return;
      }
      // docker writes only docker archives: save one, and let skopeo rewrite it as OCI.
      const dir = await mkdtemp(join(tmpdir(), "slimwheel-save-"));
      try {
        const archive = join(dir, "image.tar");
        await exec(c.program, ["save", "-o", archive, image], {
          env: dockerEnv,
          signal: ctx.signal,
          doing: `saving ${image}`,
        });
        await exec("skopeo", ["copy", "--quiet", `docker-archive:${archive}`, transportRef(target)], {
          env,
          signal: ctx.signal,
          doing: `converting ${image} to ${target.kind === "oci-dir" ? "an OCI layout" : "an OCI archive"}`,
          hint: "docker writes docker archives only; the OCI formats need skopeo (apt-get install skopeo)",
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async loadArchive(path, ctx) {
      const c = await getClient();
      await exec(c.program, ["load", "--quiet", "--input", path], {
        env: dockerEnv,
        signal: ctx.signal,
        doing: `loading ${path}`,
      });
    },
    async push(image, ref, ctx) {
      const c = await getClient();
      await exec(c.program, ["tag", image, ref], {
        env: dockerEnv,
        signal: ctx.signal,
        doing: `tagging ${ref}`,
      });
      await exec(c.program, ["push", ref], {
        env: dockerEnv,
        signal: ctx.signal,
        doing: `pushing ${ref}`,
        hint: "check the registry address and your credentials (docker login)",
      });
      const r = await exec(c.program, ["image", "inspect", "--format", "{{json .RepoDigests}}", ref], {
        env: dockerEnv,
      });
      const repo = ref.replace(/:[^/:]+$/, "");
      const digest = (JSON.parse(r.stdout) as string[]).find((d) => d.startsWith(`${repo}@`))?.split("@")[1];
      if (!digest) throw new SlimwheelError("engine", `pushed ${ref} but docker reports no digest for it`);
      return digest;
    },
    async run(image, command, ctx, options = {}) {
      const c = await getClient();
      return runDetachable(c.program, image, command, ctx, dockerEnv, options);
    },
    async copyFrom(image, path, dest, ctx) {
      const c = await getClient();
      const ctr = (
        await exec(c.program, ["create", image], {
          env: dockerEnv,
          doing: `creating a container of ${image}`,
        })
      ).stdout.trim();
      try {
        await exec(c.program, ["cp", `${ctr}:${path}`, dest], {
          env: dockerEnv,
          signal: ctx.signal,
          doing: `copying ${path} out of ${image}`,
        });
      } finally {
        await exec(c.program, ["rm", ctr], { env: dockerEnv, allowFailure: true });
      }
    },
    async imageId(ref, ctx) {
      const c = await getClient();
      const r = await exec(c.program, ["image", "inspect", "--format", "{{.Id}}", ref], {
        env: dockerEnv,
        signal: ctx.signal,
        allowFailure: true,
      });
      const id = r.stdout.trim();
      return r.code === 0 && /^sha256:[0-9a-f]{64}$/.test(id) ? id : undefined;
    },
    async imageSize(ref, ctx) {
      const c = await getClient();
      const r = await exec(c.program, ["image", "inspect", "--format", "{{.Size}}", ref], {
        env: dockerEnv,
        signal: ctx.signal,
        allowFailure: true,
      });
      return r.code === 0 && /^\d+$/.test(r.stdout.trim()) ? formatBytes(Number(r.stdout.trim())) : undefined;
    },
    async imageDigest(ref, ctx) {
      const c = await getClient();
      const repo = ref.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[^/:]+$/, "");
      const inspect = async () => {
        const r = await exec(c.program, ["image", "inspect", "--format", "{{json .RepoDigests}}", ref], {
          env: dockerEnv,
          signal: ctx.signal,
          allowFailure: true,
        });
        if (r.code !== 0) return undefined;
        try {
          const digests = JSON.parse(r.stdout) as string[];
          const d = digests.find((x) => x.startsWith(`${repo}@`))?.split("@")[1];
          return d && /^sha256:[0-9a-f]{64}$/.test(d) ? d : undefined;
        } catch {
          return undefined;
        }
      };
      const local = await inspect();
      if (local) return local;
      const pulled = await exec(c.program, ["pull", "--quiet", ref], {
        env: dockerEnv,
        signal: ctx.signal,
        allowFailure: true,
      });
      return pulled.code === 0 ? inspect() : undefined;
    },
    async tag(image, ref, ctx) {
      const c = await getClient();
      await exec(c.program, ["tag", image, ref], {
        env: dockerEnv,
        signal: ctx.signal,
        doing: `tagging ${image} as ${ref}`,
      });
    },
    async removeImages(images, ctx) {
      if (!images.length) return;
      const c = await getClient();
      await exec(c.program, ["rmi", "-f", ...images], {
        env: dockerEnv,
        signal: ctx.signal,
        allowFailure: true,
      });
    },
  };
}
