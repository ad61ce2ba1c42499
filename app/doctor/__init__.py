"""`python -m app doctor`: checks a configuration before go-live, one line per check."""

from app.doctor.command import run_doctor

__all__ = ["run_doctor"]
