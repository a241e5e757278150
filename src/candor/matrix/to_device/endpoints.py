"""to_device endpoints (being written)."""

from fastapi import APIRouter

router = APIRouter()
