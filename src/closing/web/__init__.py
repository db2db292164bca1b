"""The live board in a browser (`closing serve`) and the links that open it (`closing share`).

`tokens` and `document` are plain Python; only `app` (and `live`, through asyncio) belong to the
web server, and only `closing serve` imports them.
"""
