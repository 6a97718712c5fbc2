import type { Command } from "commander";
import { SlimwheelError } from "../../errors.js";
import { loadLayoutImage } from "../../oci/image-writer.js";
import { isLoopbackHost, parseImageRef, pushImage } from "../../oci/registry.js";
import { step } from "../../reporter/index.js";
import type { GetEnv } from "../program.js";
import { examples } from "./examples.js";
import { resolveDir } from "./options.js";

/** `oci:DIR[:REF]` → the layout directory and the ref name of the image in it. */
function parseSource(spec: string, cwd: string): { dir: string; ref?: string } {
  const m = /^oci:(.+)$/.exec(spec);
  if (!m)
    throw new SlimwheelError("usage", `"${spec}" is not oci:DIR`, {
      hint: "give an OCI layout directory, e.g. oci:./out (as written by build --output oci:DIR)",
    });
  const [dir, ref] = m[1]!.split(/:(?=[^/]*$)/);
  return { dir: resolveDir(cwd, dir!), ref: ref || undefined };
}

export function registerPush(program: Command, getEnv: GetEnv): void {
  program
    .command("push")
    .description("push an image from an OCI layout to a registry (blobs the registry has are skipped)")
    .argument("<source>", "oci:DIR, or oci:DIR:NAME to pick the image named NAME in the layout")
    .argument("<ref>", "where to push: HOST[:PORT]/NAME[:TAG]")
    .option("--insecure", "plain HTTP (for a registry on this machine without TLS)")
    .option(
      "--ca-cert <file>",
      "trust this PEM certificate authority for the registry's TLS certificate (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--mount-from <repo>",
      "mount blobs from this repository of the same registry instead of uploading",
    )
    .addHelpText(
      "after",
      `
Credentials come from ~/.docker/config.json (or $DOCKER_CONFIG): auths, credHelpers, credsStore.
A registry with a private CA: --ca-cert FILE, or FILE in /etc/docker/certs.d/HOST[:PORT]/ca.crt
(or /etc/containers/certs.d/HOST[:PORT]/*.crt), or SSL_CERT_FILE / NODE_EXTRA_CA_CERTS naming a
PEM file; these are trusted besides the system's CAs.
--json prints {ref, digest, blobs: [{digest, size, mediaType, status}]}, status being
uploaded, skipped (the registry had it) or mounted.`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel push oci:out/myapp 127.0.0.1:5000/myapp:1", "push an OCI layout to a registry"],
        [
          "slimwheel push oci:out/myapp registry.local/team/myapp:1 --mount-from team/base",
          "mount the blobs the registry has in another repository",
        ],
        [
          "slimwheel push oci:out/myapp 127.0.0.1:5000/myapp:1 --json",
          "list each blob as uploaded, skipped or mounted",
        ],
      ]),
    )
    .action(
      async (
        source: string,
        ref: string,
        o: { insecure?: boolean; mountFrom?: string; caCert?: string[] },
      ) => {
        const { ctx, global, io } = getEnv();
        const { dir, ref: name } = parseSource(source, ctx.cwd);
        const caFiles = (o.caCert ?? []).map((f) => resolveDir(ctx.cwd, f));
        if (o.insecure && caFiles.length)
          throw new SlimwheelError("usage", "--ca-cert and --insecure contradict each other", {
            hint: "--insecure is plain HTTP (no TLS at all); drop one of them",
          });
        const target = parseImageRef(ref);
        if (o.insecure && !isLoopbackHost(target.registry))
          ctx.reporter.emit({
            type: "log",
            level: "warn",
            message: `--insecure sends to ${target.registry} over plain HTTP`,
          });
        const image = await loadLayoutImage(dir, name);
        const result = await step(ctx.reporter, "push", `pushing ${ref}`, () =>
          pushImage(image, ref, {
            env: ctx.env,
            insecure: o.insecure ?? false,
            signal: ctx.signal,
            mountFrom: o.mountFrom,
            caFiles,
            onBlob: (b) =>
              ctx.reporter.emit({ type: "step-progress", id: "push", detail: `${b.status} ${b.digest}` }),
            onRetry: (what, n, why) =>
              ctx.reporter.emit({ type: "log", level: "warn", message: `${what}: ${why}, retrying (${n})` }),
          }),
        );
        if (global.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
        else {
          for (const b of result.blobs) io.stdout(`${b.status.padEnd(8)} ${b.digest} (${b.size} bytes)\n`);
          io.stdout(`pushed ${result.ref}@${result.digest}\n`);
        }
      },
    );
}
