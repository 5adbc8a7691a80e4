"""A small gradserve client: ``Client`` (sync) and ``AsyncClient`` run programs; ``tensor``
sends a numpy array as a typed tensor object (base64, so the dtype and NaN survive); answers
come back with numpy arrays; a problem answer raises ``ProblemError``."""

from gradserve_client.client import AsyncClient, Client
from gradserve_client.problems import ProblemError
from gradserve_client.tensors import Answer, Tensor, tensor

__all__ = ["Answer", "AsyncClient", "Client", "ProblemError", "Tensor", "tensor"]
