import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProject } from "../project/read.js";
import { systemPackages } from "../report/plan.js";
import { usedModules } from "./known-packages.js";

// docs/sysdeps.md: "GeoDjango → GDAL, GEOS, PROJ", applied only when the app uses django.contrib.gis.
describe("the GeoDjango rule", () => {
  let dir: string;
  const project = async (name: string, apps: string[]) => {
    const d = join(dir, name);
    await mkdir(join(d, "site"), { recursive: true });
    await writeFile(join(d, "requirements.txt"), "django==4.2.0\n");
    await writeFile(
      join(d, "manage.py"),
      'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")\n',
    );
    await writeFile(
      join(d, "site", "settings.py"),
      `INSTALLED_APPS = [\n${apps.map((a) => `    "${a}",\n`).join("")}]\nWSGI_APPLICATION = "site.wsgi.application"\n`,
    );
    return readProject(d);
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "slimwheel-geodjango-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("adds GDAL, GEOS and PROJ when the settings install django.contrib.gis", async () => {
    const p = await project("gis", ["django.contrib.admin", "django.contrib.gis"]);
    expect(p.frameworks).toContainEqual({
      name: "geodjango",
      reason: "django.contrib.gis is in site/settings.py",
    });
    expect(usedModules(p.frameworks)).toEqual(new Set(["django.contrib.gis"]));
    const runtime = systemPackages(p).runtime.map((r) => r.name);
    expect(runtime).toEqual(expect.arrayContaining(["libgdal32", "libgeos-c1v5", "libproj25"]));
  });

  it("adds nothing for a Django app without it", async () => {
    const p = await project("plain", ["django.contrib.admin"]);
    expect(p.frameworks.map((f) => f.name)).toEqual(["django"]);
    expect(systemPackages(p).runtime).toEqual([]);
  });
});
