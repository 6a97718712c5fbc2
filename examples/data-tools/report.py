"""Reads a YAML config and an XML feed, and solves a small linear system: C extensions that link libyaml, libxml2/libxslt and BLAS/LAPACK."""
import sys

import numpy as np
import yaml
from lxml import etree


def main() -> int:
    config = yaml.load("weights: [2, 1, 1, 3]\n", Loader=yaml.CSafeLoader)
    feed = etree.fromstring(b"<feed><item v='5'/><item v='10'/></feed>")
    a = np.array(config["weights"], dtype=float).reshape(2, 2)
    b = np.array([float(i.get("v")) for i in feed.iter("item")])
    print(np.linalg.solve(a, b).round(3).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
