"""The API's endpoints, one module per feature; app/api.py puts them under /api."""
