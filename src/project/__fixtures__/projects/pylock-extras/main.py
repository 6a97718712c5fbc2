import sqlalchemy
