import jwt

print(jwt.__version__)
