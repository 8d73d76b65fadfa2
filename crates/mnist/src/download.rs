//! HTTP(S) downloads with bounded waits, so an offline machine moves on in seconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ureq::Agent;

use crate::checksum::Checksums;
use crate::error::{Error, Result};
use crate::store::save_verified;

/// Largest body accepted, 100 MB: the largest standard `.gz` is 26 MB, so a bigger body is a
/// wrong or hostile answer.
const MAX_BODY: u64 = 100_000_000;

/// An HTTP client whose connects and reads give up after the given times.
pub(crate) struct Downloader {
    agent: Agent,
    progress: bool,
}

impl Downloader {
    /// `connect` bounds name resolution and connecting; `read` bounds waiting for the response
    /// and each read of the body, so a stalled server fails as fast as an absent one.
    pub(crate) fn new(connect: Duration, read: Duration, progress: bool) -> Self {
        let agent = Agent::config_builder()
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_recv_response(Some(read))
            .timeout_per_read(Some(read))
            .build()
            .into();
        Downloader { agent, progress }
    }

    /// Downloads `url` into `dir/name`, kept only if it matches a trusted sum for `name`.
    pub(crate) fn fetch(
        &self,
        url: &str,
        dir: &Path,
        name: &str,
        sums: &Checksums,
    ) -> Result<PathBuf> {
        let transfer = |e: ureq::Error| Error::Transfer {
            from: url.into(),
            reason: e.to_string(),
        };
        let response = self.agent.get(url).call().map_err(transfer)?;
        let len = response.body().content_length();
        let body = response
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .reader();
        let bar = self.bar(len, name);
        let saved = save_verified(body, url, dir, name, sums, len, &bar);
        bar.finish_and_clear();
        saved
    }

    /// A byte-counting bar (indicatif draws nothing when stderr is not a terminal).
    fn bar(&self, len: Option<u64>, name: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len.unwrap_or(0));
        let template = "{msg:30} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_owned());
        bar
    }
}
