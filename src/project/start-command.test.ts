import { describe, expect, it } from "vitest";
import { detectBuildSteps, detectStartCommand, type StartInputs } from "./start-command.js";

const inputs = (files: Record<string, string>, deps: string[] = []): StartInputs => ({
  files: Object.keys(files),
  read: (p) => files[p],
  dependencies: new Set(deps),
  scripts: {},
});
const MANAGE = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n';

describe("start command", () => {
  it("a bare script is started by name", () => {
    const start = detectStartCommand(
      inputs({ "bot.py": "print(1)\n", "setup.py": "", "test_bot.py": "" }),
      [],
    );
    expect(start).toMatchObject({
      command: "python bot.py",
      reason: "bot.py is the only script at the project root",
    });
  });
  it("two scripts at the root: no guess", () => {
    expect(detectStartCommand(inputs({ "a.py": "", "b.py": "" }), [])).toBeUndefined();
  });
  it("a FastAPI app with uvicorn among the dependencies (as fastapi[standard] brings it) is served by uvicorn", () => {
    const start = detectStartCommand(
      inputs({ "main.py": "from fastapi import FastAPI\napp = FastAPI()\n" }, [
        "fastapi",
        "uvicorn",
        "uvloop",
      ]),
      [],
    );
    expect(start?.command).toBe("uvicorn --host 0.0.0.0 --port ${PORT:-8000} main:app");
  });
});

describe("build steps", () => {
  it("Django with STATIC_ROOT: collectstatic at build time, with the line that asks for it", () => {
    const steps = detectBuildSteps(
      inputs({
        "manage.py": MANAGE,
        "shop/settings.py": 'STATIC_URL = "static/"\nSTATIC_ROOT = BASE_DIR / "staticfiles"\n',
      }),
    );
    expect(steps).toEqual([
      {
        name: "collectstatic",
        command: "python manage.py collectstatic --noinput",
        env: { DJANGO_SETTINGS_MODULE: "shop.settings" },
        why: "STATIC_ROOT is set in shop/settings.py:2: Django serves static files from there only after collectstatic",
      },
    ]);
  });
  it("Django without STATIC_ROOT, or no Django: none", () => {
    expect(
      detectBuildSteps(inputs({ "manage.py": MANAGE, "shop/settings.py": 'STATIC_URL = "static/"\n' })),
    ).toEqual([]);
    expect(detectBuildSteps(inputs({ "app.py": "STATIC_ROOT = 1\n" }))).toEqual([]);
  });
});
