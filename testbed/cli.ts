/**
 * npm run testbed -- up [--docker] [--mirror URI] [--json] | status [--json] | down
 */
import { Command } from "commander";
import { isSlimwheelError } from "../src/errors.js";
import { streamReporter } from "../src/reporter/index.js";
import { down, status, up } from "./testbed.js";

const reporter = streamReporter({
  write: (t) => process.stderr.write(t),
  live: Boolean(process.stderr.isTTY),
  color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
  verbose: Boolean(process.env.SLIMWHEEL_VERBOSE),
});

const program = new Command("testbed")
  .description("The offline test bed: a real registry, Python base images and a package index on loopback.")
  .showHelpAfterError();

program
  .command("up")
  .description("start (or reuse) the registry, base images, package index; print the endpoints")
  .option("--docker", "also start a Docker engine on a private socket (remembered by later `up`s)")
  .option("--mirror <uri>", "Debian mirror to build images from (default: this machine's apt sources)")
  .option("--json", "print the endpoints as JSON")
  .action(async (o: { docker?: boolean; mirror?: string; json?: boolean }) => {
    const started = Date.now();
    const endpoints = await up({ reporter, env: process.env, docker: o.docker, mirror: o.mirror });
    if (o.json) {
      process.stdout.write(`${JSON.stringify(endpoints, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `test bed up in ${((Date.now() - started) / 1000).toFixed(1)} s (${endpoints.dir})`,
        `  registry  ${endpoints.registry.url}  (pid ${endpoints.registry.pid})`,
        `  index     ${endpoints.index.url}  (pid ${endpoints.index.pid})`,
        `  builder   ${endpoints.images.builder.pinned}`,
        `  runtime   ${endpoints.images.runtime.pinned}`,
        ...(endpoints.docker ? [`  docker    ${endpoints.docker.host}  (pid ${endpoints.docker.pid})`] : []),
        "",
      ].join("\n"),
    );
  });

program
  .command("status")
  .description("print the endpoints and whether the test bed's processes run")
  .option("--json", "as JSON")
  .action(async (o: { json?: boolean }) => {
    const s = await status(process.env);
    if (o.json) {
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      return;
    }
    if (!s.endpoints) process.stdout.write("the test bed has not been brought up (npm run testbed -- up)\n");
    else process.stdout.write(`${JSON.stringify(s.endpoints, null, 2)}\n`);
    for (const p of s.processes)
      process.stdout.write(`${p.name}: pid ${p.pid} ${p.running ? "running" : "not running"}\n`);
    if (s.processes.some((p) => !p.running)) process.exitCode = 1;
  });

program
  .command("down")
  .description("stop the processes `up` started (by PID); cached images and index stay")
  .action(async () => {
    const stopped = await down(process.env);
    for (const p of stopped) process.stdout.write(`stopped ${p.name} (pid ${p.pid})\n`);
    if (stopped.length === 0) process.stdout.write("nothing was running\n");
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isSlimwheelError(e)) {
    process.stderr.write(
      `error: ${e.message}\n${e.details ? `${e.details}\n` : ""}${e.hint ? `hint: ${e.hint}\n` : ""}`,
    );
    process.exitCode = 1;
  } else {
    throw e;
  }
}
