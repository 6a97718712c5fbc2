"""Proves the app works in the image: libyaml (CSafeLoader), libxml2/libxslt and BLAS/LAPACK all load."""
import numpy as np
import yaml
from lxml import etree

import report

assert yaml.__with_libyaml__, "PyYAML's C extension (libyaml) did not load"
xslt = etree.XSLT(etree.XML(b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:output method="text"/><xsl:template match="/">ok</xsl:template></xsl:stylesheet>'))
assert str(xslt(etree.XML(b"<a/>"))).strip() == "ok"
assert np.allclose(np.linalg.inv(np.eye(3) * 2), np.eye(3) / 2)
assert report.main() == 0
print(f"smoke ok: data-tools (lxml {etree.__version__}, libyaml, numpy {np.__version__} with LAPACK)")
