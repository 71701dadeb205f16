"""Telemetry routes: `POST /api/v1/events` (native batches) and the Segment Tracking API under `/v1`.

Bodies are read with a byte limit enforced while streaming, parsed with orjson, and handed to the threadpool,
where validation runs without holding up the event loop; batches are then stored by a group writer
(group_commit), by default in a process of its own (writer_process).
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from cs_health.auth.dependencies import IngestKey, SegmentWriteKey, SessionDep, get_database
from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.exceptions import BadRequest, Forbidden, PayloadTooLarge, RateLimited, Unauthorized, error_responses
from cs_health.ingestion import segment
from cs_health.ingestion.group_commit import EventWriter, warm_up
from cs_health.ingestion.items import validate_items
from cs_health.ingestion.schemas import BatchResult, EventIn, SegmentMessage, SegmentResult
from cs_health.ingestion.writer_process import ProcessWriter, writer_for

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["ingestion"])
segment_router = APIRouter(prefix="/v1", tags=["segment"])

ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, PayloadTooLarge, RateLimited)


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (declared or actually sent), never
    buffered beyond that; a gzip body (Segment libraries may send one) is inflated under the same limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {int(declared):,} bytes exceeds the limit of {limit:,}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit:,} bytes", limit=limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        body = _gunzip(body, limit)
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise BadRequest(f"the body is not valid gzip: {error}") from error
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit:,} bytes once inflated", limit=limit)
    return data


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("the request body is empty; send JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from error


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


in_process_writer = EventWriter()


def event_writer(database: Database) -> EventWriter | ProcessWriter:
    """The group writer the INGEST_WRITER setting names: a process of its own per database, or this process's."""
    if get_settings().INGEST_WRITER == "process":
        return writer_for(database)
    return in_process_writer


def start_event_writer() -> None:
    """Readies the group writer before the first request: starts the writer process, if one is configured, and
    waits until it is ready; a writer in this process is warmed up here (group_commit.warm_up)."""
    database = get_database()
    writer = event_writer(database)
    if not isinstance(writer, ProcessWriter):
        warm_up(database)
    elif not writer.start():
        log.warning("the event writer process did not start; each ingestion request will try to start it again")


def _parse_events(body: bytes, max_events: int) -> list[Any]:
    items = parse_json(body)
    if not isinstance(items, list):
        raise BadRequest(f"the body must be a JSON list of events, not a JSON {type(items).__name__}")
    if len(items) > max_events:
        raise PayloadTooLarge(f"{len(items):,} events in one request; send at most {max_events:,}", limit=max_events)
    return items


def _ingest_events(body: bytes, max_events: int, source: str) -> BatchResult:
    batch = validate_items(_parse_events(body, max_events), _now())
    database = get_database()
    return event_writer(database).write(database, batch, source)


EVENTS_SCHEMA = {"type": "array", "maxItems": 5_000, "items": EventIn.model_json_schema()}


@router.post("/events", responses=ERRORS, openapi_extra=_json_body(EVENTS_SCHEMA))
async def post_events(request: Request, key: IngestKey) -> BatchResult:
    """Ingest a JSON list of up to 5,000 events (ingest scope). Good events are stored even when others are
    rejected; the answer is always 200 with counts and each rejected item's index, field and reason. Replayed
    message_ids count as duplicates, never twice; late events correct their day's rollup. Concurrent requests are
    committed together (see EventWriter); each is answered after its events are committed."""
    settings = get_settings()
    body = await read_body(request, settings.MAX_REQUEST_BYTES)
    return await run_in_threadpool(_ingest_events, body, settings.MAX_EVENTS_PER_REQUEST, f"api:{key.prefix}")


def _ingest_segment(session: Session, body: bytes, call: str | None, max_messages: int, source: str) -> SegmentResult:
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise BadRequest(f"the body must be a JSON object, not a JSON {type(payload).__name__}")
    if call is not None:
        return segment.ingest_segment(session, [payload], now=_now(), source=source, default_type=call)
    messages = payload.get("batch")
    if not isinstance(messages, list):
        raise BadRequest('a batch body must be {"batch": [messages...]}')
    if len(messages) > max_messages:
        raise PayloadTooLarge(f"{len(messages):,} messages in one batch; send at most {max_messages:,}")
    context = payload.get("context") if isinstance(payload.get("context"), dict) else None
    return segment.ingest_segment(
        session, messages, now=_now(), source=source, batch_context=context, sent_at=payload.get("sentAt")
    )


async def _segment(request: Request, session: Session, key: Any, call: str | None) -> SegmentResult:
    settings = get_settings()
    body = await read_body(request, settings.MAX_REQUEST_BYTES)
    source = f"segment:{key.prefix}"
    return await run_in_threadpool(_ingest_segment, session, body, call, settings.MAX_EVENTS_PER_REQUEST, source)


MESSAGE_SCHEMA = SegmentMessage.model_json_schema()
BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": MESSAGE_SCHEMA, "maxItems": 5_000},
        "context": {"type": "object"},
        "sentAt": {"type": "string"},
    },
}


@segment_router.post("/batch", responses=ERRORS, openapi_extra=_json_body(BATCH_SCHEMA))
async def segment_batch(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment batch (write key as the basic-auth user): any mix of group, identify, track, page, screen (alias is
    accepted and ignored). Answers 200 `{"success": true, ...}` with each refused message's index, field and
    reason; a bad message never fails the good ones."""
    return await _segment(request, session, key, None)


@segment_router.post("/track", responses=ERRORS, openapi_extra=_json_body(MESSAGE_SCHEMA))
async def segment_track(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment track: one event, in the account from context.groupId or the user's account."""
    return await _segment(request, session, key, "track")


@segment_router.post("/identify", responses=ERRORS, openapi_extra=_json_body(MESSAGE_SCHEMA))
async def segment_identify(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment identify: upserts the user (traits email, name, role) in a known account."""
    return await _segment(request, session, key, "identify")


@segment_router.post("/group", responses=ERRORS, openapi_extra=_json_body(MESSAGE_SCHEMA))
async def segment_group(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment group: upserts the account groupId (traits name, industry, plan, csm_email, segment, tags)."""
    return await _segment(request, session, key, "group")


@segment_router.post("/page", responses=ERRORS, openapi_extra=_json_body(MESSAGE_SCHEMA))
async def segment_page(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment page: an event named `page_viewed` (the page name and category kept in its properties)."""
    return await _segment(request, session, key, "page")


@segment_router.post("/screen", responses=ERRORS, openapi_extra=_json_body(MESSAGE_SCHEMA))
async def segment_screen(request: Request, session: SessionDep, key: SegmentWriteKey) -> SegmentResult:
    """Segment screen: an event named `screen_viewed`."""
    return await _segment(request, session, key, "screen")
