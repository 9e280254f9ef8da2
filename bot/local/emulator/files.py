"""files.uploadV2 as Slack runs it: an upload URL, the bytes POSTed there, then completion.

slack_sdk's ``files_upload_v2`` calls ``files.getUploadURLExternal``, POSTs the file to the URL
it returns, and calls ``files.completeUploadExternal``, which shares it in a channel (in a
thread with ``thread_ts``) as a message carrying the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.local.emulator.records import ApiError, JsonDict, random_id
from bot.local.emulator.state import WorkspaceState

Args = Mapping[str, Any]
MAX_FILE_BYTES = 1_000_000


def files_get_upload_url_external(state: WorkspaceState, args: Args) -> JsonDict:
    filename = str(args.get("filename") or "").strip()
    raw_length = str(args.get("length") or "")
    if not filename or not raw_length.isdigit():
        raise ApiError("invalid_arguments")
    length = int(raw_length)
    if not 0 < length <= MAX_FILE_BYTES:
        raise ApiError("invalid_length")
    file_id = random_id("F")
    state.uploads[file_id] = {"filename": filename, "length": length, "content": None}
    return {"ok": True, "upload_url": f"{state.upload_base}{file_id}", "file_id": file_id}


def files_complete_upload_external(state: WorkspaceState, args: Args) -> JsonDict:
    raw = args.get("files")
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ApiError("invalid_arguments") from None
    if not isinstance(files, list) or not files:
        raise ApiError("invalid_arguments")
    shared = []
    for entry in files:
        upload = state.uploads.get(str(entry.get("id") if isinstance(entry, dict) else ""))
        if upload is None or upload.get("content") is None:
            raise ApiError("file_not_found")
        upload["title"] = str(entry.get("title") or upload["filename"])
        shared.append(
            {
                "id": entry["id"],
                "name": upload["filename"],
                "title": upload["title"],
                "size": upload["length"],
            }
        )
    channel = str(args.get("channel_id") or "")
    if channel:
        state.add_message(
            channel=channel,
            text=str(args.get("initial_comment") or ""),
            thread_ts=str(args.get("thread_ts") or "") or None,
            files=shared,
            via="api",
        )
    return {"ok": True, "files": shared}
