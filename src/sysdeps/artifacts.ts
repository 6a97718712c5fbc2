/**
 * What the built Python artifacts (wheels, or an installed venv) link: every ELF file's DT_NEEDED,
 * minus what the artifacts bundle themselves (auditwheel-style `.libs` directories, libraries
 * found through `$ORIGIN`) and the C library itself.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import yauzl from "yauzl";
import { SlimwheelError } from "../errors.js";
import { parseWheelFilename, type WheelFilename } from "../python/wheel-filename.js";
import { type ElfInfo, isElf, parseElf } from "./elf.js";

export interface ExtensionModule {
  /** Path inside the wheel or the scanned directory, e.g. psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so */
  readonly file: string;
  /** The wheel it came from (file name), when it came from one. */
  readonly wheel?: string;
  readonly elf: ElfInfo;
}

export interface ArtifactScan {
  readonly wheels: readonly WheelFilename[];
  readonly extensions: readonly ExtensionModule[];
  /** Library file names and SONAMEs shipped inside the artifacts. */
  readonly bundled: ReadonlySet<string>;
}

/** Always there with any libc; never a package to add. */
const CORE =
  /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|libresolv\.so\.2|ld-linux[^/]*\.so\.\d|libc\.musl-[^/]+\.so\.1|ld-musl-[^/]+\.so\.1)$/;

const isLibrary = (name: string) => /\.so(\.\d+)*$/.test(name);
const MAX_ENTRY = 512 * 1024 * 1024;

function readZipLibraries(path: string): Promise<{ name: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) {
        reject(
          new SlimwheelError("input", `${path} is not a valid wheel (zip): ${err?.message}`, {
            hint: "rebuild the wheel",
          }),
        );
        return;
      }
      const out: { name: string; data: Buffer }[] = [];
      zip.on("error", (e: Error) =>
        reject(new SlimwheelError("input", `reading wheel ${path}: ${e.message}`, { cause: e })),
      );
      zip.on("end", () => resolve(out));
      zip.on("entry", (entry: yauzl.Entry) => {
        const name = entry.fileName;
        if (name.split("/").includes("..") || name.startsWith("/")) {
          zip.close();
          reject(
            new SlimwheelError("input", `wheel ${path} has an unsafe path "${name}"`, {
              hint: "a wheel must not write outside its install directory; do not install it",
            }),
          );
          return;
        }
        if (!isLibrary(name.split("/").at(-1)!) || entry.uncompressedSize > MAX_ENTRY) {
          zip.readEntry();
          return;
        }
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) {
            reject(e2);
            return;
          }
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", reject);
          stream.on("end", () => {
            out.push({ name, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

async function walk(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Scans a directory of wheels (and/or installed files) for extension modules and what they link. */
export async function scanArtifacts(dir: string): Promise<ArtifactScan> {
  const wheels: WheelFilename[] = [];
  const extensions: ExtensionModule[] = [];
  const bundled = new Set<string>();
  for (const f of (await walk(dir)).sort()) {
    const base = f.split("/").at(-1)!;
    if (base.endsWith(".whl")) {
      wheels.push(parseWheelFilename(base));
      for (const lib of await readZipLibraries(join(dir, f))) {
        if (!isElf(lib.data)) continue;
        const elf = parseElf(lib.data, `${base}:${lib.name}`);
        bundled.add(lib.name.split("/").at(-1)!);
        if (elf.soname) bundled.add(elf.soname);
        extensions.push({ file: lib.name, wheel: base, elf });
      }
    } else if (isLibrary(base)) {
      const data = await readFile(join(dir, f));
      if (!isElf(data)) continue;
      const elf = parseElf(data, f);
      bundled.add(base);
      if (elf.soname) bundled.add(elf.soname);
      extensions.push({ file: f, elf });
    }
  }
  return { wheels, extensions, bundled };
}

/** Libraries the artifacts need from the system: soname → the modules that need it. */
export function externalLibraries(scan: ArtifactScan): Map<string, ExtensionModule[]> {
  const out = new Map<string, ExtensionModule[]>();
  for (const ext of scan.extensions) {
    for (const soname of ext.elf.needed) {
      if (CORE.test(soname) || scan.bundled.has(soname)) continue;
      out.set(soname, [...(out.get(soname) ?? []), ext]);
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}
