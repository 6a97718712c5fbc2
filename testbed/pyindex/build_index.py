#!/usr/bin/env python3
"""Builds the test bed's PEP 503 package index.

* Debian python3-* packages become real wheels: the modules Debian built (compiled ones link the
  system libraries, as wheels built from source in a builder do) plus a .dist-info whose METADATA
  carries the upstream Requires-Dist (restored from packages.json where Debian stripped it).
* pip/setuptools/wheel come as the wheels Debian ships in its python3-*-whl packages.
* The fixture projects under ../fixtures become sdists.

Output: OUT/files/*.whl|*.tar.gz and OUT/simple/<project>/index.html with sha256 fragments and
data-requires-python. Deterministic: fixed timestamps, sorted entries.

Usage: build_index.py --debs DIR --packages packages.json --fixtures DIR --out DIR --arch ARCH
"""
import argparse
import base64
import csv
import email.parser
import email.policy
import glob
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MTIME = 315532800  # 1980-01-01


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_escape(name):
    """PEP 427 / binary distribution format escaping of a name component."""
    return re.sub(r"[-_.]+", "_", name).lower()


def die(msg):
    print(f"build_index: {msg}", file=sys.stderr)
    sys.exit(1)


def find_deb(debs_dir, package):
    matches = sorted(glob.glob(os.path.join(debs_dir, f"{package}_*.deb")))
    if not matches:
        die(f"no .deb for {package} in {debs_dir}")
    return matches[-1]


def parse_requires_txt(text):
    """setuptools requires.txt -> (base requirements, {extra: [req]}, [req with marker])."""
    base, extras, section = [], {}, None
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[(.*)\]$", line)
        if m:
            section = m.group(1)
            continue
        if section is None:
            out.append(line)
            continue
        extra, _, cond = section.partition(":")
        markers = []
        if cond:
            markers.append(f"({cond})" if extra else cond)
        if extra:
            extras.setdefault(extra, [])
            markers.append(f'extra == "{extra}"')
        out.append(f"{line}; {' and '.join(markers)}")
    return out, sorted(extras)


def requires_from_table(entry):
    reqs = list(entry.get("requires", []))
    extras = sorted(entry.get("extras", {}))
    for extra in extras:
        for r in entry["extras"][extra]:
            reqs.append(f'{r}; extra == "{extra}"')
    return reqs, extras


def read_metadata(text):
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def write_metadata(msg, requires, extras):
    """METADATA text: the original headers minus dependency fields, plus ours."""
    keep = []
    for k, v in msg.items():
        if k.lower() in ("requires-dist", "provides-extra", "requires", "metadata-version"):
            continue
        keep.append((k, v))
    lines = ["Metadata-Version: 2.1"]
    for k, v in keep:
        v = str(v).replace("\n", "\n       ")
        lines.append(f"{k}: {v}")
    for e in extras:
        lines.append(f"Provides-Extra: {e}")
    for r in requires:
        lines.append(f"Requires-Dist: {r}")
    body = msg.get_payload()
    text = "\n".join(lines) + "\n"
    if body and body.strip():
        text += "\n" + body.strip() + "\n"
    return text


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(path, files):
    """files: list of (arcname, bytes, mode). RECORD is added last."""
    dist_info = next(a.split("/")[0] for a, _, _ in files if a.split("/")[0].endswith(".dist-info"))
    rows = []
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for arc, data, mode in sorted(files):
            zi = zipfile.ZipInfo(arc, ZIP_DATE)
            zi.external_attr = (mode & 0xFFFF) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
            rows.append((arc, record_hash(data), str(len(data))))
        rows.append((f"{dist_info}/RECORD", "", ""))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        zi = zipfile.ZipInfo(f"{dist_info}/RECORD", ZIP_DATE)
        zi.external_attr = 0o644 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, buf.getvalue())
    os.replace(tmp, path)


def wheel_from_deb(deb, entry, out_dir, arch, py_tag):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        site = os.path.join(tmp, "usr/lib/python3/dist-packages")
        if not os.path.isdir(site):
            die(f"{os.path.basename(deb)} has no usr/lib/python3/dist-packages")
        meta_dirs = [d for d in os.listdir(site) if d.endswith((".egg-info", ".dist-info"))]
        if len(meta_dirs) != 1:
            die(f"{os.path.basename(deb)}: expected one .egg-info/.dist-info, found {meta_dirs}")
        meta_dir = os.path.join(site, meta_dirs[0])
        if meta_dirs[0].endswith(".dist-info"):
            msg = read_metadata(open(os.path.join(meta_dir, "METADATA"), encoding="utf-8").read())
        else:
            msg = read_metadata(open(os.path.join(meta_dir, "PKG-INFO"), encoding="utf-8").read())
        name, version = msg["Name"], msg["Version"]

        if "requires" in entry:
            requires, extras = requires_from_table(entry)
        elif meta_dirs[0].endswith(".dist-info"):
            requires = msg.get_all("Requires-Dist") or []
            extras = msg.get_all("Provides-Extra") or []
        else:
            rt = os.path.join(meta_dir, "requires.txt")
            requires, extras = parse_requires_txt(open(rt).read()) if os.path.exists(rt) else ([], [])

        files, compiled, skipped = [], False, []
        for root, dirs, names in os.walk(site):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and os.path.join(root, d) != meta_dir)
            for n in sorted(names):
                full = os.path.join(root, n)
                rel = os.path.relpath(full, site)
                if n.endswith(".pyc"):
                    continue
                if os.path.islink(full) and not os.path.exists(full):
                    skipped.append(rel)  # points outside the package (e.g. Debian's shared jquery)
                    continue
                if not os.path.isfile(full):
                    continue
                if n.endswith(".so") or ".so." in n:
                    compiled = True
                mode = os.stat(full).st_mode
                files.append((rel, open(full, "rb").read(), mode))

        dist_name = f"{wheel_escape(name)}-{version}"
        di = f"{dist_name}.dist-info"
        tag = f"{py_tag}-{py_tag}-linux_{arch}" if compiled else "py3-none-any"
        wheel_meta = (
            "Wheel-Version: 1.0\nGenerator: slimwheel-testbed (repackaged from "
            f"{os.path.basename(deb)})\nRoot-Is-Purelib: {'false' if compiled else 'true'}\nTag: {tag}\n"
        )
        files.append((f"{di}/METADATA", write_metadata(msg, requires, extras).encode(), 0o644))
        files.append((f"{di}/WHEEL", wheel_meta.encode(), 0o644))
        for extra in ("top_level.txt", "entry_points.txt"):
            p = os.path.join(meta_dir, extra)
            if os.path.exists(p):
                files.append((f"{di}/{extra}", open(p, "rb").read(), 0o644))
        whl = os.path.join(out_dir, f"{dist_name}-{tag}.whl")
        write_wheel(whl, files)
        return {"file": os.path.basename(whl), "name": name, "version": version,
                "requires_python": msg.get("Requires-Python"), "skipped": skipped}


def wheels_from_whl_deb(deb, out_dir):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        for whl in sorted(glob.glob(os.path.join(tmp, "usr/share/python-wheels/*.whl"))):
            name, version = os.path.basename(whl).split("-")[:2]
            with zipfile.ZipFile(whl) as z:
                meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
                msg = read_metadata(z.read(meta_name).decode())
            shutil.copyfile(whl, os.path.join(out_dir, os.path.basename(whl)))
            out.append({"file": os.path.basename(whl), "name": msg["Name"], "version": msg["Version"],
                        "requires_python": msg.get("Requires-Python"), "skipped": []})
    return out


def tar_add(t, arcname, data, mode=0o644):
    ti = tarfile.TarInfo(arcname)
    ti.size, ti.mtime, ti.mode = len(data), MTIME, mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    t.addfile(ti, io.BytesIO(data))


def sdist_from_fixture(src, out_dir):
    """A fixture dir holding pyproject.toml (name, version in [project]) becomes NAME-VERSION.tar.gz."""
    pyproject = open(os.path.join(src, "pyproject.toml"), encoding="utf-8").read()
    name = re.search(r'^name\s*=\s*"([^"]+)"', pyproject, re.M).group(1)
    version = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.M).group(1)
    rp = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject, re.M)
    base = f"{wheel_escape(name)}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if rp:
        pkg_info += f"Requires-Python: {rp.group(1)}\n"
    path = os.path.join(out_dir, f"{base}.tar.gz")
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        import gzip
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=MTIME, filename="") as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as t:
                tar_add(t, f"{base}/PKG-INFO", pkg_info.encode())
                for root, dirs, names in os.walk(src):
                    dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "build") and not d.endswith(".egg-info"))
                    for n in sorted(names):
                        full = os.path.join(root, n)
                        rel = os.path.relpath(full, src)
                        mode = 0o755 if os.access(full, os.X_OK) else 0o644
                        tar_add(t, f"{base}/{rel}", open(full, "rb").read(), mode)
    os.replace(tmp, path)
    return {"file": os.path.basename(path), "name": name, "version": version,
            "requires_python": rp.group(1) if rp else None, "skipped": []}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_simple(out, dists):
    by_project = {}
    for d in dists:
        by_project.setdefault(normalize(d["name"]), []).append(d)
    simple = os.path.join(out, "simple")
    os.makedirs(simple, exist_ok=True)
    links = []
    for project in sorted(by_project):
        links.append(f'    <a href="{project}/">{project}</a><br/>')
        pdir = os.path.join(simple, project)
        os.makedirs(pdir, exist_ok=True)
        rows = []
        for d in sorted(by_project[project], key=lambda d: d["file"]):
            digest = sha256_file(os.path.join(out, "files", d["file"]))
            rp = f' data-requires-python="{html.escape(d["requires_python"])}"' if d["requires_python"] else ""
            rows.append(f'    <a href="../../files/{d["file"]}#sha256={digest}"{rp}>{d["file"]}</a><br/>')
        with open(os.path.join(pdir, "index.html"), "w") as f:
            f.write(f'<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0"><title>Links for {project}</title></head>\n  <body>\n    <h1>Links for {project}</h1>\n' + "\n".join(rows) + "\n  </body>\n</html>\n")
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write('<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0"><title>Simple index</title></head>\n  <body>\n' + "\n".join(links) + "\n  </body>\n</html>\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--debs", required=True)
    ap.add_argument("--packages", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", required=True, help="wheel platform arch: x86_64 or aarch64")
    ap.add_argument("--py-tag", default="cp311")
    a = ap.parse_args()
    table = json.load(open(a.packages))
    files = os.path.join(a.out, "files")
    os.makedirs(files, exist_ok=True)
    dists = []
    for pkg, entry in sorted(table["debs"].items()):
        dists.append(wheel_from_deb(find_deb(a.debs, pkg), entry, files, a.arch, a.py_tag))
    for pkg in table["wheelDebs"]:
        dists.extend(wheels_from_whl_deb(find_deb(a.debs, pkg), files))
    for fixture in sorted(os.listdir(a.fixtures)):
        src = os.path.join(a.fixtures, fixture)
        if os.path.exists(os.path.join(src, "pyproject.toml")):
            dists.append(sdist_from_fixture(src, files))
    write_simple(a.out, dists)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"distributions": dists}, f, indent=2, sort_keys=True)
    print(json.dumps({"count": len(dists)}))


if __name__ == "__main__":
    main()
