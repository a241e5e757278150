"""The ASGI app (factory.py), its error mapping (errors.py) and its request guard
(body_limit.py). The parts it serves are built in the composition root, candor/wiring.py."""

from candor.app.factory import create_app, freeze_startup_heap

__all__ = ["create_app", "freeze_startup_heap"]
