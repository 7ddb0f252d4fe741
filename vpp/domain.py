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

# Why a plant got its dispatched output: the algorithm's reason codes, spelled here
# once, and the words the pages, the API document and the CLI use for them.
REASON_DOWN = "down"
REASON_AT_MAX = "at_max"
REASON_AT_MAX_SHORT = "at_max_short"
REASON_MARGINAL = "marginal"
REASON_AT_MIN = "at_min"
REASON_OFF_MIN_ABOVE_DEMAND = "off_min_above_demand"
REASON_OFF_NOT_NEEDED = "off_not_needed"
REASON_OFF_MIN_DOES_NOT_FIT = "off_min_does_not_fit"
REASON_CODES = {
    REASON_DOWN: "down",
    REASON_AT_MAX: "at maximum: cheaper than the marginal unit",
    REASON_AT_MAX_SHORT: "at maximum: the fleet cannot meet the demand",
    REASON_MARGINAL: "marginal: sets the price",
    REASON_AT_MIN: "at minimum stable output",
    REASON_OFF_MIN_ABOVE_DEMAND: "off: its minimum is above the demand",
    REASON_OFF_NOT_NEEDED: "off: dearer than needed",
    REASON_OFF_MIN_DOES_NOT_FIT: "off: its minimum does not fit",
}

# Who may do what: each role may do everything the ones before it may.
ROLE_VIEWER = "viewer"  # reads everything, previews dispatches
ROLE_OPERATOR = "operator"  # also registers, edits, retires plants and dispatches
ROLE_ADMIN = "admin"  # also manages users and API tokens, reads the audit log
ROLES = (ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN)
USERNAME_MAX_LENGTH = 50

# A schedule's life (DESIGN.md, "Schedules"): queued, then running on one worker,
# then done or failed (with a reason).
SCHEDULE_QUEUED = "queued"
SCHEDULE_RUNNING = "running"
SCHEDULE_DONE = "done"
SCHEDULE_FAILED = "failed"
SCHEDULE_STATUSES = (SCHEDULE_QUEUED, SCHEDULE_RUNNING, SCHEDULE_DONE, SCHEDULE_FAILED)
SCHEDULE_RESOLUTIONS = (5, 15, 30, 60)
# Where a plant's availability in a schedule came from.
AVAILABILITY_REQUEST = "request"
AVAILABILITY_CLEAR_SKY = "clear_sky"
AVAILABILITY_FULL = "full"
