"""The HTTP layer shared by the domain routers: the app factory, dependencies and middleware."""
