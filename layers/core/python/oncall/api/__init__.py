"""The management API (``/api/v1/``): the app (:mod:`.app`), one router per resource (:mod:`.routes`), mapping
OnCall's shapes (:mod:`oncall.schemas`) to the use cases of :mod:`oncall.services`."""
