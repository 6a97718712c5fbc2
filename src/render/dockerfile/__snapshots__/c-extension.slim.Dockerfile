# refused: the slim strategy cannot build this project: it has its own C extension and the slim image has no compiler
