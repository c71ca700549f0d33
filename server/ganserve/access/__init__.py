"""Who is calling and what they may do: API keys with scopes, the caller of each request, and the
per-caller rate limits. Transports authenticate a request here before any work starts; the
operations see only the resulting Caller (whose saved latents, whose quota).

Policy (GANSERVE_AUTH): "open", the embedded default, lets anyone call every route (a key, when
sent, is still checked and identifies the caller); "keys" requires a key with the route's scope.
"""
