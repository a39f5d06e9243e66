"""The HTTP layer: thin routes, request and response schemas, problem rendering, middleware."""
