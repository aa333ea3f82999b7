"""The management API (``/api/v1/``): OnCall-compatible shapes (:mod:`.schemas`) and use cases (:mod:`.logic`)."""
