"""Imports every module that declares tables, so Base.metadata knows them all."""
