"""Proves the app works in the image: its own C extension and the libyaml-linked dependency load."""
import yamlinfo
import wordstats

assert wordstats.count_words("slim images build fast") == 4
assert yamlinfo.count_events("a: [1, 2]\n") > 0
print(f"smoke ok: wordstats counts words; libyaml {yamlinfo.libyaml_version()}")
