"""Assignment and Grade Services 2.0: the scale score of a finished session goes to the line item.

When delivery records a result it sends ``cbt.signals.session_finished``; the receiver here adds
one pending ``lti_score_posts`` row per line item the student launched the test from, in the same
transaction. After the commit a background worker gets an access token from the platform's token
endpoint (client_credentials with a JWT client assertion signed by the tool key) and posts the
score. A platform that is down never fails the student's submit: the row stays ``failed`` with
the error, and ``cbt lti resend-scores`` sends it again (as does the worker, after the next score
it gets through).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from cbt.db import db, iso_utc, on_commit, utcnow
from delivery.models import Result, TestDefinition
from lti import claims as c
from lti.deep_linking import score_maximum
from lti.keys import tool_key
from lti.launch import state_key
from lti.models import LtiLaunchUser, LtiPlatform, LtiResourceLink, LtiScorePost, ScorePostStatus

_log = logging.getLogger(__name__)
HTTP_TIMEOUT_SECONDS = 10
MAX_ERROR_LENGTH = 2000


class ScoreSendError(Exception):
    """The platform refused or could not be reached."""


def on_session_finished(
    sender: Any, *, session_id: str, administration_id: int, student_id: int, **_: Any
) -> None:
    """Queue the score of a finished session for every line item it belongs to."""
    if not has_app_context() or "lti.ags" not in current_app.extensions:
        return
    link_ids = list(
        db.session.scalars(
            select(LtiResourceLink.id)
            .join(LtiLaunchUser, LtiLaunchUser.resource_link_id == LtiResourceLink.id)
            .where(
                LtiResourceLink.administration_id == administration_id,
                LtiResourceLink.lineitem_url.is_not(None),
                LtiLaunchUser.user_id == student_id,
            )
        )
    )
    if not link_ids:
        return
    posts = [
        LtiScorePost(resource_link_id=link_id, exam_session_id=session_id, user_id=student_id)
        for link_id in link_ids
    ]
    db.session.add_all(posts)
    db.session.flush()
    ids = [post.id for post in posts]
    sender_ = current_app.extensions["lti.ags"]
    on_commit(lambda: sender_.submit(ids))


def _scores_url(lineitem_url: str) -> str:
    parts = urllib.parse.urlsplit(lineitem_url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _http(request: urllib.request.Request) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as reply:
            return reply.read()
    except urllib.error.HTTPError as error:
        body = error.read()[:500].decode("utf-8", "replace")
        raise ScoreSendError(f"HTTP {error.code} from {request.full_url}: {body}") from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise ScoreSendError(f"{request.full_url} unreachable: {error}") from error


class ScoreSender:
    """Posts scores off the request thread, one at a time, with one token per platform cached."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lti-ags")
        self._futures: list[Future] = []
        self._tokens: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def submit(self, post_ids: list[int]) -> None:
        future = self._executor.submit(self._run, post_ids)
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()] + [future]

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for queued posts (tests and the CLI)."""
        with self._lock:
            futures = list(self._futures)
        wait(futures, timeout=timeout)

    def _run(self, post_ids: list[int]) -> None:
        with self.app.app_context():
            try:
                _counts, reached = self._send(post_ids, None)
                # A platform that took a score is up again: retry what it refused before.
                for platform_id in reached:
                    self._send(None, platform_id)
            except Exception:  # the worker must survive anything; rows keep the state
                _log.exception("LTI score posting failed")
            finally:
                db.session.remove()

    def send(
        self, post_ids: list[int] | None = None, platform_id: int | None = None
    ) -> dict[str, int]:
        """Post the given rows (default: every row not yet sent, or a platform's); commit each
        outcome."""
        return self._send(post_ids, platform_id)[0]

    def _send(
        self, post_ids: list[int] | None, platform_id: int | None
    ) -> tuple[dict[str, int], set[int]]:
        query = select(LtiScorePost.id).where(LtiScorePost.status != ScorePostStatus.SENT)
        if post_ids is not None:
            query = query.where(LtiScorePost.id.in_(post_ids))
        if platform_id is not None:
            query = query.join(
                LtiResourceLink, LtiResourceLink.id == LtiScorePost.resource_link_id
            ).where(LtiResourceLink.platform_id == platform_id)
        reached: set[int] = set()
        counts = {"sent": 0, "failed": 0}
        store = self.app.extensions["cbt.state"]
        for post_id in list(db.session.scalars(query.order_by(LtiScorePost.id))):
            lock = state_key(store, "score-lock", str(post_id))
            if not store.acquire_lock(lock, 60):
                continue  # another worker is sending it
            try:
                post = db.session.get(LtiScorePost, post_id)
                if post is None or post.status == ScorePostStatus.SENT:
                    continue
                post.attempts += 1
                try:
                    self._post(post)
                except ScoreSendError as error:
                    post.status = ScorePostStatus.FAILED
                    post.last_error = str(error)[:MAX_ERROR_LENGTH]
                    counts["failed"] += 1
                    _log.warning("LTI score %s not sent: %s", post_id, error)
                else:
                    reached.add(self._post_platform(post))
                    post.status = ScorePostStatus.SENT
                    post.sent_at = utcnow()
                    post.last_error = None
                    counts["sent"] += 1
                db.session.commit()
            finally:
                store.release_lock(lock)
        return counts, reached

    @staticmethod
    def _post_platform(post: LtiScorePost) -> int:
        return int(
            db.session.scalar(
                select(LtiResourceLink.platform_id).where(
                    LtiResourceLink.id == post.resource_link_id
                )
            )
        )

    def _post(self, post: LtiScorePost) -> None:
        link = db.session.get(LtiResourceLink, post.resource_link_id)
        result = db.session.scalar(
            select(Result).where(Result.exam_session_id == post.exam_session_id)
        )
        if link is None or link.lineitem_url is None or result is None:
            raise ScoreSendError("nothing to send: no line item or no result")
        platform = db.session.get(LtiPlatform, link.platform_id)
        launcher = db.session.scalar(
            select(LtiLaunchUser).where(
                LtiLaunchUser.resource_link_id == link.id, LtiLaunchUser.user_id == post.user_id
            )
        )
        assert platform is not None
        assert launcher is not None
        definition = (
            db.session.get(TestDefinition, result.test_definition_id)
            if result.test_definition_id
            else None
        )
        maximum = score_maximum(definition.scale if definition else {})
        score = {
            "userId": launcher.sub,
            "scoreGiven": min(max(0.0, float(result.scale_score)), maximum),
            "scoreMaximum": maximum,
            "comment": f"Scale score {result.scale_score:.0f} (SE {result.scale_se:.0f}), "
            f"band {result.band}",
            "timestamp": iso_utc(result.created_at),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
        }
        token = self._token(platform)
        request = urllib.request.Request(
            _scores_url(link.lineitem_url),
            data=json.dumps(score).encode(),
            headers={"Content-Type": c.SCORE_MEDIA_TYPE, "Authorization": f"Bearer {token}"},
            method="POST",
        )
        try:
            _http(request)
        except ScoreSendError:
            self._tokens.pop(platform.id, None)  # a revoked token: ask for a new one next time
            raise

    def _token(self, platform: LtiPlatform) -> str:
        cached = self._tokens.get(platform.id)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        now = int(time.time())
        assertion = tool_key(self.app).sign(
            {
                "iss": platform.client_id,
                "sub": platform.client_id,
                "aud": platform.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": secrets.token_urlsafe(16),
            }
        )
        body = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": c.CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
                "scope": c.AGS_SCOPE_SCORE,
            }
        ).encode()
        request = urllib.request.Request(
            platform.token_url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            reply = json.loads(_http(request))
            token = str(reply["access_token"])
            expires_in = int(reply.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as error:
            raise ScoreSendError(f"bad token reply from {platform.token_url}") from error
        self._tokens[platform.id] = (token, time.time() + max(0, expires_in - 30))
        return token


def score_sender(app: Flask) -> ScoreSender:
    return app.extensions["lti.ags"]


def score_post_counts() -> dict[str, int]:
    counts = dict.fromkeys(ScorePostStatus, 0)
    for status in db.session.scalars(select(LtiScorePost.status)):
        counts[ScorePostStatus(status)] += 1
    return {str(k): v for k, v in counts.items()}
