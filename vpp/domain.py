"""The VPP's vocabulary: plant kinds and statuses, and the dispatch tolerance.

A leaf module (no imports from the app), shared by the models, the field rules and
the pure dispatch algorithm so that each word is spelled in one place.
"""

PLANT_KINDS = (
    "battery",
    "solar",
    "wind",
    "hydro",
    "diesel",
    "gas",
    "chp",
    "demand_response",
    "other",
)
DEFAULT_KIND = "other"

STATUS_IDLE = "idle"
STATUS_RUNNING = "running"
STATUS_DOWN = "down"
PLANT_STATUSES = (STATUS_IDLE, STATUS_RUNNING, STATUS_DOWN)
DEFAULT_STATUS = STATUS_IDLE

NAME_MAX_LENGTH = 100

# kW, absolute: the tolerance for equality and bound checks in dispatch (DESIGN.md rule 6).
TOLERANCE_KW = 1e-6
