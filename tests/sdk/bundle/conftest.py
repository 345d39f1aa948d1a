from ...runtime.conformance.fixtures import model_store  # noqa: F401  (shared session fixture)
