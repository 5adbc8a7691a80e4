"""gradserve's HTTP service: JSON autograd programs in, PyTorch-exact answers out.

``service.app.create_app`` builds the ASGI app; ``python -m service`` (console script ``gradserve``)
serves it with uvicorn. The engine (``engine/``) does the maths; this package validates programs,
runs them in isolation and encodes the answers.
"""

# Kept equal to pyproject.toml's version by tests/service/test_routes.py (test_version_matches_pyproject).
__version__ = "0.1.0"
