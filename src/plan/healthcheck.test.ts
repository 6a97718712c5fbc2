import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assemblePlan } from "../pipeline/assemble.js";
import { readProject } from "../project/read.js";
import { renderDockerfile } from "../render/dockerfile/index.js";
import { healthcheckCommand } from "./steps.js";
import { strategies } from "./strategies/index.js";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("HEALTHCHECK in the rendered final stage", () => {
  it.each(strategies.map((s) => s.id))("%s: a web app gets one, between EXPOSE and CMD", async (strategy) => {
    const project = await readProject(join(ROOT, "examples", "flask-app"));
    const lines = renderDockerfile(assemblePlan(project, strategy), { version: "0" }).split("\n");
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    expect(lines.filter((l) => l.startsWith("HEALTHCHECK ")).length).toBe(1);
    expect(at("HEALTHCHECK ")).toBeGreaterThan(at("EXPOSE 8000"));
    expect(at("HEALTHCHECK ")).toBeLessThan(at("CMD "));
    expect(at("HEALTHCHECK ")).toBeGreaterThan(lines.map((l) => l.startsWith("FROM ")).lastIndexOf(true));
    expect(lines[at("HEALTHCHECK ")]).toBe(
      `HEALTHCHECK CMD ${JSON.stringify(healthcheckCommand(8000)).replace(/","/g, '", "')}`,
    );
  });

  it("a project without a port (not a server) gets none", async () => {
    const project = await readProject(join(ROOT, "examples", "data-tools"));
    expect(project.start?.port).toBeUndefined();
    expect(renderDockerfile(assemblePlan(project, "slimwheel"), { version: "0" })).not.toContain(
      "HEALTHCHECK",
    );
  });
});

const python = spawnSync("python3", ["-c", "pass"]).status === 0;

/**
 * Runs the HEALTHCHECK command as the engine would (exec form, no shell), with PORT set; its exit
 * code. Asynchronously: the server it calls runs in this process.
 */
function check(port: number | undefined, fallback = 1): Promise<number | null> {
  const [program, ...args] = healthcheckCommand(fallback);
  const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
  if (port !== undefined) env.PORT = String(port);
  return new Promise((resolve, reject) => {
    const child = spawn(program!, args, { env, stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

describe.skipIf(!python)("the web app HEALTHCHECK (run with this machine's python3)", () => {
  let server: Server;
  let port: number;
  let status = 200;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.statusCode = status;
      res.end("x");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is healthy on any HTTP answer: 200, 404, 500", async () => {
    for (const s of [200, 404, 500]) {
      status = s;
      expect(await check(port), `status ${s}`).toBe(0);
    }
  }, 30_000);

  it("reads PORT at run time, and falls back to the project's port", async () => {
    status = 200;
    expect(await check(undefined, port)).toBe(0);
    expect(await check(port, 1)).toBe(0);
  }, 30_000);

  it("is unhealthy when nothing listens on PORT", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await check(free)).not.toBe(0);
  }, 30_000);
});
