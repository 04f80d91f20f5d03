"""The official `openai` Python SDK against hermod: chat completions (plain
and streamed, with the usage chunk and tool progress events; the SDK's
stream helper; a retry with
an Idempotency-Key; the session key's echo), the Responses
API (plain and streamed) and the model list. Prints one JSON object of what
it saw; crates/cli/tests/sdk.rs checks it.

Usage: python client.py BASE_URL API_KEY [chat|helper|headers|responses|models]...
"""

import json
import sys

from openai import OpenAI

base, key, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
seen = {}


def user(text):
    return [{"role": "user", "content": text}]


if "chat" in parts:
    # Streamed first: the fake model's scripted tool call is for this turn.
    text, finish, usage, usage_choices, empty = "", None, None, None, 0
    stream = client.chat.completions.create(
        model="hermod",
        messages=user("stream please"),
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage.total_tokens
            usage_choices = len(chunk.choices)
        elif not chunk.choices:
            # hermes.tool.progress events: chunks with no choices.
            empty += 1
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    seen["chat_stream"] = {
        "text": text,
        "finish": finish,
        "usage": usage,
        "usage_chunk_choices": usage_choices,
        "progress_chunks": empty,
    }
    plain = client.chat.completions.create(model="hermod", messages=user("plain please"))
    seen["chat"] = {
        "text": plain.choices[0].message.content,
        "finish": plain.choices[0].finish_reason,
        "usage": plain.usage.total_tokens,
    }

if "helper" in parts:
    # The SDK's own stream helper, which folds the chunks into a completion.
    with client.chat.completions.stream(
        model="hermod", messages=user("helper please"), stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    seen["helper"] = {
        "text": final.choices[0].message.content,
        "usage": final.usage.total_tokens if final.usage else None,
    }

if "headers" in parts:
    # A retry with the same Idempotency-Key gets the first completion; the
    # session key is echoed.
    headers = {"Idempotency-Key": "sdk-python-retry-1", "X-Hermes-Session-Key": "sdk-user"}
    raw = client.chat.completions.with_raw_response.create(
        model="hermod", messages=user("once please"), extra_headers=headers
    )
    first = raw.parse()
    again = client.chat.completions.create(model="hermod", messages=user("once please"), extra_headers=headers)
    seen["headers"] = {
        "same_completion": first.id == again.id,
        "session_key": raw.headers.get("x-hermes-session-key"),
    }

if "responses" in parts:
    plain = client.responses.create(model="hermod", input="respond please")
    seen["responses"] = {"text": plain.output_text, "status": plain.status}
    text, types, completed = "", [], None
    for event in client.responses.create(model="hermod", input="stream a response", stream=True):
        if event.type not in types:
            types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            completed = event.response.output_text
    seen["responses_stream"] = {"text": text, "types": types, "completed_text": completed}

if "models" in parts:
    seen["models"] = [model.id for model in client.models.list()]

print(json.dumps(seen))
