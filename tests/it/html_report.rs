//! `scan --format html` (issue 17), checked in a real browser: the report of the demo tenant and
//! one of a tenant with hostile names are opened in Debian's headless Chromium, driven over the
//! DevTools protocol on a loopback websocket, and everything is asserted through the DOM and the
//! protocol's events: no console error, no request besides the file itself, counts that match
//! findings.json, filters that filter, and no script from a resource name ever running.
//!
//! Without Chromium the browser tests skip with a message, unless `CI` is set: CI installs it
//! (`.ci/run`), so there a missing browser is a failure, not a skip.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use amlaudit::report::Report;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

const DEMO: &str = "fixtures/demo-tenant.json";

use crate::support::repo_file;

/// Runs `amlaudit scan --format html` on `snapshot` into `out`; returns the exit code.
fn scan_html(snapshot: &Path, out: &Path, extra: &[&str]) -> i32 {
    let output = crate::support::amlaudit()
        .arg("scan")
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--out-dir")
        .arg(out)
        .args(["--format", "table", "--format", "html", "--quiet"])
        .args(extra)
        .output()
        .expect("run amlaudit");
    assert!(
        out.join("report.html").is_file(),
        "no report.html; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.status.code().expect("exit code")
}

// ---------------------------------------------------------------------------------------------
// The browser, over the DevTools protocol.

/// The Chromium binary, or `None` (with the reason printed) when the test should skip.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    let found = found.or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()));
    if found.is_none() {
        let ci = std::env::var("CI").unwrap_or_default();
        assert!(
            ci.is_empty(),
            "CI={ci} but chromium is not installed: .ci/run installs it with `apt-get install -y chromium`"
        );
        eprintln!(
            "SKIPPED: chromium is not installed, so the HTML report was not checked in a browser \
             (install it with `apt-get install -y chromium`; under CI=true this test fails instead)"
        );
    }
    found
}

struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Every protocol event of the page, in order.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("chromium did not open its DevTools port");
            }
        };
        let address = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .expect("ws:// url")
            .to_string();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        let stream = TcpStream::connect(&address).unwrap();
        // A hang becomes a failure rather than a stuck test run.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let (ws, _) = tungstenite::client::client(url.as_str(), stream).expect("websocket");
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
            "Page.enable",
        ] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command (to the page once attached) and returns its result; events that arrive
    /// meanwhile are kept.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .expect("send to chromium");
        loop {
            let reply = self.read();
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("read from chromium") {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value.get("method").is_some() {
                        self.events.push(value.clone());
                    }
                    return value;
                }
                Message::Close(_) => panic!("chromium closed the connection"),
                _ => {}
            }
        }
    }

    /// Opens `file` and waits for its load event.
    fn open(&mut self, file: &Path) -> String {
        let url = url::Url::from_file_path(file).unwrap().to_string();
        let before = self.events.len();
        self.call("Page.navigate", json!({"url": url}));
        while !self.events[before..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            self.read();
        }
        url
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = result.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        result["result"]["value"].clone()
    }

    /// Console errors and warnings, uncaught exceptions and log errors (CSP violations land
    /// there) seen so far.
    fn problems(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| match e["method"].as_str().unwrap_or_default() {
                "Runtime.consoleAPICalled" => {
                    matches!(
                        e["params"]["type"].as_str(),
                        Some("error" | "warning" | "assert")
                    )
                }
                "Runtime.exceptionThrown" => true,
                "Log.entryAdded" => {
                    matches!(
                        e["params"]["entry"]["level"].as_str(),
                        Some("error" | "warning")
                    )
                }
                _ => false,
            })
            .map(|e| e.to_string())
            .collect()
    }

    /// Every request the page made other than loading `page_url` itself.
    fn requests_besides(&self, page_url: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .filter(|url| url != page_url)
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------

fn as_count(v: &Value) -> usize {
    match v {
        Value::Number(n) => n.as_u64().unwrap() as usize,
        Value::String(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a count: {s}")),
        other => panic!("not a count: {other}"),
    }
}

#[test]
fn the_demo_report_in_chromium_matches_findings_json_and_filters() {
    let Some(binary) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(scan_html(&repo_file(DEMO), &out, &[]), 1, "the demo fails");
    let report = Report::load(&out.join("findings.json")).unwrap();

    let mut browser = Browser::launch(&binary);
    let page = browser.open(&out.join("report.html"));
    assert_eq!(
        browser.eval("document.documentElement.getAttribute('data-ready')"),
        "true"
    );

    // The header's counts, the table's and the JSON report's agree.
    let s = &report.summary.by_status;
    for (key, expected) in [
        ("total", report.summary.total),
        ("fail", s.fail),
        ("unknown", s.unknown),
        ("pass", s.pass),
        ("not_applicable", s.not_applicable),
        ("exempt", s.exempt),
    ] {
        let shown = browser.eval(&format!(
            "document.querySelector('[data-count={key}]').textContent"
        ));
        assert_eq!(as_count(&shown), expected, "header count {key}");
    }
    assert_eq!(
        as_count(&browser.eval("document.getElementById('row-count').textContent")),
        report.results.len()
    );
    assert_eq!(
        as_count(&browser.eval("document.getElementById('match-count').textContent")),
        report.results.len()
    );
    assert_eq!(
        as_count(&browser.eval("document.querySelectorAll('#rows tr.result').length")),
        report.results.len().min(100)
    );
    let statuses = browser.eval(
        "Array.from(document.querySelectorAll('#rows tr.result')).map(r => r.dataset.status)",
    );
    let failing = statuses
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| *s == "fail")
        .count();
    assert_eq!(failing, s.fail);
    assert_eq!(
        browser
            .eval("document.getElementById('verdict').textContent.includes('Violations (exit 1)')"),
        true
    );
    assert_eq!(
        browser.eval("document.getElementById('sha256').textContent"),
        report.snapshot.sha256.as_str()
    );
    // The subscription the demo snapshot does not cover is named: a registry is there.
    let coverage = browser.eval("document.getElementById('coverage').textContent");
    assert!(
        coverage.as_str().unwrap().contains(
            "2 subscription(s) complete, 0 partial, 0 failed, 1 not covered: dc36fc90-2248-4d70-aca4-a1a9f5b19f71"
        ),
        "{coverage}"
    );
    // Each chart is an accessible image with its text.
    assert_eq!(
        browser.eval(
            "Array.from(document.querySelectorAll('figure.chart svg')).filter(s => s.getAttribute('role') === 'img' && s.querySelector('desc').textContent.length > 0).length"
        ),
        3
    );

    // Filtering by each rule shows that rule's rows and no others.
    for rule in &report.rules {
        let expected = report.summary.by_rule[&rule.id].total();
        let shown = browser.eval(&format!(
            "(() => {{
                const select = document.getElementById('f-rule');
                const option = Array.from(select.options).find(o => o.textContent.startsWith('{id} '));
                select.value = option.value;
                select.dispatchEvent(new Event('change'));
                return Array.from(document.querySelectorAll('#rows tr.result')).map(r => r.dataset.rule);
            }})()",
            id = rule.id
        ));
        let shown = shown.as_array().unwrap();
        assert_eq!(shown.len(), expected, "rows of {}", rule.id);
        assert!(shown.iter().all(|r| *r == rule.id.as_str()), "{shown:?}");
        assert_eq!(
            as_count(&browser.eval("document.getElementById('match-count').textContent")),
            expected
        );
    }

    // Status and free text combine; clearing brings every row back.
    let fails = browser.eval(
        "(() => {
            const rule = document.getElementById('f-rule');
            rule.value = '';
            rule.dispatchEvent(new Event('change'));
            const status = document.getElementById('f-status');
            status.value = Array.from(status.options).find(o => o.textContent === 'fail').value;
            status.dispatchEvent(new Event('change'));
            return document.querySelectorAll('#rows tr.result').length;
        })()",
    );
    assert_eq!(as_count(&fails), s.fail);
    let text = browser.eval(
        "new Promise(done => {
            const input = document.getElementById('f-text');
            input.value = 'mlacrsandbox';
            input.dispatchEvent(new Event('input'));
            setTimeout(() => done(Array.from(document.querySelectorAll('#rows tr.result')).map(r => r.dataset.rule)), 400);
        })",
    );
    assert_eq!(text, json!(["AML001"]), "the sandbox registry's failure");

    // A finding opens to its evidence and its fix with a copy button.
    let details = browser.eval(
        "(() => {
            document.getElementById('f-reset').click();
            return new Promise(done => setTimeout(() => {
                const status = document.getElementById('f-status');
                status.value = Array.from(status.options).find(o => o.textContent === 'fail').value;
                status.dispatchEvent(new Event('change'));
                let button;
                while ((button = document.querySelector('#rows tr.result button.toggle[aria-expanded=false]'))) button.click();
                const rows = Array.from(document.querySelectorAll('#rows tr.details'));
                done({
                    rows: rows.length,
                    withFix: rows.filter(r => r.querySelector('button.copy') && r.textContent.includes('Step 1')).length,
                    decisions: document.querySelectorAll('#rows tr.details .decision').length,
                    docs: document.querySelectorAll('#rows tr.details a[href^=\"https://\"]').length,
                });
            }, 50));
        })()",
    );
    assert_eq!(as_count(&details["rows"]), s.fail);
    let with_fix = report
        .results
        .iter()
        .filter(|r| {
            r.status == amlaudit::findings::Status::Fail
                && r.remediation.iter().any(|f| !f.argv.is_empty())
        })
        .count();
    assert_eq!(as_count(&details["withFix"]), with_fix);
    assert!(as_count(&details["decisions"]) > 0, "{details}");
    assert!(as_count(&details["docs"]) > 0, "{details}");

    // Sorting by resource puts names in order.
    let names = browser.eval(
        "(() => {
            document.querySelector('.sort[data-key=resource]').click();
            return Array.from(document.querySelectorAll('#rows tr.result td:nth-child(5) div:first-child')).map(d => d.textContent.toLowerCase());
        })()",
    );
    let names: Vec<String> = serde_json::from_value(names).unwrap();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // What could not be decided is listed with its reasons, without the page's script.
    let unknowns = browser.eval(
        "Array.from(document.querySelectorAll('#unknowns tbody tr')).map(tr => [tr.cells[0].textContent, tr.querySelector('code').textContent, tr.querySelector('.reason').textContent])",
    );
    let expected: Vec<Value> = report
        .results
        .iter()
        .filter(|r| r.status == amlaudit::findings::Status::Unknown)
        .map(|r| json!([r.rule_id, r.resource_id, r.message]))
        .collect();
    assert_eq!(expected.len(), s.unknown);
    assert_eq!(unknowns, Value::Array(expected));

    // A manual step that is prose only (no command) is shown with its text and why it is manual.
    let (prose_result, prose) = report
        .results
        .iter()
        .filter(|r| r.status == amlaudit::findings::Status::Fail)
        .find_map(|r| {
            r.remediation.iter().find_map(|f| match &f.edit {
                amlaudit::findings::Edit::Manual { text, .. }
                    if f.argv.is_empty() && !text.is_empty() =>
                {
                    Some((r, text.clone()))
                }
                _ => None,
            })
        })
        .expect("the demo has a manual step without a command");
    let opened = browser.eval(&format!(
        "new Promise(done => {{
            document.getElementById('f-reset').click();
            setTimeout(() => {{
                const input = document.getElementById('f-text');
                input.value = {id};
                input.dispatchEvent(new Event('input'));
                setTimeout(() => {{
                    let button;
                    while ((button = document.querySelector('#rows tr.result button.toggle[aria-expanded=false]'))) button.click();
                    done(Array.from(document.querySelectorAll('#rows tr.details .step')).map(s => s.textContent));
                }}, 400);
            }}, 50);
        }})",
        id = serde_json::to_string(&prose_result.resource_id).unwrap()
    ));
    let steps: Vec<String> = serde_json::from_value(opened).unwrap();
    assert!(
        steps.iter().any(|s| s.contains(&prose)
            && s.contains("manual")
            && s.contains("a choice or a task for a person")),
        "{steps:?}"
    );

    assert_eq!(browser.problems(), Vec::<String>::new(), "console problems");
    assert_eq!(
        browser.requests_besides(&page),
        Vec::<String>::new(),
        "requests"
    );
}

const SCRIPT_CLOSE: &str = "</script><script>window.pwned='script-close'</script>";
const IMG: &str = "\"><img src=x onerror=\"window.pwned='img'\">";
const JAVASCRIPT: &str = "javascript:window.pwned='link'";
const RTL: &str = "evil\u{202E}gnp.exe";

/// The hostile tenant of the remediation-script tests with its registry, workspace, resource
/// group and tenant renamed to markup and script, and a user rule whose title, reference,
/// message, evidence and fix carry the same.
fn hostile_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(repo_file("tests/data/hostile-tenant.json")).unwrap();
    let mut snapshot: Value = serde_json::from_str(&text).unwrap();
    fn rename(v: &mut Value) {
        match v {
            Value::String(s) => {
                *s = s
                    .replace(
                        "acr'; $(touch pwned-acr) `touch pwned-tick`",
                        &format!("acr{SCRIPT_CLOSE}"),
                    )
                    .replace("ws \"$(touch pwned-ws)\"", &format!("ws{IMG}"))
                    .replace("rg \"ml\" $(touch pwned-rg)", &format!("rg-{RTL}"));
            }
            Value::Array(a) => a.iter_mut().for_each(rename),
            Value::Object(o) => o.values_mut().for_each(rename),
            _ => {}
        }
    }
    rename(&mut snapshot);
    snapshot["tenant_id"] = json!(format!("{JAVASCRIPT} {IMG}"));
    let path = dir.join("hostile.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();

    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("x001.rego"),
        format!(
            "# METADATA\n# title: \"<img src=x onerror=window.pwned='title'> {RTL}\"\n# description: hostile.\n# related_resources:\n#   - ref: \"{JAVASCRIPT}\"\n# custom:\n#   id: X001\n#   severity: critical\n#   resource_type: Microsoft.ContainerRegistry/registries\n#   remediation: X\npackage amlaudit.rules.x001\n\nimport rego.v1\n\nresult := {{\"status\": \"fail\", \"message\": concat(\"\", [\"{m}\", input.name]), \"evidence\": [{{\"link\": \"{JAVASCRIPT}\", \"html\": \"{m}\"}}], \"remediation\": [{{\"description\": \"{m}\", \"argv\": [\"az\", \"acr\", \"show\", \"--name\", input.name]}}]}}\n",
            m = IMG.replace('"', "\\\""),
        ),
    )
    .unwrap();
    (path, policies)
}

#[test]
fn hostile_names_stay_text_and_run_no_script() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, policies) = hostile_inputs(dir.path());
    let out = dir.path().join("out");
    let code = scan_html(
        &snapshot,
        &out,
        &["--policy-dir", policies.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // Without a browser: the only script endings are the page's own, and no markup survived.
    assert_eq!(html.matches("</script").count(), 2);
    assert!(!html.contains("<img"), "raw markup in the page");
    assert!(!html.contains('\u{202E}'), "a raw RTL override in the page");
    assert!(!html.contains("href=\"javascript"), "a javascript: link");

    let Some(binary) = chromium() else { return };
    let mut browser = Browser::launch(&binary);
    let page = browser.open(&out.join("report.html"));
    assert_eq!(
        browser.eval("document.documentElement.getAttribute('data-ready')"),
        "true"
    );
    // Open every result's details, so that evidence, fixes and links are rendered too.
    let opened = browser.eval(
        "(() => {
            let button;
            while ((button = document.querySelector('#rows tr.result button.toggle[aria-expanded=false]'))) button.click();
            return document.querySelectorAll('#rows tr.details').length;
        })()",
    );
    assert_eq!(
        as_count(&opened),
        Report::load(&out.join("findings.json"))
            .unwrap()
            .results
            .len()
    );
    let verdict = browser.eval(&format!(
        "(() => {{
            const all = Array.from(document.querySelectorAll('*'));
            const text = document.body.innerText;
            return {{
                pwned: typeof window.pwned === 'undefined' ? null : String(window.pwned),
                scripts: document.querySelectorAll('script').length,
                embedded: document.querySelectorAll('img, iframe, object, embed, frame').length,
                handlers: all.filter(e => Array.from(e.attributes).some(a => a.name.toLowerCase().startsWith('on'))).length,
                badLinks: Array.from(document.querySelectorAll('[href]')).filter(a => !/^https?:/i.test(a.getAttribute('href'))).length,
                scriptCloseShown: text.includes({close}),
                imgShown: text.includes({img}),
                javascriptShown: text.includes({js}),
                rtlShown: text.includes('evil\\u27e8U+202E\\u27e9gnp.exe'),
                rtlRaw: document.documentElement.outerHTML.includes('\\u202e'),
            }};
        }})()",
        close = json!(SCRIPT_CLOSE),
        img = json!(IMG),
        js = json!(JAVASCRIPT),
    ));
    assert_eq!(
        verdict,
        json!({
            "pwned": null,
            "scripts": 2,
            "embedded": 0,
            "handlers": 0,
            "badLinks": 0,
            "scriptCloseShown": true,
            "imgShown": true,
            "javascriptShown": true,
            "rtlShown": true,
            "rtlRaw": false,
        })
    );
    assert_eq!(browser.problems(), Vec::<String>::new(), "console problems");
    assert_eq!(
        browser.requests_besides(&page),
        Vec::<String>::new(),
        "requests"
    );
}

/// Not a timed test: prints how long a large report takes to become usable and to filter, for
/// BENCHMARKS.md. `AMLAUDIT_HTML_REPORT=/path/report.html cargo test --test html_report --
/// --ignored --nocapture`.
#[test]
#[ignore = "measures a report named by AMLAUDIT_HTML_REPORT; see BENCHMARKS.md"]
fn measure_a_large_report() {
    let Some(path) = std::env::var_os("AMLAUDIT_HTML_REPORT") else {
        eprintln!("set AMLAUDIT_HTML_REPORT to a report.html");
        return;
    };
    let Some(binary) = chromium() else { return };
    let mut browser = Browser::launch(&binary);
    let started = std::time::Instant::now();
    let page = browser.open(Path::new(&path));
    let load = started.elapsed();
    let figures = browser.eval(
        "(async () => {
            const nav = performance.getEntriesByType('navigation')[0];
            const timed = f => { const t = performance.now(); const n = f(); return [Math.round(performance.now() - t), n]; };
            const pick = (id, text) => {
                const select = document.getElementById(id);
                select.value = text === '' ? '' : Array.from(select.options).find(o => o.textContent.startsWith(text)).value;
                select.dispatchEvent(new Event('change'));
                return Number(document.getElementById('match-count').textContent);
            };
            const out = {
                rows: Number(document.getElementById('row-count').textContent),
                domInteractiveMs: Math.round(nav.domInteractive),
                domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
                loadMs: Math.round(nav.loadEventEnd),
                ruleFilter: timed(() => pick('f-rule', 'AML002 ')),
                statusFilter: timed(() => pick('f-status', 'fail')),
                clearFilters: timed(() => { pick('f-rule', ''); return pick('f-status', ''); }),
                sortByResource: timed(() => { document.querySelector('.sort[data-key=resource]').click(); return 0; }),
                lastPage: timed(() => { document.getElementById('p-last').click(); return 0; }),
            };
            const input = document.getElementById('f-text');
            const t = performance.now();
            input.value = 'cluster-7';
            input.dispatchEvent(new Event('input'));
            await new Promise(done => setTimeout(done, 160));
            out.textSearchFirstIncludingDebounce = [Math.round(performance.now() - t), Number(document.getElementById('match-count').textContent)];
            return out;
        })()",
    );
    println!("wall time to the load event, as the test saw it: {load:?}");
    println!("{figures:#}");
    println!("problems: {:?}", browser.problems());
    println!(
        "requests besides the page: {:?}",
        browser.requests_besides(&page)
    );
}
