"""The web client: the polite fetcher, per-host politeness, --remap, the private-address guard,
bot-wall signatures."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "API_TOTAL_TIMEOUT": "guarded",
    "CHALLENGE_ANY": "walls",
    "challenge_marker": "walls",
    "CHALLENGE_ON_200": "walls",
    "CHALLENGE_ON_200_KEYS": "walls",
    "CHALLENGE_SCAN_BYTES": "walls",
    "Fetcher": "fetcher",
    "FetchSettings": "fetcher",
    "GuardedAsyncTransport": "guarded",
    "GuardedTransport": "guarded",
    "literal_refusal": "netsafety",
    "mentions": "walls",
    "refusal": "netsafety",
    "RemapError": "remap",
    "Remapper": "remap",
    "retry_after_seconds": "fetcher",
    "Revalidation": "fetcher",
    "run_bounded": "politeness",
    "user_agent": "fetcher",
    "wall_answer": "walls",
    "WALL_HEADERS": "walls",
}
__getattr__ = lazy(__name__, _FACE)
