import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { SlimwheelError } from "../errors.js";
import { lineSplitter } from "./lines.js";

/** The environment a program runs with: always given, never taken silently from `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface ExecOptions {
  readonly cwd?: string;
  readonly env: Env;
  readonly signal?: AbortSignal;
  /** Bytes written to the process's stdin. */
  readonly input?: string | Buffer;
  /** Called with each chunk of stderr as it arrives (for progress). */
  readonly onStderr?: (chunk: string) => void;
  readonly onStdout?: (chunk: string) => void;
  /** Called with each line of stdout and stderr (cut by `lineSplitter`, the last one included). */
  readonly onLine?: (line: string) => void;
  /** What is being done, for the error message ("building image x"). */
  readonly doing?: string;
  readonly hint?: string;
  /** Do not throw on a non-zero exit; return the result instead. */
  readonly allowFailure?: boolean;
  /**
   * Run it in a process group of its own, and end the whole group — on cancel (SIGTERM, SIGKILL
   * 10 s later) and once it exits (SIGKILL to what is left): for a program whose children may
   * outlive it, as the command `buildah run --isolation chroot` runs (a boot test's server).
   */
  readonly group?: boolean;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const KEEP_TAIL = 64 * 1024;

function tail(s: string, max = 4000): string {
  return s.length > max ? `…${s.slice(s.length - max)}` : s;
}

/**
 * Runs a program (no shell) and collects its output. A failure becomes a SlimwheelError that
 * keeps the tool's real stderr; a missing program says which one and how to get it.
 */
export function exec(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const doing = options.doing ?? `running ${file}`;
  return new Promise((resolve, reject) => {
    const group = options.group === true;
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: options.env as NodeJS.ProcessEnv,
      // A group's cancel is ours (below): Node's would signal the leader alone.
      signal: group ? undefined : options.signal,
      detached: group,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // the group is gone
      }
    };
    if (group && options.signal) {
      const signal = options.signal;
      const onAbort = () => {
        killGroup("SIGTERM");
        const force = setTimeout(() => killGroup("SIGKILL"), 10_000);
        child.once("exit", () => clearTimeout(force));
        child.emit("error", Object.assign(new Error("The operation was aborted"), { name: "AbortError" }));
      };
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener("abort", onAbort, { once: true });
      child.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    // Nothing of the group outlives the program.
    if (group) child.once("exit", () => killGroup("SIGKILL"));
    let stdout = "";
    let stderr = "";
    const { onLine } = options;
    const outLines = onLine ? lineSplitter(onLine) : undefined;
    const errLines = onLine ? lineSplitter(onLine) : undefined;
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      options.onStdout?.(c);
      outLines?.write(c);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      if (stderr.length > 4 * KEEP_TAIL) stderr = stderr.slice(stderr.length - KEEP_TAIL);
      options.onStderr?.(c);
      errLines?.write(c);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") {
        reject(
          new SlimwheelError("not-found", `${doing}: program "${file}" was not found`, {
            hint: options.hint ?? `install ${file} or put it on PATH`,
            cause: err,
          }),
        );
      } else if (err.name === "AbortError") {
        // Cancelled: the program got SIGTERM. Wait until it is gone (SIGKILL after 10 s), so what
        // the caller cleans up next is not still being written.
        const cancelled = () =>
          reject(new SlimwheelError("cancelled", `${doing}: cancelled`, { cause: err }));
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) cancelled();
        else {
          const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
          child.once("exit", () => {
            clearTimeout(force);
            cancelled();
          });
        }
      } else {
        reject(new SlimwheelError("io", `${doing}: ${err.message}`, { cause: err }));
      }
    });
    child.on("close", (code, sig) => {
      outLines?.end();
      errLines?.end();
      const result = { code: code ?? 128, stdout, stderr };
      if ((code === 0 && !sig) || options.allowFailure) {
        resolve(result);
        return;
      }
      const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      // Killed from outside (the kernel's OOM killer, an operator): its output says nothing of why.
      const killedHint =
        sig === "SIGKILL"
          ? `${file} was killed from outside (the kernel's out-of-memory killer, or a person or program); check free memory (dmesg) and run it again`
          : undefined;
      reject(
        new SlimwheelError("engine", `${doing}: ${file} ${how}`, {
          details: tail(stderr.trim() || stdout.trim()),
          hint: killedHint ?? options.hint,
        }),
      );
    });
    child.stdin.on("error", () => {
      /* the program may exit before reading its input */
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Whether a program can be found on PATH. */
export async function hasProgram(file: string, env: Env): Promise<boolean> {
  const r = await exec("sh", ["-c", 'command -v "$1"', "sh", file], { env, allowFailure: true });
  return r.code === 0;
}

/**
 * Starts a long-running program detached from this process (it outlives it), its output going
 * to `logFile`. Returns its PID.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  options: { logFile: string; cwd?: string; env: Env },
): number {
  const fd = openSync(options.logFile, "a");
  try {
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: options.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    if (child.pid === undefined) {
      throw new SlimwheelError("not-found", `starting ${file}: the program could not be started`, {
        hint: `check that ${file} is installed`,
      });
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Whether a process with this PID is running (and not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  while (isAlive(pid)) await sleep(50);
}
