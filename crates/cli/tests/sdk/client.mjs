// The official `openai` Node SDK against hermod: the same calls as
// client.py, printing the same JSON object; crates/cli/tests/sdk.rs checks
// it. Run with the directory that has node_modules/openai as the working
// directory (`node --input-type=module -e "$(cat client.mjs)"`), since a
// bare import resolves from there.
//
// Arguments: BASE_URL API_KEY [chat|helper|headers|responses|models]...

import OpenAI from "openai";

const [base, key, ...parts] = process.argv.slice(1);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
const seen = {};
const user = (text) => [{ role: "user", content: text }];

if (parts.includes("chat")) {
  // Streamed first: the fake model's scripted tool call is for this turn.
  let text = "", finish = null, usage = null, usageChoices = null, empty = 0;
  const stream = await client.chat.completions.create({
    model: "hermod",
    messages: user("stream please"),
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    if (chunk.usage) {
      usage = chunk.usage.total_tokens;
      usageChoices = chunk.choices.length;
    } else if (chunk.choices.length === 0) {
      // hermes.tool.progress events: chunks with no choices.
      empty += 1;
    }
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  seen.chat_stream = { text, finish, usage, usage_chunk_choices: usageChoices, progress_chunks: empty };
  const plain = await client.chat.completions.create({ model: "hermod", messages: user("plain please") });
  seen.chat = {
    text: plain.choices[0].message.content,
    finish: plain.choices[0].finish_reason,
    usage: plain.usage.total_tokens,
  };
}

if (parts.includes("helper")) {
  // The SDK's own stream helper, which folds the chunks into a completion.
  const final = await client.chat.completions
    .stream({ model: "hermod", messages: user("helper please"), stream_options: { include_usage: true } })
    .finalChatCompletion();
  seen.helper = { text: final.choices[0].message.content, usage: final.usage?.total_tokens ?? null };
}

if (parts.includes("headers")) {
  // A retry with the same Idempotency-Key gets the first completion; the
  // session key is echoed.
  const headers = { "Idempotency-Key": "sdk-node-retry-1", "X-Hermes-Session-Key": "sdk-user" };
  const body = { model: "hermod", messages: user("once please") };
  const { data: first, response } = await client.chat.completions.create(body, { headers }).withResponse();
  const again = await client.chat.completions.create(body, { headers });
  seen.headers = {
    same_completion: first.id === again.id,
    session_key: response.headers.get("x-hermes-session-key"),
  };
}

if (parts.includes("responses")) {
  const plain = await client.responses.create({ model: "hermod", input: "respond please" });
  seen.responses = { text: plain.output_text, status: plain.status };
  let text = "", completed = null;
  const types = [];
  const stream = await client.responses.create({ model: "hermod", input: "stream a response", stream: true });
  for await (const event of stream) {
    if (!types.includes(event.type)) types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") {
      // Only whole responses get `output_text` from this SDK: read the items.
      completed = event.response.output
        .flatMap((item) => item.content ?? [])
        .filter((content) => content.type === "output_text")
        .map((content) => content.text)
        .join("");
    }
  }
  seen.responses_stream = { text, types, completed_text: completed };
}

if (parts.includes("models")) {
  seen.models = [];
  for await (const model of client.models.list()) seen.models.push(model.id);
}

console.log(JSON.stringify(seen));
