//! The official `openai` SDKs against the Responses API: Python when
//! `HERMOD_SDK_PYTHON` names a Python that has the package, Node when
//! `HERMOD_SDK_NODE_DIR` names a directory whose `node_modules` has it.
//! Each skips with a note when its variable is unset, and fails under
//! `CI=true` (`.ci/run` installs both).
//! Plain and streamed responses, the SDKs' stream helpers, chaining,
//! retrieval, deletion and a missing previous response.

use crate::support::{KEY, Server};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};

const PYTHON_SCRIPT: &str = r#"
import json, sys, openai
from openai import OpenAI
base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
out = {}
first = client.responses.create(model="hermod", input="I am Ann", instructions="Be short.")
out["first"] = [first.id[:5], first.status, first.output_text, first.usage.total_tokens >= 0]
second = client.responses.create(model="hermod", input="who am I?", previous_response_id=first.id)
out["second"] = second.output_text
types, deltas, final = [], [], None
for event in client.responses.create(model="hermod", input="stream it", stream=True):
    types.append(event.type)
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
    if event.type == "response.completed":
        final = event.response.output_text
out["stream"] = [types[0], types[-1], "".join(deltas), final]
with client.responses.stream(model="hermod", input="helper") as stream:
    for _ in stream:
        pass
    out["helper"] = stream.get_final_response().output_text
out["retrieved"] = client.responses.retrieve(first.id).output_text
client.responses.delete(first.id)
try:
    client.responses.retrieve(first.id)
    out["deleted"] = False
except openai.NotFoundError:
    out["deleted"] = True
try:
    client.responses.create(model="hermod", input="x", previous_response_id="resp_nope")
    out["missing"] = None
except openai.NotFoundError as e:
    out["missing"] = e.code
print(json.dumps(out))
"#;

const NODE_SCRIPT: &str = r#"
const OpenAI = require("openai");
const [base, key] = process.argv.slice(1);
(async () => {
  const client = new OpenAI({ baseURL: base + "/v1", apiKey: key, maxRetries: 0 });
  const out = {};
  const first = await client.responses.create({ model: "hermod", input: "I am Ann", instructions: "Be short." });
  out.first = [first.id.slice(0, 5), first.status, first.output_text, first.usage.total_tokens >= 0];
  const second = await client.responses.create({ model: "hermod", input: "who am I?", previous_response_id: first.id });
  out.second = second.output_text;
  const types = [], deltas = [];
  let final = null;
  for await (const event of await client.responses.create({ model: "hermod", input: "stream it", stream: true })) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") deltas.push(event.delta);
    if (event.type === "response.completed") final = event.response.output.map(o => o.content.map(c => c.text).join("")).join("");
  }
  out.stream = [types[0], types[types.length - 1], deltas.join(""), final];
  const helper = client.responses.stream({ model: "hermod", input: "helper" });
  for await (const _ of helper) {}
  out.helper = (await helper.finalResponse()).output_text;
  out.retrieved = (await client.responses.retrieve(first.id)).output_text;
  await client.responses.delete(first.id);
  try { await client.responses.retrieve(first.id); out.deleted = false; }
  catch (e) { out.deleted = e instanceof OpenAI.NotFoundError; }
  try { await client.responses.create({ model: "hermod", input: "x", previous_response_id: "resp_nope" }); out.missing = null; }
  catch (e) { out.missing = e.code; }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"#;

/// Runs `program` with `args` against a server whose model answers as the
/// scripts expect, and checks what the script saw.
async fn check_sdk(program: &str, args: &[&str], env: Option<(&str, &str)>) {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("Hi Ann."),
        Reply::text("You are Ann."),
        Reply::text("Streamed answer.").chunk_size(4),
        Reply::text("From the helper.").chunk_size(5),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut command = tokio::process::Command::new(program);
    command.args(args).args([s.base.as_str(), KEY]);
    if let Some((name, value)) = env {
        command.env(name, value);
    }
    let out = command.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result["first"],
        json!(["resp_", "completed", "Hi Ann.", true])
    );
    assert_eq!(result["second"], "You are Ann.");
    assert_eq!(
        result["stream"],
        json!([
            "response.created",
            "response.completed",
            "Streamed answer.",
            "Streamed answer."
        ])
    );
    assert_eq!(result["helper"], "From the helper.");
    assert_eq!(result["retrieved"], "Hi Ann.");
    assert_eq!(result["deleted"], true);
    assert_eq!(result["missing"], "response_not_found");
    s.stop().await;
}

#[tokio::test]
async fn the_openai_python_sdk_creates_streams_chains_and_retrieves() {
    let Some(python) =
        hermod_testkit::real_peer::var("HERMOD_SDK_PYTHON", "a Python with the openai package")
    else {
        return;
    };
    check_sdk(&python, &["-c", PYTHON_SCRIPT], None).await;
}

#[tokio::test]
async fn the_openai_node_sdk_creates_streams_chains_and_retrieves() {
    let Some(dir) = hermod_testkit::real_peer::var(
        "HERMOD_SDK_NODE_DIR",
        "a directory with node_modules/openai, for the machine's node",
    ) else {
        return;
    };
    let modules = std::path::Path::new(&dir).join("node_modules");
    let modules = modules.to_string_lossy();
    check_sdk("node", &["-e", NODE_SCRIPT], Some(("NODE_PATH", &modules))).await;
}
