import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { readProject } from "../project/read.js";
import { renderDockerfile } from "../render/dockerfile/index.js";
import { assembleArtifacts, assemblePlan, strategyNamed } from "./assemble.js";
import { credentialArgsFrom } from "./stages.js";

const example = (name: string) => readProject(join(import.meta.dirname, "..", "..", "examples", name));

describe("the assemble phase", () => {
  it("names an unknown strategy in a usage error that lists the known ones", () => {
    try {
      strategyNamed("tiny");
      expect.unreachable();
    } catch (e) {
      expect(isSlimwheelError(e) && e.code === "usage").toBe(true);
      expect((e as Error).message).toContain('"tiny"');
    }
  });

  it("gives the artifacts plan only for strategies that build the dependencies apart", async () => {
    const p = await example("django-postgres");
    expect(assembleArtifacts(p, "full")).toBeUndefined();
    const artifacts = assembleArtifacts(p, "slimwheel")!;
    expect(artifacts.stages.map((s) => s.name)).toEqual(["deps"]);
    expect(artifacts.runtimePackages).toEqual([]);
  });

  it("puts the runtime needs it is given into the plan, with their reasons", async () => {
    const p = await example("django-postgres");
    const plan = assemblePlan(p, "slimwheel", {
      runtimeNeeds: [{ package: "libfoo1", for: "foo", why: "libfoo.so.1 ← foo.so" }],
    });
    expect(plan.runtimePackages).toContainEqual({ name: "libfoo1", why: "libfoo.so.1 ← foo.so" });
    expect(assemblePlan(p, "slimwheel").runtimePackages).not.toContainEqual(
      expect.objectContaining({ name: "libfoo1" }),
    );
  });
});

describe("the project's build steps in every strategy", () => {
  it("runs Django's collectstatic after the app's code is in place, before the switch to the app user", async () => {
    const base = await example("django-postgres");
    const p = {
      ...base,
      buildSteps: [
        {
          name: "collectstatic" as const,
          command: "python manage.py collectstatic --noinput",
          env: { DJANGO_SETTINGS_MODULE: "mysite.settings" },
          why: "STATIC_ROOT is set in mysite/settings.py:3",
        },
      ],
    };
    for (const strategy of ["slimwheel", "wheels", "venv", "full", "slim-apt", "single-layer"]) {
      const final = assemblePlan(p, strategy).stages.at(-1)!;
      const commands = final.steps.map((s) => (s.kind === "run" ? s.commands.join(" && ") : s.kind));
      const collect = commands.findIndex((c) => c.includes("manage.py collectstatic --noinput"));
      expect(collect, strategy).toBeGreaterThan(commands.lastIndexOf("copy"));
      const user = commands.indexOf("user");
      if (user >= 0) expect(user, strategy).toBeGreaterThan(collect);
    }
    const plain = assemblePlan(base, "slimwheel").stages.at(-1)!.steps;
    expect(plain.some((s) => s.kind === "run" && s.commands.some((c) => c.includes("collectstatic")))).toBe(
      false,
    );
  });
});

describe("index credentials in a requirements file", () => {
  it("never reach a layer: the file stays out of the context, a generated copy names variables, the builder gets them as arguments", async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-creds-"));
    try {
      await mkdir(join(dir, "reqs"));
      await writeFile(join(dir, "app.py"), "import yaml\n");
      await writeFile(join(dir, "requirements.txt"), "-r reqs/base.txt\nflask==2.2.2\n");
      await writeFile(
        join(dir, "reqs", "base.txt"),
        "--index-url https://deploy:s3cret-token@pypi.internal.test/simple\n--find-links https://fl:flpass99@links.test/\nPyYAML==6.0\nmylib @ https://u:dpw-77@files.test/mylib-1.0.tar.gz\n",
      );
      const p = await readProject(dir);
      expect(p.warnings.map((w) => w.message).join("\n")).toContain("credentials in an index URL");
      expect(JSON.stringify(p.warnings)).not.toContain("s3cret-token");
      for (const strategy of ["slimwheel", "wheels", "venv", "full", "single-layer"]) {
        const plan = assemblePlan(p, strategy);
        const text = renderDockerfile(plan, { version: "t" });
        expect(text, strategy).not.toContain("s3cret-token");
        expect(text, strategy).toContain("PIP_INDEX_PASSWORD");
        expect(plan.dockerignore, strategy).toEqual(
          expect.arrayContaining(["requirements.txt", "reqs/base.txt"]),
        );
        const generated = plan.generated.map((g) => g.content).join("\n");
        for (const secret of ["s3cret-token", "flpass99", "dpw-77"]) expect(generated).not.toContain(secret);
        expect(text).not.toContain("flpass99");
        expect(generated).toContain(
          "https://${PIP_INDEX_USER}:${PIP_INDEX_PASSWORD}@pypi.internal.test/simple",
        );
        expect(generated).toContain("PyYAML==6.0");
        expect(generated).toContain("flask==2.2.2");
      }
      expect(
        credentialArgsFrom(p, { PIP_INDEX_USER: "deploy", PIP_INDEX_PASSWORD: "x", HOME: "/root" }),
      ).toEqual({
        PIP_INDEX_USER: "deploy",
        PIP_INDEX_PASSWORD: "x",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
