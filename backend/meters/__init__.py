"""Meter enrolment through the API (``/meters``) and the MeterRegistered event's row."""

from backend.meters._apply import EnrolmentConflict, apply_meter_registered
from backend.meters.controller import MeterController

__all__ = ["EnrolmentConflict", "MeterController", "apply_meter_registered"]
