//! The web page: served to anyone with its own CSP, its assets embedded,
//! everything else still behind the key, and sign-in tokens made from the
//! key accepted in its place until they expire.

use crate::support::{KEY, Server, Setup};
use hmac::{Hmac, Mac};
use reqwest::Method;

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), Setup::echo()).await;
    (dir, s)
}

#[tokio::test]
async fn the_page_is_served_without_the_key_with_its_own_csp() {
    let (_dir, s) = server().await;
    for path in ["/", "/chat", "/dashboard"] {
        let page = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(
            header(&page, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(&page, "cache-control"), Some("no-store"));
        assert_eq!(header(&page, "content-security-policy"), Some(PAGE_CSP));
        assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
        let html = page.text().await.unwrap();
        for script in [
            "app.js",
            "markdown.js",
            "reply.js",
            "chat.js",
            "dashboard.js",
        ] {
            assert!(
                html.contains(&format!("<script src=\"/assets/{script}\" defer></script>")),
                "{script}"
            );
        }
        for id in [
            "id=\"login\"",
            "id=\"login-key\"",
            "id=\"chat-view\"",
            "id=\"dashboard-view\"",
        ] {
            assert!(html.contains(id), "{id}");
        }
        // Nothing inline, or the CSP would block it.
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
    s.stop().await;
}

#[tokio::test]
async fn the_assets_are_embedded_and_revalidated() {
    let (_dir, s) = server().await;
    for (name, kind) in [
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("markdown.js", "text/javascript; charset=utf-8"),
        ("reply.js", "text/javascript; charset=utf-8"),
        ("chat.js", "text/javascript; charset=utf-8"),
        ("dashboard.js", "text/javascript; charset=utf-8"),
    ] {
        let url = format!("{}/assets/{name}", s.base);
        let asset = s.http.get(&url).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{name}");
        assert_eq!(header(&asset, "content-type"), Some(kind), "{name}");
        assert_eq!(header(&asset, "cache-control"), Some("no-cache"), "{name}");
        let etag = header(&asset, "etag").unwrap().to_owned();
        assert!(!asset.text().await.unwrap().is_empty(), "{name}");
        let again = s
            .http
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{name}");
        assert_eq!(header(&again, "etag"), Some(etag.as_str()));
        let stale = s
            .http
            .get(&url)
            .header("if-none-match", "\"0000000000000000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{name}");
    }
    for missing in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2Fsrc%2Flib.rs",
        "/assets/",
        "/assets",
    ] {
        let response = s
            .http
            .get(format!("{}{missing}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
    s.stop().await;
}

#[tokio::test]
async fn data_routes_still_need_the_key() {
    let (_dir, s) = server().await;
    for (method, path) in [
        (Method::GET, "/v1/models"),
        (Method::POST, "/v1/chat/completions"),
        (Method::POST, "/v1/approvals/approval-1"),
        (Method::GET, "/health/detailed"),
        (Method::GET, "/metrics"),
        // What the page shows comes from these, all behind the key too.
        (Method::GET, "/api/sessions"),
        (Method::GET, "/api/sessions/s1/messages"),
        (Method::PATCH, "/api/sessions/s1"),
        (Method::DELETE, "/api/sessions/s1"),
        (Method::GET, "/api/jobs"),
        (Method::POST, "/api/jobs/j1/run"),
        (Method::GET, "/api/platforms"),
        (Method::POST, "/api/platforms/telegram/pause"),
        (Method::GET, "/api/pairing"),
        (Method::POST, "/api/pairing/telegram/ABCD2345/approve"),
        (Method::GET, "/api/overview"),
        (Method::POST, "/v1/responses"),
        (Method::POST, "/v1/runs"),
    ] {
        let response = s
            .http
            .request(method.clone(), format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        let wrong = s
            .http
            .request(method.clone(), format!("{}{path}", s.base))
            .bearer_auth("hermod-web.99999999999.00")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{method} {path}");
    }
    s.stop().await;
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A sign-in token as `hermod web token` makes it.
fn token(key: &str, expiry: u64) -> String {
    let signed = format!("hermod-web.{expiry}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{signed}.{tag}")
}

#[tokio::test]
async fn a_sign_in_token_stands_for_the_key_until_it_expires() {
    let (_dir, s) = server().await;
    let models = |bearer: String| {
        s.http
            .get(format!("{}/v1/models", s.base))
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(models(KEY.to_owned()).await.unwrap().status(), 200);
    assert_eq!(
        models(token(KEY, now() + 3600)).await.unwrap().status(),
        200
    );
    assert_eq!(
        models(token(KEY, now() - 1)).await.unwrap().status(),
        401,
        "expired"
    );
    assert_eq!(
        models(token("another-key-0123456789abcdef", now() + 3600))
            .await
            .unwrap()
            .status(),
        401,
        "another key's"
    );
    let good = token(KEY, now() + 3600);
    let tampered = good.replacen(".", ".1", 1);
    assert_eq!(models(tampered).await.unwrap().status(), 401, "tampered");
    s.stop().await;
}
