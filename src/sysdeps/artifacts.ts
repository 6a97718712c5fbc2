/**
 * What the built Python artifacts (wheels, or an installed venv) link: every ELF file's DT_NEEDED,
 * minus what the artifacts bundle themselves (auditwheel-style `.libs` directories, libraries
 * found through `$ORIGIN`) and the C library itself.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
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

/**
 * A zip entry is a decompression bomb when it inflates more than MAX_RATIO times and past
 * BOMB_BYTES: real libraries and data in wheels compress 2–10×, a run of zeros 1000×.
 */
export const MAX_RATIO = 100;
export const BOMB_BYTES = 64 * 1024 * 1024;

const unsafeName = (name: string) =>
  name.startsWith("/") || name.includes("\\") || /^[A-Za-z]:/.test(name) || name.split("/").includes("..");

/** Whether a symlink target, read in the entry at `name`, stays inside the archive's root. */
const linkStaysInside = (name: string, target: string) => {
  const to = posix.normalize(posix.join(posix.dirname(name), target));
  return !target.startsWith("/") && to !== ".." && !to.startsWith("../");
};

function refuse(path: string, message: string, hint: string): SlimwheelError {
  return new SlimwheelError("input", `wheel ${path}: ${message}`, { hint });
}

const bomb = (path: string, name: string, bytes: number, compressed: number) =>
  refuse(
    path,
    `entry "${name}" inflates ${bytes} bytes from ${compressed} (ratio ${Math.round(bytes / Math.max(compressed, 1))}:1, over ${MAX_RATIO}:1 past ${BOMB_BYTES} bytes): a decompression bomb`,
    "do not install this wheel; rebuild it from its source",
  );

/**
 * The ELF-candidate entries of a wheel, read into memory. Refuses (naming the entry) paths that
 * leave the install directory, symlinks that do, and decompression bombs — by the sizes the zip
 * declares and, since those can lie, by the bytes actually inflated; no buffer is sized from a header.
 */
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
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(
          e instanceof SlimwheelError
            ? e
            : new SlimwheelError("input", `reading wheel ${path}: ${(e as Error).message}`, { cause: e }),
        );
      };
      zip.on("error", fail);
      zip.on("end", () => {
        if (!failed) resolve(out);
      });
      /** An entry's bytes, checked for a bomb as they come; at most `max` kept. */
      const read = (entry: yauzl.Entry, max: number, then: (data: Buffer) => void) => {
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) {
            fail(e2 ?? new Error("no stream"));
            return;
          }
          const chunks: Buffer[] = [];
          let bytes = 0;
          stream.on("data", (c: Buffer) => {
            bytes += c.length;
            if (bytes > BOMB_BYTES && bytes > MAX_RATIO * Math.max(entry.compressedSize, 1)) {
              stream.destroy();
              fail(bomb(path, entry.fileName, bytes, entry.compressedSize));
              return;
            }
            if (bytes <= max) chunks.push(c);
          });
          stream.on("error", fail);
          stream.on("end", () => {
            if (!failed) then(Buffer.concat(chunks));
          });
        });
      };
      zip.on("entry", (entry: yauzl.Entry) => {
        if (failed) return;
        const name = entry.fileName;
        if (unsafeName(name)) {
          fail(
            refuse(
              path,
              `unsafe path "${name}"`,
              "a wheel must not write outside its install directory; do not install it",
            ),
          );
          return;
        }
        if (
          entry.uncompressedSize > BOMB_BYTES &&
          entry.uncompressedSize > MAX_RATIO * Math.max(entry.compressedSize, 1)
        ) {
          fail(bomb(path, name, entry.uncompressedSize, entry.compressedSize));
          return;
        }
        const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
        if (mode === 0o120000) {
          read(entry, 4096, (data) => {
            const target = data.toString("utf8");
            if (!linkStaysInside(name, target)) {
              fail(
                refuse(
                  path,
                  `symlink "${name}" points outside the wheel (to ${target})`,
                  "a wheel must not link outside its install directory; do not install it",
                ),
              );
              return;
            }
            zip.readEntry();
          });
          return;
        }
        if (!isLibrary(name.split("/").at(-1)!) || entry.uncompressedSize > MAX_ENTRY) {
          zip.readEntry();
          return;
        }
        read(entry, MAX_ENTRY, (data) => {
          out.push({ name, data });
          zip.readEntry();
        });
      });
      zip.readEntry();
    });
  });
}

/** For tests: the entries `readZipLibraries` keeps. */
export const readWheelLibraries = readZipLibraries;

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
