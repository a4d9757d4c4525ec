"""The FastAPI application of this Space; `app.main.create_app()` builds it."""
