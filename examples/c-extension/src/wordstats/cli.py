import sys

import yamlinfo

from . import count_words


def main() -> int:
    text = sys.stdin.read() if not sys.argv[1:] else " ".join(sys.argv[1:])
    print(f"{count_words(text)} words (libyaml {yamlinfo.libyaml_version()})")
    return 0
