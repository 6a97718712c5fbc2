import type { Command } from "commander";
import { INSPECT_REFS } from "../../inspect/open.js";
import {
  parseSbomFormat,
  readSbomContents,
  renderSbom,
  SBOM_FORMATS,
  writeSbomFor,
} from "../../sbom/index.js";
import type { GetEnv } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";

export function registerSbom(program: Command, getEnv: GetEnv): void {
  program
    .command("sbom")
    .description(
      "write an image's SBOM: its Python distributions and Debian packages (CycloneDX 1.6 or SPDX 2.3 JSON)",
    )
    .argument("<ref>", INSPECT_REFS)
    .option("--format <format>", `${SBOM_FORMATS.join(" or ")}`, "cyclonedx")
    .option(
      "-o, --output <file>",
      "write the SBOM to FILE (through a temporary file and a rename); default: stdout",
    )
    .option("--name <name>", "the image's name in the SBOM (default: from the reference)")
    .option("--insecure", "plain HTTP to the registry (loopback registries need no flag)")
    .addHelpText(
      "after",
      `
Lists every *.dist-info of a site-packages or dist-packages directory (name, version, license,
SHA-256 of its RECORD, pkg:pypi purl) and every package of /var/lib/dpkg/status and
/var/lib/dpkg/status.d/ (pkg:deb purl with arch and distro), as the image's final file system has
them (docs/sbom.md). With SOURCE_DATE_EPOCH set, the same image gives the same bytes.`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel sbom oci:./out -o app.cdx.json", "CycloneDX SBOM of an OCI layout directory"],
        ["slimwheel sbom oci-archive:app.tar --format spdx -o app.spdx.json", "SPDX, of an OCI archive"],
        ["slimwheel sbom docker-daemon:myapp:latest > sbom.json", "an image of the docker daemon, to stdout"],
      ]),
    )
    .action(
      async (refText: string, o: { format: string; output?: string; name?: string; insecure?: boolean }) => {
        const { ctx, global, io } = getEnv();
        const format = parseSbomFormat(o.format);
        if (o.output !== undefined) {
          const written = await writeSbomFor(
            refText,
            { format, out: o.output, name: o.name, insecure: o.insecure },
            ctx,
          );
          const c = written.contents;
          if (!global.quiet)
            io.stderr(
              `wrote ${written.path} (${format}: ${c.python.length} Python distributions, ${c.deb.length} Debian packages)\n`,
            );
          return;
        }
        const contents = await readSbomContents(refText, ctx, { insecure: o.insecure });
        io.stdout(
          renderSbom(contents, format, {
            created: ctx.sourceDateEpoch ?? Math.floor(ctx.now() / 1000),
            toolVersion: packageVersion(),
            name: o.name,
          }),
        );
      },
    );
}
