"""Proves the app works in the image: routes answer, the server and HTTP client import."""
import gunicorn.app.wsgiapp  # noqa: F401  (the start command's server)
import requests

from app import app

client = app.test_client()
r = client.get("/")
assert r.status_code == 200, r.status_code
assert r.get_json()["service"] == "flask-app"
assert client.get("/health").data == b"ok\n"
print(f"smoke ok: flask-app answers; requests {requests.__version__}")
