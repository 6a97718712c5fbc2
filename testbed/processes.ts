/**
 * The test bed's long-running processes: started detached, recorded by PID file, recognised by
 * their command line (never by name alone), reused while healthy. And the lock that keeps two
 * `up`s from racing.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { SlimwheelError } from "../src/errors.js";
import { type Reporter, step } from "../src/reporter/index.js";
import { type Env, isAlive, sleep, spawnDetached, stopProcess } from "../src/util/exec.js";
import type { Layout } from "./paths.js";

export async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and its command line contains `needle` (guards against PID reuse). */
export async function isOurs(pid: number, needle: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ").includes(needle);
  } catch {
    return false;
  }
}

export function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : port));
      });
    });
  return preferred ? tryPort(preferred).catch(() => tryPort(0)) : tryPort(0);
}

/** A port number saved in `file` by an earlier `up`, if any. */
export async function savedPort(file: string): Promise<number | undefined> {
  return Number((await readFile(file, "utf8").catch(() => "")).trim()) || undefined;
}

interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A small HTTP GET/HEAD over TCP or a unix socket (loopback only). */
export function httpGet(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    socketPath?: string;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers, socketPath: options.socketPath },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`timed out: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function waitHealthy(what: string, check: () => Promise<boolean>, logFile: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  const log = await readFile(logFile, "utf8").catch(() => "");
  throw new SlimwheelError("engine", `${what} did not become ready within ${ms / 1000} s`, {
    details: log.slice(-3000),
    hint: `see ${logFile}`,
  });
}

export interface Service {
  readonly name: string;
  readonly program: string;
  readonly args: readonly string[];
  /** Text that must be in the running process's command line for it to count as this service. */
  readonly identity: string;
  readonly healthy: () => Promise<boolean>;
}

/** Reuses the running service if it is ours and healthy, else starts it. Returns its PID. */
export async function ensureService(l: Layout, s: Service, reporter: Reporter, env: Env): Promise<number> {
  const pidFile = l.pid(s.name);
  const old = await readPid(pidFile);
  if (old !== undefined && (await isOurs(old, s.identity)) && (await s.healthy().catch(() => false))) {
    reporter.emit({ type: "log", level: "debug", message: `${s.name} already running (pid ${old})` });
    return old;
  }
  if (old !== undefined && (await isOurs(old, s.program))) await stopProcess(old);
  return step(reporter, `start-${s.name}`, `starting ${s.name}`, async () => {
    const pid = spawnDetached(s.program, s.args, { logFile: l.log(s.name), env });
    await writeFile(pidFile, `${pid}\n`);
    await waitHealthy(s.name, s.healthy, l.log(s.name));
    return pid;
  });
}

/** Runs `fn` holding the test bed's lock (a directory; a dead holder's lock is taken over). */
export async function withLock<T>(l: Layout, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      await mkdir(l.lock);
      await writeFile(join(l.lock, "pid"), `${process.pid}\n`);
      break;
    } catch {
      const holder = await readPid(join(l.lock, "pid"));
      const age = await stat(l.lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if ((holder !== undefined && !isAlive(holder)) || (holder === undefined && age > 10_000)) {
        await rm(l.lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new SlimwheelError("io", `the test bed is locked by pid ${holder}`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(l.lock, { recursive: true, force: true });
  }
}
