//! `/approvals` and `/approvals revoke <key|n>`: the approval keys the
//! user approved always (and those approved for this conversation), and
//! taking one back, so its next request is asked again.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_store::Owner;

pub(crate) struct Approvals;

static SPEC: Spec = Spec {
    name: "approvals",
    aliases: &[],
    args: "[revoke <key|n>]",
    description: "List what you approved always, or revoke one",
    category: Category::Info,
    while_busy: false,
};

#[async_trait]
impl Command for Approvals {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let source = cx.job().event.source.clone();
        let Some(owner) = Owner::of(&source) else {
            return Ok(Outcome::Reply(
                "This conversation names no user, so nothing is approved always here.".into(),
            ));
        };
        let session = cx.session().await?.map(|s| s.id);
        let args = cx.args.trim().to_owned();
        let text = match args.split_once(char::is_whitespace) {
            Some((verb, what)) if verb.eq_ignore_ascii_case("revoke") => {
                revoke(cx, &owner, session.as_ref(), what.trim()).await?
            }
            None if args.eq_ignore_ascii_case("revoke") => {
                "Say what to revoke: /approvals revoke <key or number from /approvals>.".into()
            }
            None if args.is_empty() => list(cx, &owner, session.as_ref()).await?,
            _ => format!(
                "Unknown /approvals option {args:?}: send /approvals or /approvals revoke <key|n>."
            ),
        };
        Ok(Outcome::Reply(text))
    }
}

async fn list(
    cx: &Cx<'_>,
    owner: &Owner,
    session: Option<&hermod_model::SessionId>,
) -> Result<String, CoreError> {
    let grants = cx.deps.store.approval_grants(owner, 0).await?;
    let mut text = if grants.is_empty() {
        "Nothing is approved always: every request is asked (answer /approve always to stop \
         being asked for one kind)."
            .to_owned()
    } else {
        let lines: Vec<String> = grants
            .iter()
            .enumerate()
            .map(|(i, g)| format!("{}. {}", i + 1, g.key))
            .collect();
        format!(
            "Approved always:\n{}\nRevoke one with /approvals revoke <key|n>.",
            lines.join("\n")
        )
    };
    let here = session
        .map(|s| cx.deps.approvals.session_keys(s))
        .unwrap_or_default();
    if !here.is_empty() {
        text.push_str(&format!(
            "\nApproved for this conversation: {}.",
            here.join(", ")
        ));
    }
    Ok(text)
}

async fn revoke(
    cx: &Cx<'_>,
    owner: &Owner,
    session: Option<&hermod_model::SessionId>,
    what: &str,
) -> Result<String, CoreError> {
    if what.is_empty() {
        return Ok("Say what to revoke: /approvals revoke <key or number from /approvals>.".into());
    }
    let grants = cx.deps.store.approval_grants(owner, 0).await?;
    let key = match what.parse::<usize>() {
        Ok(n) => match n.checked_sub(1).and_then(|i| grants.get(i)) {
            Some(grant) => grant.key.clone(),
            None => {
                return Ok(format!(
                    "There is no number {n}: /approvals lists {} grant(s).",
                    grants.len()
                ));
            }
        },
        Err(_) => what.to_owned(),
    };
    let always = cx.deps.store.approval_revoke(owner, &key).await?;
    let here = session.is_some_and(|s| cx.deps.approvals.forget_session_key(s, &key));
    Ok(if always || here {
        format!("Revoked {key}: it is asked again from now on.")
    } else {
        format!("{key} was not approved; /approvals lists what is.")
    })
}
