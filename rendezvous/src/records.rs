//! Session records: the little the service keeps about a session, and for three days only.
//!
//! A record is opened when a sharer claims a helper's code (pairing) and completed by the
//! helper's app when the session ends (end reason, features used, path type, error kind),
//! or by the rendezvous itself when a side vanishes while the mailbox is open. Nothing
//! else: no names, no addresses, no content, no chat, no keystrokes. Records are purged
//! [`RETENTION`] after they were opened; the operator sees aggregates only ([`Summary`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tandem_crypto::Nameplate;

/// How long a record is kept.
pub const RETENTION: Duration = Duration::from_secs(72 * 3600);

/// Where "now" comes from; tests move it by hand.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.lock().map(|t| *t).unwrap_or(UNIX_EPOCH)
    }
}

/// What a session used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The screen was shown and nothing more was asked for.
    ViewOnly,
    Control,
    Annotation,
    Pause,
    Chat,
    /// Copies crossed between the two clipboards (never what was copied).
    Clipboard,
    /// Files crossed (never their names or contents).
    FileTransfer,
}

impl Feature {
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::ViewOnly => "view_only",
            Feature::Control => "control",
            Feature::Annotation => "annotation",
            Feature::Pause => "pause",
            Feature::Chat => "chat",
            Feature::Clipboard => "clipboard",
            Feature::FileTransfer => "file_transfer",
        }
    }
}

/// Who completed a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletedBy {
    Helper,
    Rendezvous,
}

/// The helper's report at the end of a session (sent with the token it got at pairing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReport {
    /// `helper_ended`, `sharer_ended`, `declined`, `peer_lost`, `no_path`, …
    pub end_reason: String,
    #[serde(default)]
    pub features: Vec<Feature>,
    /// `direct` or `relayed`, when a path was found.
    #[serde(default)]
    pub path: Option<String>,
    /// A short error kind (`network`, `timeout`, …) when the session failed.
    #[serde(default)]
    pub error_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("no session for this report (unknown token, or older than three days)")]
    UnknownSession,
    #[error("this session was already reported")]
    AlreadyReported,
    #[error("invalid report: {0}")]
    Invalid(String),
}

/// One session as kept (times in seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub end_reason: Option<String>,
    pub completed_by: Option<CompletedBy>,
    pub features: Vec<Feature>,
    pub path: Option<String>,
    pub error_kind: Option<String>,
}

/// Short machine words only: nothing a person typed can travel in a report.
fn is_word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl SessionReport {
    pub fn check(&self) -> Result<(), ReportError> {
        if !is_word(&self.end_reason) {
            return Err(ReportError::Invalid("end_reason".into()));
        }
        if let Some(path) = &self.path {
            if path != "direct" && path != "relayed" {
                return Err(ReportError::Invalid("path".into()));
            }
        }
        if self.error_kind.as_deref().is_some_and(|k| !is_word(k)) {
            return Err(ReportError::Invalid("error_kind".into()));
        }
        if self.features.len() > 8 {
            return Err(ReportError::Invalid("features".into()));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Inner {
    /// By report token (128 random bits, hex).
    records: HashMap<String, SessionRecord>,
    /// Open mailboxes: which record a nameplate's session is.
    by_nameplate: HashMap<Nameplate, String>,
}

/// Where records live: this process's memory, or Redis for several instances.
#[async_trait::async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// Pairing: a new record; the token goes to the helper's app for its report.
    async fn open(&self, nameplate: Nameplate) -> String;
    /// A side of the mailbox went away without closing it.
    async fn vanished(&self, nameplate: Nameplate);
    /// The mailbox closed normally: the session goes on between the peers.
    async fn mailbox_closed(&self, nameplate: Nameplate);
    async fn report(&self, token: &str, report: SessionReport) -> Result<(), ReportError>;
    /// Drops records past [`RETENTION`]; how many (a store with TTLs drops them itself).
    async fn purge(&self) -> usize;
    async fn summary(&self) -> Summary;
}

#[async_trait::async_trait]
impl RecordStore for SessionRecords {
    async fn open(&self, nameplate: Nameplate) -> String {
        SessionRecords::open(self, nameplate)
    }
    async fn vanished(&self, nameplate: Nameplate) {
        SessionRecords::vanished(self, nameplate)
    }
    async fn mailbox_closed(&self, nameplate: Nameplate) {
        SessionRecords::mailbox_closed(self, nameplate)
    }
    async fn report(&self, token: &str, report: SessionReport) -> Result<(), ReportError> {
        SessionRecords::report(self, token, report)
    }
    async fn purge(&self) -> usize {
        SessionRecords::purge(self)
    }
    async fn summary(&self) -> Summary {
        SessionRecords::summary(self)
    }
}

/// The records, in memory.
pub struct SessionRecords {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl SessionRecords {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock still holds consistent data (no invariant spans two steps).
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner)
    }

    /// Pairing: a new record; the token goes to the helper's app for its report.
    pub fn open(&self, nameplate: Nameplate) -> String {
        let token = new_token();
        let record = SessionRecord {
            started_at: secs(self.clock.now()),
            ended_at: None,
            end_reason: None,
            completed_by: None,
            features: Vec::new(),
            path: None,
            error_kind: None,
        };
        self.with(|inner| {
            inner.records.insert(token.clone(), record);
            inner.by_nameplate.insert(nameplate, token.clone());
        });
        token
    }

    /// A side of the mailbox went away without closing it: the rendezvous completes the
    /// record (the helper's own report, if it comes, replaces this).
    pub fn vanished(&self, nameplate: Nameplate) {
        let now = secs(self.clock.now());
        self.with(|inner| {
            let Some(token) = inner.by_nameplate.remove(&nameplate) else {
                return;
            };
            if let Some(record) = inner.records.get_mut(&token) {
                if record.completed_by.is_none() {
                    record.ended_at = Some(now);
                    record.end_reason = Some("vanished".into());
                    record.error_kind = Some("peer_vanished".into());
                    record.completed_by = Some(CompletedBy::Rendezvous);
                }
            }
        });
    }

    /// The mailbox closed normally: the session goes on between the peers.
    pub fn mailbox_closed(&self, nameplate: Nameplate) {
        self.with(|inner| inner.by_nameplate.remove(&nameplate));
    }

    /// The helper's report.
    pub fn report(&self, token: &str, report: SessionReport) -> Result<(), ReportError> {
        report.check()?;
        let now = secs(self.clock.now());
        self.with(|inner| {
            let record = inner
                .records
                .get_mut(token)
                .ok_or(ReportError::UnknownSession)?;
            if record.completed_by == Some(CompletedBy::Helper) {
                return Err(ReportError::AlreadyReported);
            }
            let mut features = report.features;
            features.sort();
            features.dedup();
            record.ended_at = Some(now);
            record.end_reason = Some(report.end_reason);
            record.features = features;
            record.path = report.path;
            record.error_kind = report.error_kind;
            record.completed_by = Some(CompletedBy::Helper);
            Ok(())
        })
    }

    /// Drops every record opened [`RETENTION`] ago or earlier; returns how many.
    pub fn purge(&self) -> usize {
        let cutoff = secs(self.clock.now()).saturating_sub(RETENTION.as_secs());
        self.with(|inner| {
            let before = inner.records.len();
            inner.records.retain(|_, r| r.started_at > cutoff);
            let kept: std::collections::HashSet<&String> = inner.records.keys().collect();
            let stale: Vec<Nameplate> = inner
                .by_nameplate
                .iter()
                .filter(|(_, token)| !kept.contains(token))
                .map(|(n, _)| *n)
                .collect();
            for n in stale {
                inner.by_nameplate.remove(&n);
            }
            before - inner.records.len()
        })
    }

    pub fn len(&self) -> usize {
        self.with(|inner| inner.records.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts by UTC day: what the operator may see.
    pub fn summary(&self) -> Summary {
        self.with(|inner| summarize(inner.records.values()))
    }
}

/// Counts by UTC day of some records.
pub fn summarize<'a>(records: impl Iterator<Item = &'a SessionRecord>) -> Summary {
    let mut days: BTreeMap<String, DaySummary> = BTreeMap::new();
    for r in records {
        let day = days.entry(utc_day(r.started_at)).or_default();
        day.sessions += 1;
        match r.completed_by {
            Some(CompletedBy::Helper) => day.reported_by_helper += 1,
            Some(CompletedBy::Rendezvous) => day.closed_by_rendezvous += 1,
            None => day.open += 1,
        }
        if let Some(reason) = &r.end_reason {
            *day.end_reasons.entry(reason.clone()).or_default() += 1;
        }
        if let Some(kind) = &r.error_kind {
            *day.errors.entry(kind.clone()).or_default() += 1;
        }
        for f in &r.features {
            *day.features.entry(f.as_str().to_string()).or_default() += 1;
        }
        if let Some(path) = &r.path {
            *day.paths.entry(path.clone()).or_default() += 1;
        }
        if let (Some(end), true) = (r.ended_at, r.completed_by.is_some()) {
            day.total_duration_secs += end.saturating_sub(r.started_at);
        }
    }
    Summary {
        retention_hours: RETENTION.as_secs() / 3600,
        days,
    }
}

/// Aggregates only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub retention_hours: u64,
    /// By UTC day, `YYYY-MM-DD`.
    pub days: BTreeMap<String, DaySummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySummary {
    pub sessions: u64,
    pub reported_by_helper: u64,
    pub closed_by_rendezvous: u64,
    /// Not ended yet, or the helper never reported.
    pub open: u64,
    pub total_duration_secs: u64,
    pub end_reasons: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub features: BTreeMap<String, u64>,
    pub paths: BTreeMap<String, u64>,
}

/// `YYYY-MM-DD` of a Unix time (UTC), by the civil-from-days algorithm.
fn utc_day(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nameplate(s: &str) -> Nameplate {
        Nameplate::parse(s).expect("nameplate")
    }

    fn at(secs: u64) -> ManualClock {
        ManualClock::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn report(reason: &str, features: &[Feature]) -> SessionReport {
        SessionReport {
            end_reason: reason.into(),
            features: features.to_vec(),
            path: Some("direct".into()),
            error_kind: None,
        }
    }

    #[test]
    fn kept_at_71_hours_purged_at_72() {
        // 2026-11-30 10:00 UTC.
        let clock = at(1_796_032_800);
        let records = SessionRecords::new(Arc::new(clock.clone()));
        let token = records.open(nameplate("ABCD"));
        records
            .report(&token, report("helper_ended", &[Feature::Chat]))
            .expect("report");
        clock.advance(Duration::from_secs(71 * 3600));
        assert_eq!(records.purge(), 0);
        assert_eq!(records.len(), 1);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(records.purge(), 1);
        assert!(records.is_empty());
        // A late report finds nothing.
        assert_eq!(
            records.report(&token, report("helper_ended", &[])),
            Err(ReportError::UnknownSession)
        );
    }

    #[test]
    fn the_helper_reports_once_and_the_rendezvous_closes_vanished_sessions() {
        let clock = at(1_796_032_800);
        let records = SessionRecords::new(Arc::new(clock.clone()));
        let reported = records.open(nameplate("ABCD"));
        clock.advance(Duration::from_secs(600));
        records
            .report(
                &reported,
                report(
                    "sharer_ended",
                    &[Feature::Chat, Feature::Control, Feature::Chat],
                ),
            )
            .expect("report");
        assert_eq!(
            records.report(&reported, report("sharer_ended", &[])),
            Err(ReportError::AlreadyReported)
        );
        let vanished = records.open(nameplate("EFGH"));
        records.vanished(nameplate("EFGH"));
        let open = records.open(nameplate("JKMN"));
        records.mailbox_closed(nameplate("JKMN"));
        records.vanished(nameplate("JKMN")); // closed normally before: stays open
        let _ = (vanished, open);

        let summary = records.summary();
        let day = &summary.days["2026-11-30"];
        assert_eq!(day.sessions, 3);
        assert_eq!(day.reported_by_helper, 1);
        assert_eq!(day.closed_by_rendezvous, 1);
        assert_eq!(day.open, 1);
        assert_eq!(day.total_duration_secs, 600);
        assert_eq!(day.features.get("chat"), Some(&1));
        assert_eq!(day.features.get("control"), Some(&1));
        assert_eq!(day.errors.get("peer_vanished"), Some(&1));
        assert_eq!(day.end_reasons.get("vanished"), Some(&1));
        assert_eq!(day.paths.get("direct"), Some(&1));
        assert_eq!(summary.retention_hours, 72);
    }

    #[test]
    fn reports_carry_machine_words_only() {
        let records = SessionRecords::new(Arc::new(SystemClock));
        let token = records.open(nameplate("ABCD"));
        let mut bad = report("Anna's screen", &[]);
        assert!(matches!(
            records.report(&token, bad.clone()),
            Err(ReportError::Invalid(_))
        ));
        bad.end_reason = "helper_ended".into();
        bad.path = Some("10.0.0.1".into());
        assert!(matches!(
            records.report(&token, bad.clone()),
            Err(ReportError::Invalid(_))
        ));
        bad.path = None;
        bad.error_kind = Some("x".repeat(33));
        assert!(matches!(
            records.report(&token, bad),
            Err(ReportError::Invalid(_))
        ));
        assert_eq!(
            records.report("0".repeat(32).as_str(), report("helper_ended", &[])),
            Err(ReportError::UnknownSession)
        );
    }

    #[test]
    fn utc_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(951_782_400), "2000-02-29");
        assert_eq!(utc_day(1_796_032_800), "2026-11-30");
    }
}
