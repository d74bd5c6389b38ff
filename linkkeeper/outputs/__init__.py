"""What members and organizers see: pages, READINGS.md, week posts, show, the nightly summary,
Discord, the GitHub issue."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "blocks": "nights",
    "build": "pages",
    "ClientSettings": "webhook",
    "closing_comment": "summary",
    "DEFAULT_API": "github",
    "discord": "discord",
    "DiscordError": "webhook",
    "gather": "show",
    "GitHubError": "github",
    "is_healthy": "summary",
    "issue_body": "summary",
    "IssueResult": "github",
    "Night": "summary",
    "parse_now": "pages",
    "post_week": "discord",
    "publish": "pages",
    "recent_nights": "nights",
    "render_json": "show",
    "render_text": "show",
    "run": "discord",
    "StageNote": "summary",
    "STATE_FILE": "discord",
    "update_rolling_issue": "github",
    "Webhook": "webhook",
    "WEBHOOK_HELP": "webhook",
    "week_output": "pages",
    "weeks_words": "discord",
    "write_outputs": "summary",
}
__getattr__ = lazy(__name__, _FACE)
