# refused: the slim strategy cannot build this project: it needs system packages the slim image lacks (libpq5; libpq5: psycopg2's extension links it)
