"""A faithful stand-in for Graph's windowsUpdates API and the identity platform token endpoint."""

from app.simulator.app import create_simulator_app
from app.simulator.state import SimulatorState

__all__ = ["SimulatorState", "create_simulator_app"]
