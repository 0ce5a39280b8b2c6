"""Imports every table module so that SQLModel.metadata knows them all (migrations, tests)."""

from models.inbound import InboundMessage

__all__ = ["InboundMessage"]
