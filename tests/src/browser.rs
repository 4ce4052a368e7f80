//! `Browser`: a headless Chromium driven through WebDriver (`chromedriver`, Debian's
//! `chromium-driver`), for tests that use the portal as a person would. It saves a
//! screenshot of each step under `<target dir>/portal-screenshots/<test>/`, and its
//! `wait_*` helpers poll the page with a deadline and say what they last saw.

use crate::wait::eventually;
use fantoccini::elements::Element;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a page gets to show what a step waits for; generous, as Chromium and the
/// platform share two cores with the rest of the suite.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Desktop and phone window sizes the screenshots are taken at.
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where this test's screenshots go.
    pub shots: PathBuf,
    step: u32,
    _profile: tempfile::TempDir,
}

fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromedriver".into())
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// `<target dir>/portal-screenshots/<test>`, emptied.
fn screenshot_dir(test: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/portal-screenshots/<test>
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .expect("target dir");
    let dir = target.join("portal-screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

impl Browser {
    /// Starts chromedriver on a free port and opens a Chromium session with a fresh profile.
    pub async fn start(test: &str) -> Browser {
        let port = crate::free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can end chromedriver and the browsers it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e} (install Debian's chromium and chromium-driver; .ci/run does)",
                    chromedriver().display()
                )
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--no-default-browser-check",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver takes a moment to listen: retry the session until it does.
        let what = format!("a WebDriver session from chromedriver at {url}");
        let client = eventually(&what, PAGE_TIMEOUT, || async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
        })
        .await;
        let shots = screenshot_dir(test);
        println!("screenshots of {test}: {}", shots.display());
        Browser {
            client,
            driver,
            shots,
            step: 0,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// Saves the page as `NN-<name>.png`.
    pub async fn screenshot(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).expect("writing screenshot");
    }

    pub async fn set_size(&self, (w, h): (u32, u32)) {
        self.client
            .set_window_size(w, h)
            .await
            .expect("set window size");
    }

    /// The element `css` selects, once it is on the page.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("the page never showed {css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Replaces what the input `css` holds with `text`, as typing would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// The visible text of `css` (empty if it is not there).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.ok().flatten()
    }

    /// Polls the text of `css` until `pred` holds; returns it, or fails saying what it was.
    pub async fn wait_for_text(
        &self,
        css: &str,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let what = format!("{css} to show {what}");
        eventually(&what, PAGE_TIMEOUT, || async {
            let text = self.text(css).await;
            if pred(&text) { Ok(text) } else { Err(text) }
        })
        .await
    }

    /// Polls a script's answer until `pred` holds.
    pub async fn wait_for_script(
        &self,
        script: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let what = format!("the page to show {what} (by `{script}`)");
        eventually(&what, PAGE_TIMEOUT, || async {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            if pred(&v) { Ok(v) } else { Err(v) }
        })
        .await
    }

    /// Asserts the page is no wider than the window: nothing long pushes it sideways.
    pub async fn assert_fits(&self, what: &str) {
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .expect("page widths");
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{what} is wider than the window (scroll width, window width): {widths}"
        );
    }

    /// Switches to the tab a link opened: the one that is not `from`.
    pub async fn switch_to_new_tab(&self, from: &WindowHandle) {
        let tab = eventually("a new tab to open", PAGE_TIMEOUT, || async {
            let windows = self.client.windows().await.expect("windows");
            let n = windows.len();
            windows
                .into_iter()
                .find(|w| w != from)
                .ok_or(format!("{n} tab(s), none new"))
        })
        .await;
        self.client
            .switch_to_window(tab)
            .await
            .expect("switching tabs");
    }

    /// Ends the session (Chromium quits) and chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium a failed test left open.
        let pgid = self.driver.id() as libc::pid_t;
        // SAFETY: kill(2) with the negative id of a process group this value spawned.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}
