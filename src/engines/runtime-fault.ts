/**
 * `buildah run` can fail before the command starts, in the OCI runtime's own setup: on a loaded
 * machine the runtime's sealed copy of itself sometimes fails with "sealing memfd copy: Device or
 * resource busy" (EBUSY from F_ADD_SEALS while another process still maps the copy). Nothing ran
 * in the container then, so running it again is safe: such a run is retried (three attempts in
 * all, half a second and a second apart). Any other failure is the command's own. Failures are
 * returned, not thrown (as with `allowFailure`).
 */
import { type ExecOptions, type ExecResult, exec } from "../util/exec.js";

/** The runtime's start-up fault: the container never ran. */
export const RUNTIME_START_FAULT = /sealing memfd copy/i;

export async function execRetryingRuntimeFault(
  file: string,
  args: readonly string[],
  options: ExecOptions,
  run: (file: string, args: readonly string[], o: ExecOptions) => Promise<ExecResult> = exec,
): Promise<ExecResult> {
  let r = await run(file, args, { ...options, allowFailure: true });
  for (let attempt = 1; attempt < 3 && r.code !== 0 && RUNTIME_START_FAULT.test(r.stderr); attempt++) {
    if (options.signal?.aborted) break;
    await new Promise((res) => setTimeout(res, 500 * attempt));
    r = await run(file, args, { ...options, allowFailure: true });
  }
  return r;
}
