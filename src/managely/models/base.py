"""Shared model bases: timestamps, and the opaque public code customer-facing rows carry."""

from __future__ import annotations

import secrets

from tortoise import fields
from tortoise.models import Model

# Crockford-style alphabet: no 0/O or 1/I/L to misread when a customer reads a code aloud.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 12


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class TimestampedModel(Model):
    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class PublicModel(TimestampedModel):
    """A row a customer can reach: URLs carry ``code``, never the integer key."""

    code = fields.CharField(max_length=16, unique=True, default=new_code)

    class Meta:
        abstract = True
