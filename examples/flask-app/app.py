"""A small Flask service: the demo app."""
import platform

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(service="flask-app", python=platform.python_version())


@app.get("/health")
def health():
    return "ok\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
