"""Proves the app works in the image: Django checks pass, the view answers, psycopg2 loads libpq."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

import django  # noqa: E402

django.setup()

import psycopg2  # noqa: E402  (loads _psycopg, which links libpq.so.5)
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("check", "--fail-level", "ERROR")
r = Client().get("/")
assert r.status_code == 200, r.status_code
print(f"smoke ok: django {django.get_version()}, psycopg2 {psycopg2.__version__} (libpq {psycopg2.__libpq_version__})")
