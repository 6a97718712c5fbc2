# refused: the slim strategy cannot build this project: it needs system packages the slim image lacks (libxml2, libxslt1.1, libyaml-0-2; libxml2: lxml's extension links it)
