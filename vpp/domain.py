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

# Why a plant got its dispatched output: the algorithm's reason codes and the words
# the pages, the API document and the CLI use for them.
REASON_CODES = {
    "down": "down",
    "at_max": "at maximum: cheaper than the marginal unit",
    "marginal": "marginal: sets the price",
    "at_min": "at minimum stable output",
    "off_min_above_demand": "off: its minimum is above the demand",
    "off_not_needed": "off: dearer than needed",
    "off_min_does_not_fit": "off: its minimum does not fit",
}

# Who may do what: each role may do everything the ones before it may.
ROLE_VIEWER = "viewer"  # reads everything, previews dispatches
ROLE_OPERATOR = "operator"  # also registers, edits, retires plants and dispatches
ROLE_ADMIN = "admin"  # also manages users and API tokens, reads the audit log
ROLES = (ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN)
USERNAME_MAX_LENGTH = 50
