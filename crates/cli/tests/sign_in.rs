//! Signing in to the web pages through a real OpenID provider (`oidc-provider` on
//! 127.0.0.1, its own login and consent pages) in headless Chromium, against a real
//! `tally serve` configured with a providers file: the authorization code flow with PKCE,
//! `state` and `nonce`; roles from the person's groups; the audit log naming the person;
//! sign-out; a tampered or expired ID token refused with the reason; a sign-in after the
//! provider rotated its key. And, over plain HTTP, the authorization request itself, a
//! callback this browser did not start, and the configuration errors.
//!
//! The browser reaches Tally as `localhost` and the provider as `127.0.0.1`: two sites, as
//! a real deployment has, so the cookies' `SameSite` rules apply as they would there.

mod oidc;
mod support;

use std::io::Write;

use oidc::Provider;
use serde_json::{Value, json};
use support::{Serving, tally_on as tally};
use test_support::chromium::Chromium;
use test_support::{TestDatabase, backend_tests};

const ADMIN: (&str, &str) = ("ops", "sign-in-secret");
/// The clients registered at the provider, each a provider in Tally's file.
const CLIENTS: [&str; 3] = ["acme", "tampered", "stale"];

/// A Tally whose pages sign in through `provider`'s three clients, key sign-in turned off.
fn serving(db: &TestDatabase, provider: &mut Provider) -> (Serving, tempfile::NamedTempFile) {
    let roles = json!(["tally-admins=1:admin", "staff=1:viewer", "trainers=2:editor"]);
    let providers: Vec<Value> = CLIENTS
        .iter()
        .map(|client| {
            json!({
                "id": client,
                "label": format!("{}{}", client[..1].to_uppercase(), &client[1..]),
                "issuer": provider.issuer,
                "client_id": client,
                "client_secret_env": "ACME_CLIENT_SECRET",
                "scopes": "openid profile email groups",
                "roles": roles,
            })
        })
        .collect();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "{}", json!({ "providers": providers })).unwrap();
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    command.env("TALLY_OIDC_PROVIDERS", file.path()).env("ACME_CLIENT_SECRET", "shared-secret");
    command.env("TALLY_DISABLE_KEY_SIGN_IN", "true").env("TALLY_OIDC_JWKS_REFETCH_FLOOR_S", "0");
    let serving = Serving::start(command);
    let pages = pages(&serving);
    for client in CLIENTS {
        provider.register_client(json!({
            "client_id": client,
            "client_secret": "shared-secret",
            "redirect_uris": [format!("{pages}/ui/sign-in/{client}/callback")],
        }));
    }
    (serving, file)
}

/// Where the browser reaches Tally's pages: another site than the provider's.
fn pages(serving: &Serving) -> String {
    serving.root().replace("127.0.0.1", "localhost")
}

/// Signs in as `login` through the provider `client`: Tally's button, the provider's
/// login page (when the browser has no session there yet) and its consent page, and back.
fn sign_in_at(browser: &mut Chromium, serving: &Serving, provider: &Provider, client: &str, login: &str) {
    browser.goto(&format!("{}/ui/goals", pages(serving)));
    assert!(browser.url().contains("/ui/sign-in?next="), "{}", browser.url());
    browser.click_and_wait(&format!("a[href^='/ui/sign-in/{client}']"));
    if browser.url().starts_with(&provider.issuer)
        && browser.eval("!!document.querySelector('input[name=login]')") == json!(true)
    {
        browser.fill("input[name=login]", login);
        browser.fill("input[name=password]", "any password");
        browser.click_and_wait("button[type=submit]");
    }
    if browser.url().starts_with(&provider.issuer) {
        // The consent page: "Continue".
        browser.click_and_wait("button[type=submit]");
    }
}

/// `target/ui-screenshots/sign-in/<backend>/`.
fn screenshots(backend: test_support::Backend) -> std::path::PathBuf {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("ui-screenshots/sign-in").join(format!("{backend:?}").to_lowercase())
}

/// The audit entries of `action`, newest first.
fn audited(serving: &Serving, action: &str) -> Vec<Value> {
    let (status, body) = serving.call("GET", &format!("/admin/audit?action={action}"), ADMIN, "");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["entries"].as_array().cloned().unwrap_or_default()
}

backend_tests! {
    fn a_person_signs_in_through_their_provider_with_the_roles_their_groups_grant(backend) {
        let db = TestDatabase::new(backend);
        let mut provider = Provider::start("https://tally.test");
        let (serving, _file) = serving(&db, &mut provider);
        let (status, body) = serving.call("POST", "/admin/stores", ADMIN, r#"{"name": "training"}"#);
        assert_eq!(status, 201, "{body}");
        provider.account("ada", json!({
            "name": "Ada Lovelace", "email": "ada@example.com", "groups": ["tally-admins", "trainers"],
        }));
        provider.account("bob", json!({ "name": "Bob", "email": "bob@example.com", "groups": ["staff"] }));
        provider.account("eve", json!({ "name": "Eve", "email": "eve@example.com", "groups": ["sales"] }));

        // The sign-in page offers the providers and, turned off, no key and secret.
        let mut browser = Chromium::launch();
        browser.goto(&format!("{}/ui/sign-in", pages(&serving)));
        assert_eq!(browser.texts("ul.providers a"), ["Sign in with Acme", "Sign in with Tampered", "Sign in with Stale"]);
        assert_eq!(browser.eval("document.querySelectorAll('#key, #secret').length"), json!(0));
        let shots = screenshots(backend);
        // Nor does the form's address take a key and secret.
        let mut reply = agent()
            .post(format!("{}/ui/sign-in", serving.root()))
            .send_form([("key", ADMIN.0), ("secret", ADMIN.1), ("csrf", "")])
            .expect("the server answers");
        assert_eq!(reply.status(), 303, "{:?}", reply.body_mut().read_to_string());
        let location = reply.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(location.contains("error=keys-off") && !reply.headers().contains_key("set-cookie"), "{location}");
        browser.screenshot(&shots, "01-providers");

        // Ada, in tally-admins and trainers: admin of the default store, editor of store 2.
        sign_in_at(&mut browser, &serving, &provider, "acme", "ada");
        browser.wait_for_url("/ui/goals");
        assert_eq!(browser.text("form.sign-out span").as_deref(), Some("Signed in as Ada Lovelace (oidc:acme:ada@example.com)"));
        let nav = browser.texts("nav li");
        assert!(nav.contains(&"Credentials".to_owned()) && nav.contains(&"Statements".to_owned()), "{nav:?}");

        // What she does is audited in her name.
        browser.goto(&format!("{}/ui/credentials", pages(&serving)));
        browser.fill("#name", "made by ada");
        browser.check("input[name=scope][value='statements/write']");
        browser.click_and_wait("form[action='/ui/credentials'] button[type=submit]");
        let created = audited(&serving, "credential.create");
        assert_eq!(created[0]["actor"], "oidc:acme:ada@example.com", "{created:?}");

        // She looks at store 2, where she is an editor: no credentials page there.
        assert_eq!(browser.texts("#store-choice option"), ["default (1)", "training (2)"]);
        browser.screenshot(&shots, "02-signed-in-with-two-stores");
        browser.fill("#store-choice", "2");
        browser.click_and_wait("form[action='/ui/store'] button[type=submit]");
        browser.wait_for_url("/ui/goals");
        let nav = browser.texts("nav li");
        assert!(nav.contains(&"Goals".to_owned()) && !nav.contains(&"Credentials".to_owned()), "{nav:?}");
        browser.goto(&format!("{}/ui/credentials", pages(&serving)));
        assert_eq!(browser.status(), 403);

        // Signing out ends the session: the pages ask to sign in again.
        browser.goto(&format!("{}/ui/goals", pages(&serving)));
        browser.click_and_wait("form.sign-out button[type=submit]");
        assert_eq!(browser.text("p.notice").as_deref(), Some("You are signed out."));
        browser.goto(&format!("{}/ui/goals", pages(&serving)));
        assert!(browser.url().contains("/ui/sign-in?next="), "{}", browser.url());
        drop(browser);

        // Bob, in staff: a viewer of the default store, who reads goals and nothing more.
        let mut browser = Chromium::launch();
        sign_in_at(&mut browser, &serving, &provider, "acme", "bob");
        browser.wait_for_url("/ui/goals");
        assert_eq!(browser.texts("nav li"), ["Goals", "Content", "Tickets"]);
        browser.goto(&format!("{}/ui/statements", pages(&serving)));
        assert_eq!(browser.status(), 403);
        drop(browser);

        // Eve's groups map to nothing: signed in at the provider, refused by Tally.
        let mut browser = Chromium::launch();
        sign_in_at(&mut browser, &serving, &provider, "acme", "eve");
        browser.wait_for_url("/callback");
        assert_eq!(browser.status(), 403);
        let said = browser.text("p.error").unwrap_or_default();
        assert!(said.contains("none of your groups gives you a role"), "{said}");

        // ID tokens changed after signing, or run out, are refused with the reason.
        sign_in_at(&mut browser, &serving, &provider, "tampered", "eve");
        browser.wait_for_url("/callback");
        assert_eq!(browser.status(), 401);
        let said = browser.text("p.error").unwrap_or_default();
        assert!(said.contains("signature does not verify"), "{said}");
        browser.screenshot(&shots, "03-tampered-id-token-refused");
        sign_in_at(&mut browser, &serving, &provider, "stale", "eve");
        browser.wait_for_url("/callback");
        assert_eq!(browser.status(), 401);
        let said = browser.text("p.error").unwrap_or_default();
        assert!(said.contains("has expired"), "{said}");
        drop(browser);

        // The provider rotates its key: the next ID token names a key Tally fetches then.
        let fetches = provider.key_fetches();
        provider.rotate();
        let mut browser = Chromium::launch();
        sign_in_at(&mut browser, &serving, &provider, "acme", "bob");
        browser.wait_for_url("/ui/goals");
        assert_eq!(browser.text("form.sign-out span").as_deref(), Some("Signed in as Bob (oidc:acme:bob@example.com)"));
        assert!(provider.key_fetches() > fetches, "the new key was fetched");
    }
}

/// A `ureq` agent that shows redirects instead of following them.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// `GET` with cookies; answers status, `Location`, `Set-Cookie` headers and body.
fn get(url: &str, cookie: Option<&str>) -> (u16, String, Vec<String>, String) {
    let mut request = agent().get(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let mut response = request.call().expect("the server answers");
    let location =
        response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), location, cookies, body)
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

#[test]
fn the_sign_in_leaves_with_pkce_state_and_nonce_and_a_callback_is_taken_once_from_the_browser_that_left() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let provider = Provider::start("https://tally.test");
    let mut command = tally(&db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    command.args(["serve", "--bind", "127.0.0.1:0", "--oidc-issuer", &provider.issuer]);
    command.args(["--oidc-client-id", "acme", "--oidc-client-secret", "s", "--oidc-label", "Acme"]);
    command.args(["--oidc-role", "staff=1:viewer", "--public-url", "https://lrs.example.com/"]);
    // A second provider, to finish a sign-in the first one started.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let other =
        json!({"id": "other", "issuer": provider.issuer, "client_id": "other", "roles": ["staff=1:admin"]});
    write!(file, "{}", json!({ "providers": [other] })).unwrap();
    command.env("TALLY_OIDC_PROVIDERS", file.path());
    let serving = Serving::start_as(command, &[], "xAPI at ");

    // The sign-in page keeps the key-and-secret form beside the provider.
    let (status, _, _, page) = get(&format!("{}/ui/sign-in", serving.root()), None);
    assert_eq!(status, 200);
    assert!(page.contains("href=\"/ui/sign-in/oidc\"") && page.contains("Sign in with Acme"), "{page}");
    assert!(page.contains("id=\"secret\""), "{page}");

    let (status, location, cookies, _) =
        get(&format!("{}/ui/sign-in/oidc?next=%2Fui%2Ftickets", serving.root()), None);
    assert_eq!(status, 303);
    assert!(location.starts_with(&format!("{}/auth?", provider.issuer)), "{location}");
    let query = query_of(&location);
    let param =
        |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), "acme");
    assert_eq!(param("redirect_uri"), "https://lrs.example.com/ui/sign-in/oidc/callback");
    assert_eq!(param("scope"), "openid profile email");
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("code_challenge").len(), 43);
    assert_eq!(param("nonce").len(), 43);
    let state = param("state");
    assert_eq!(state.len(), 43);
    let cookie = cookies.iter().find(|c| c.starts_with("tally_oidc_state=")).expect("the state cookie");
    assert!(cookie.starts_with(&format!("tally_oidc_state={state};")), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/ui/sign-in"),
        "{cookie}"
    );

    // Another browser (without the cookie) cannot finish this sign-in.
    let callback = format!("{}/ui/sign-in/oidc/callback", serving.root());
    let (status, _, _, page) = get(&format!("{callback}?state={state}&code=x"), None);
    assert_eq!(status, 400);
    assert!(page.contains("not started in this browser"), "{page}");
    // This browser: the provider said no, and Tally says what it said.
    let with_cookie = format!("tally_oidc_state={state}");
    let (status, _, _, page) = get(
        &format!("{callback}?state={state}&error=access_denied&error_description=End-User+aborted"),
        Some(&with_cookie),
    );
    assert_eq!(status, 401);
    assert!(page.contains("Acme refused the sign-in: access_denied (End-User aborted)."), "{page}");
    // A state is good once.
    let (status, _, _, _) = get(&format!("{callback}?state={state}&code=x"), Some(&with_cookie));
    assert_eq!(status, 400);

    // A sign-in started with one provider is not finished by another's callback.
    let (_, location, _, _) = get(&format!("{}/ui/sign-in/oidc", serving.root()), None);
    let state = query_of(&location).into_iter().find(|(name, _)| name == "state").map(|(_, v)| v).unwrap();
    let with_cookie = format!("tally_oidc_state={state}");
    let (status, _, _, page) = get(
        &format!("{}/ui/sign-in/other/callback?state={state}&code=x", serving.root()),
        Some(&with_cookie),
    );
    assert_eq!(status, 400);
    assert!(page.contains("not started in this browser"), "{page}");
}

#[test]
fn sign_in_settings_that_cannot_work_stop_the_server_saying_why() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let refused = |args: &[&str], says: &str| {
        let output = tally(&db).args(["serve", "--bind", "127.0.0.1:0"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    refused(&["--oidc-client-id", "acme"], "--oidc-client-id needs --oidc-issuer");
    refused(&["--oidc-issuer", "https://id.example"], "--oidc-issuer needs --oidc-audience");
    let issuer = ["--oidc-issuer", "https://id.example", "--oidc-client-id", "acme"];
    refused(&[&issuer[..], &["--oidc-role", "staff=one:viewer"]].concat(), "the store must be a store id");
    refused(
        &[&issuer[..], &["--oidc-role", "staff=1:owner"]].concat(),
        "the role must be viewer, editor or admin",
    );
    refused(&["--disable-key-sign-in"], "leaves no way to sign in");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, r#"{{"providers": [{{"id": "a b", "issuer": "https://id.example", "client_id": "x"}}]}}"#)
        .unwrap();
    refused(&["--oidc-providers", file.path().to_str().unwrap()], "an id is letters, digits");
}
