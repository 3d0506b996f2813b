"""Webhooks: an owner's URLs told when one of their sessions completes or fails, so apps need not poll.

Stored as `owners/{owner}/webhooks/{webhook_id}.json` (with the signing secret, which the API shows
once, at registration). When a session ends, `notify_session_end` POSTs one event per subscribed
webhook:

    POST <url>
    Content-Type: application/json
    MotionLens-Event-Id: evt_...          (also Idempotency-Key: the same for every retry)
    MotionLens-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

    {"id": "evt_...", "type": "session.completed", "created_at": "...", "session": {...}}

A receiver recomputes v1 over the raw body, compares in constant time, rejects an old `t` (replay)
and ignores an `id` it has already handled. Every request goes through the one SSRF guard
(`pipeline.url_guard.guarded_client`): private and loopback addresses are refused unless
`MOTIONLENS_URL_ALLOWLIST` allows them; redirects are not followed. A failed attempt (network
error, 408, 429, 5xx) is retried with exponential back-off, a bounded number of times; other
answers end the delivery. The event id is derived from the session's final state, and each
(event, webhook) is claimed once in the store (`create_exclusive`), so two processes that both see
the end of a session (the API's background analysis and a Prefect hook) deliver it once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from pipeline import __version__
from pipeline.session import is_valid_session_id, read_manifest, utc_now_iso
from pipeline.storage import Storage
from pipeline.url_guard import UnsafeUrl, check_url, guarded_client

log = logging.getLogger("motionlens.webhooks")

EVENTS = ("session.completed", "session.failed")
MAX_WEBHOOKS_PER_OWNER = 10
SIGNATURE_HEADER = "MotionLens-Signature"
EVENT_ID_HEADER = "MotionLens-Event-Id"
_RETRYABLE = {408, 425, 429}
_ID_BYTES = 12


@dataclass(frozen=True)
class DeliveryPolicy:
    """Attempts and back-off: waits of backoff_s, 2x, 4x ... capped at max_backoff_s."""
    attempts: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> DeliveryPolicy:
        env = os.environ
        return cls(attempts=max(1, int(env.get("MOTIONLENS_WEBHOOK_ATTEMPTS", "6"))),
                   backoff_s=float(env.get("MOTIONLENS_WEBHOOK_BACKOFF_S", "1")),
                   max_backoff_s=float(env.get("MOTIONLENS_WEBHOOK_MAX_BACKOFF_S", "60")),
                   timeout_s=float(env.get("MOTIONLENS_WEBHOOK_TIMEOUT_S", "10")))

    def delays(self) -> list[float]:
        return [min(self.backoff_s * 2 ** i, self.max_backoff_s) for i in range(self.attempts - 1)]


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    owner: str
    url: str
    events: tuple[str, ...]
    created_at: str
    secret: str

    def public(self) -> dict[str, Any]:
        """What the API shows after registration: everything but the secret."""
        return {"webhook_id": self.webhook_id, "url": self.url, "events": list(self.events),
                "created_at": self.created_at}


def _owner_dir(owner: str) -> str:
    # Owners may contain '@', which storage keys do not; '=' is in no owner name, so this is one-to-one.
    return f"owners/{owner.replace('@', '=40')}"


def _webhook_key(owner: str, webhook_id: str) -> str:
    return f"{_owner_dir(owner)}/webhooks/{webhook_id}.json"


def register(storage: Storage, owner: str, url: str, events: Iterable[str] = EVENTS) -> Webhook:
    """Store a webhook for `owner`. Raises UnsafeUrl for a URL the guard refuses, ValueError otherwise."""
    if not isinstance(url, str) or len(url) > 2048:
        raise ValueError("url must be a string of at most 2048 characters")
    chosen = tuple(dict.fromkeys(events))
    if not chosen or any(e not in EVENTS for e in chosen):
        raise ValueError(f"events must be a non-empty subset of {', '.join(EVENTS)}")
    check_url(url)  # refused now rather than at the first delivery; every delivery checks again
    if len(list_webhooks(storage, owner)) >= MAX_WEBHOOKS_PER_OWNER:
        raise ValueError(f"an owner may register at most {MAX_WEBHOOKS_PER_OWNER} webhooks")
    hook = Webhook(webhook_id="wh_" + secrets.token_hex(_ID_BYTES), owner=owner, url=url, events=chosen,
                   created_at=utc_now_iso(), secret="whsec_" + secrets.token_urlsafe(32))
    storage.write_bytes(_webhook_key(owner, hook.webhook_id), json.dumps(asdict(hook)).encode(),
                        content_type="application/json")
    return hook


def list_webhooks(storage: Storage, owner: str) -> list[Webhook]:
    hooks = []
    for key in storage.list(f"{_owner_dir(owner)}/webhooks/"):
        if key.endswith(".json"):
            raw = json.loads(storage.read_bytes(key))
            hooks.append(Webhook(**{**raw, "events": tuple(raw["events"])}))
    return sorted(hooks, key=lambda h: (h.created_at, h.webhook_id))


def delete_webhook(storage: Storage, owner: str, webhook_id: str) -> bool:
    if not webhook_id.startswith("wh_") or not webhook_id[3:].isalnum() or len(webhook_id) > 64:
        return False
    key = _webhook_key(owner, webhook_id)
    if not storage.exists(key):
        return False
    storage.delete(key)
    return True


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_for(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The event of a session's final state; None while it is not completed or failed."""
    status = manifest.get("status")
    if status not in ("completed", "failed"):
        return None
    kind = f"session.{status}"
    # The same final state gives the same id: a receiver that sees it twice knows it is a repeat.
    seed = f"{manifest['session_id']}\n{kind}\n{manifest.get('updated_at')}"
    return {
        "id": "evt_" + hashlib.sha256(seed.encode()).hexdigest()[:32],
        "type": kind,
        "created_at": utc_now_iso(),
        "session": {
            "session_id": manifest["session_id"], "activity": manifest.get("activity"), "status": status,
            "exercise": (manifest.get("options") or {}).get("exercise"),
            "created_at_utc": manifest.get("created_at"), "updated_at_utc": manifest.get("updated_at"),
            "error": manifest.get("error"),
        },
    }


def deliver(hook: Webhook, event: dict[str, Any], policy: DeliveryPolicy) -> dict[str, Any]:
    """POST `event` to `hook` until it answers 2xx, a permanent refusal, or the attempts run out."""
    body = json.dumps(event, separators=(",", ":")).encode()
    outcome: dict[str, Any] = {"event_id": event["id"], "webhook_id": hook.webhook_id, "attempts": 0,
                               "delivered": False, "status_code": None, "error": None}
    delays = policy.delays()
    with guarded_client(timeout=policy.timeout_s, max_redirects=0) as client:
        for attempt in range(policy.attempts):
            outcome["attempts"] = attempt + 1
            timestamp = int(time.time())  # signed afresh per attempt: a receiver may reject old timestamps
            headers = {"Content-Type": "application/json", "User-Agent": f"MotionLens-Webhooks/{__version__}",
                       EVENT_ID_HEADER: event["id"], "Idempotency-Key": event["id"],
                       SIGNATURE_HEADER: sign(hook.secret, timestamp, body)}
            try:
                response = client.post(hook.url, content=body, headers=headers)
                outcome["status_code"], outcome["error"] = response.status_code, None
                if 200 <= response.status_code < 300:
                    outcome["delivered"] = True
                    return outcome
                if response.status_code < 500 and response.status_code not in _RETRYABLE:
                    return outcome  # the receiver refuses this event: retrying would not change that
            except UnsafeUrl as exc:  # the URL now leads somewhere forbidden: never retried
                outcome["error"] = f"refused by the URL guard: {exc}"
                return outcome
            except httpx.HTTPError as exc:
                outcome["status_code"], outcome["error"] = None, f"{type(exc).__name__}: {exc}"
            if attempt < len(delays):
                time.sleep(delays[attempt])
    return outcome


def notify_session_end(storage: Storage, session_id: str, policy: DeliveryPolicy | None = None) -> list[dict[str, Any]]:
    """Deliver the session's completed/failed event to its owner's webhooks (blocking, with retries).

    Safe to call from every place a session may end: nothing happens while it is not finished, and
    each (event, webhook) is delivered by the first caller to claim it. Never raises: a webhook
    must not fail an analysis. Returns the delivery outcomes (also stored beside the claims)."""
    try:
        manifest = read_manifest(storage, session_id) if is_valid_session_id(session_id) else None
        event = event_for(manifest) if manifest else None
        if manifest is None or event is None or not manifest.get("owner"):
            return []
        owner = str(manifest["owner"])
        policy = policy or DeliveryPolicy.from_env()
        outcomes = []
        for hook in list_webhooks(storage, owner):
            if event["type"] not in hook.events:
                continue
            claim = f"{_owner_dir(owner)}/webhook-deliveries/{event['id']}.{hook.webhook_id}.json"
            if not storage.create_exclusive(claim, json.dumps({"claimed_at": utc_now_iso()}).encode()):
                continue  # another process delivers (or delivered) this one
            outcome = deliver(hook, event, policy)
            storage.write_bytes(claim, json.dumps({**outcome, "finished_at": utc_now_iso()}).encode())
            if not outcome["delivered"]:
                log.warning("webhook %s of %s: event %s not delivered after %d attempt(s): %s %s", hook.webhook_id,
                            owner, event["id"], outcome["attempts"], outcome["status_code"], outcome["error"])
            outcomes.append(outcome)
        return outcomes
    except Exception:  # a webhook must never fail the analysis that ended
        log.exception("webhooks of session %s could not be delivered", session_id)
        return []


def notify_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect state hook: deliver the run's session event (after the failure hook marked it failed)."""
    params = dict(flow_run.parameters or {})
    if params.get("session_id"):
        from pipeline.storage import open_storage

        notify_session_end(open_storage(params.get("storage_uri")), str(params["session_id"]))
