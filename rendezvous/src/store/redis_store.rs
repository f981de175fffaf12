//! The shared store: nameplates in Redis (with TTLs, claimed atomically by a Lua script),
//! mailbox events over Redis pub/sub, so that a helper on one rendezvous instance and a
//! sharer on another pair as if they were on one.
//!
//! Keys (all under a prefix, `tandem:` by default):
//! - `np:{NAMEPLATE}`: a hash `state` (`p`ending, `c`laimed, `b`urned, `r`etired),
//!   `exp` (Unix ms when the code stops working); the key lives a tombstone hour longer,
//!   so that a late sharer hears "expired" or "used", not "unknown".
//! - channel `mb:{NAMEPLATE}:h` / `:s`: events for the helper's / sharer's connection.
//! - `rm:{ROOM}`: a hash with a field per side (`h`, `s`) present in a session's
//!   resumption room, expiring after the longest stay; channels `rm:{ROOM}:h` / `:s`.
//! - `introducers`: a sorted set of the instances' introduction keys (`id:public_key`),
//!   scored by when each instance last announced it.
//!
//! Pub/sub delivers only to instances that are subscribed, which is why a side subscribes
//! before the other side can address it (the helper at allocation, the sharer before its
//! claim is answered). The subscriber connection is re-established (and every channel
//! subscribed again) when Redis restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use tandem_crypto::{Nameplate, RoomId};
use tracing::{debug, info, warn};

use super::{mailbox_queue, MailboxEvent, MailboxSender, Side, Store, StoreError, Subscription};
use crate::introduction::{IntroducerKey, MAX_INTRODUCER_KEYS};

const TOMBSTONE_FOR: Duration = Duration::from_secs(3600);
const ALLOCATION_ATTEMPTS: usize = 64;
/// A command that takes longer than this is an outage, reported as such.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Creates a pending nameplate unless the key exists. KEYS[1]; ARGV: exp_ms, ttl_ms.
const ALLOCATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'p', 'exp', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Single-use claim. KEYS[1]; ARGV: now_ms, tombstone_ms. Returns the verdict.
const CLAIM: &str = r"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'unknown' end
if state == 'c' or state == 'b' then return 'used' end
if state == 'r' then return 'expired' end
if tonumber(ARGV[1]) >= tonumber(redis.call('HGET', KEYS[1], 'exp')) then
  redis.call('HSET', KEYS[1], 'state', 'r')
  return 'expired'
end
redis.call('HSET', KEYS[1], 'state', 'c')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'ok'
";

/// A side enters a resumption room unless it is there already. KEYS[1]; ARGV: side,
/// other side, ttl_ms. Returns `used`, `peer` (the other side is there) or `alone`.
const MEET: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'used' end
redis.call('HSET', KEYS[1], ARGV[1], '1')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 'peer' end
return 'alone'
";

/// How long an instance's announced key is handed to sharers after its last announcement
/// (instances announce every sweep, every 30 s; a code lives 10 minutes by default).
const INTRODUCER_KEY_FRESH_FOR: Duration = Duration::from_secs(30 * 60);

/// A helper that leaves before anyone claimed retires its nameplate. KEYS[1].
const RETIRE_IF_PENDING: &str = r"
if redis.call('HGET', KEYS[1], 'state') == 'p' then
  redis.call('HSET', KEYS[1], 'state', 'r')
end
return 1
";

type Subscribers = Arc<Mutex<HashMap<String, MailboxSender>>>;

pub struct RedisStore {
    prefix: String,
    commands: Commands,
    /// Subscribes and unsubscribes; replaced when the subscriber connection is redone.
    sink: Arc<tokio::sync::Mutex<Option<PubSubSink>>>,
    subscribers: Subscribers,
    _listener: tokio::task::JoinHandle<()>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("Redis: {e}"))
}

fn reconnectable(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn side_letter(side: Side) -> &'static str {
    match side {
        Side::Helper => "h",
        Side::Sharer => "s",
    }
}

fn encode(event: &MailboxEvent) -> String {
    match event {
        MailboxEvent::PeerJoined => "J".into(),
        MailboxEvent::Message(body) => format!("M{body}"),
        MailboxEvent::PeerLeft => "L".into(),
        MailboxEvent::PairingFailed => "F".into(),
        MailboxEvent::Overflowed => "O".into(),
    }
}

fn decode(payload: &str) -> Option<MailboxEvent> {
    match payload.split_at_checked(1)? {
        ("J", "") => Some(MailboxEvent::PeerJoined),
        ("M", body) => Some(MailboxEvent::Message(body.to_string())),
        ("L", "") => Some(MailboxEvent::PeerLeft),
        ("F", "") => Some(MailboxEvent::PairingFailed),
        ("O", "") => Some(MailboxEvent::Overflowed),
        _ => None,
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let commands = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| unavailable("no answer"))?
        .map_err(unavailable)?;
        let subscribers: Subscribers = Arc::default();
        let sink = Arc::new(tokio::sync::Mutex::new(None));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(
            client,
            Arc::clone(&sink),
            Arc::clone(&subscribers),
            ready_tx,
        ));
        tokio::time::timeout(COMMAND_TIMEOUT * 2, ready_rx)
            .await
            .map_err(|_| unavailable("no subscriber connection"))?
            .map_err(|_| unavailable("no subscriber connection"))?;
        Ok(Self {
            prefix: prefix.to_string(),
            commands: Commands(commands),
            sink,
            subscribers,
            _listener: listener,
        })
    }

    fn key(&self, nameplate: Nameplate) -> String {
        format!("{}np:{nameplate}", self.prefix)
    }

    fn channel(&self, nameplate: Nameplate, side: Side) -> String {
        let s = match side {
            Side::Helper => "h",
            Side::Sharer => "s",
        };
        format!("{}mb:{nameplate}:{s}", self.prefix)
    }

    fn room_key(&self, room: RoomId) -> String {
        format!("{}rm:{room}", self.prefix)
    }

    fn room_channel(&self, room: RoomId, side: Side) -> String {
        format!("{}rm:{room}:{}", self.prefix, side_letter(side))
    }

    async fn subscribe(&self, channel: String) -> Result<Subscription, StoreError> {
        let (tx, rx) = mailbox_queue();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.insert(channel.clone(), tx);
        }
        let result = {
            let mut sink = self.sink.lock().await;
            match sink.as_mut() {
                Some(sink) => tokio::time::timeout(COMMAND_TIMEOUT, sink.subscribe(&channel))
                    .await
                    .map_err(|_| unavailable("subscribe timed out"))
                    .and_then(|r| r.map_err(unavailable)),
                None => Err(unavailable("not connected")),
            }
        };
        if let Err(e) = result {
            self.forget(&channel).await;
            return Err(e);
        }
        Ok(rx)
    }

    async fn forget(&self, channel: &str) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.remove(channel);
        }
        let mut sink = self.sink.lock().await;
        if let Some(sink) = sink.as_mut() {
            let _ = tokio::time::timeout(COMMAND_TIMEOUT, sink.unsubscribe(channel)).await;
        }
    }

    /// A code nobody claimed is retired (best effort: it expires anyway).
    async fn retire_if_pending(&self, nameplate: Nameplate) {
        let retired: Result<i64, _> = self
            .commands
            .eval(RETIRE_IF_PENDING, &self.key(nameplate), &[])
            .await;
        if let Err(e) = retired {
            debug!("retiring {nameplate}: {e}");
        }
    }

    /// Session records in the same Redis, over the same connection.
    pub fn records(&self) -> RedisRecords {
        RedisRecords {
            prefix: self.prefix.clone(),
            commands: self.commands.clone(),
        }
    }
}

/// The command connection, shared by the store and the records (one retry path).
#[derive(Clone)]
struct Commands(ConnectionManager);

impl Commands {
    /// Runs a Lua script (see [`with_one_retry`]).
    async fn eval<T: redis::FromRedisValue>(
        &self,
        source: &str,
        key: &str,
        args: &[String],
    ) -> Result<T, StoreError> {
        let script = redis::Script::new(source);
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(arg);
        }
        let invocation = &invocation;
        with_one_retry(&self.0, |mut conn| async move {
            invocation.invoke_async(&mut conn).await
        })
        .await
    }

    /// Runs one command (see [`with_one_retry`]).
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        with_one_retry(&self.0, |mut conn| async move {
            cmd.query_async(&mut conn).await
        })
        .await
    }

    /// Runs one command whose answer does not matter.
    async fn command(&self, cmd: &redis::Cmd) -> Result<(), StoreError> {
        self.query::<redis::Value>(cmd).await.map(|_| ())
    }

    /// The connection itself, for pipelines and scans that handle their own errors.
    fn connection(&self) -> ConnectionManager {
        self.0.clone()
    }
}

/// Each request under [`COMMAND_TIMEOUT`]. After a Redis restart the first request finds
/// the old connection dead; the manager reconnects, and the request is tried once more.
async fn with_one_retry<T, F, Fut>(
    commands: &ConnectionManager,
    request: F,
) -> Result<T, StoreError>
where
    F: Fn(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    let mut retried = false;
    loop {
        let result = tokio::time::timeout(COMMAND_TIMEOUT, request(commands.clone()))
            .await
            .map_err(|_| unavailable("timed out"))?;
        match result {
            Ok(v) => return Ok(v),
            Err(e) if !retried && reconnectable(&e) => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
}

/// Reads the subscriber connection and hands each event to its side; reconnects (and
/// subscribes every channel again) when the connection drops.
async fn listen(
    client: redis::Client,
    sink_slot: Arc<tokio::sync::Mutex<Option<PubSubSink>>>,
    subscribers: Subscribers,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(100);
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                debug!("Redis subscriber connection: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        let (mut sink, mut stream) = pubsub.split();
        let channels: Vec<String> = subscribers
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        let mut resubscribed = true;
        for channel in &channels {
            if let Err(e) = sink.subscribe(channel).await {
                warn!("Redis: subscribing again to {channel}: {e}");
                resubscribed = false;
                break;
            }
        }
        if !resubscribed {
            continue;
        }
        if !channels.is_empty() {
            info!(
                channels = channels.len(),
                "Redis subscriber connection restored"
            );
        }
        *sink_slot.lock().await = Some(sink);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        while let Some(msg) = stream.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            let Some(event) = decode(&payload) else {
                warn!("Redis: unreadable mailbox event");
                continue;
            };
            let target = subscribers
                .lock()
                .ok()
                .and_then(|s| s.get(msg.get_channel_name()).cloned());
            if let Some(tx) = target {
                // Never waits: a side that fell behind is told by its own queue, and the
                // subscriber connection (every mailbox of this instance) keeps flowing.
                tx.deliver(event);
            }
        }
        warn!("Redis subscriber connection lost; reconnecting");
        *sink_slot.lock().await = None;
    }
}

/// GCRA (the algorithm `governor` uses locally), on a key every instance shares.
/// KEYS[1]; ARGV: now_ms, emission interval ms, burst. Returns 1 when allowed.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > interval * burst then return 0 end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return 1
";

#[async_trait]
impl crate::rate_limit::SharedRateLimit for RedisStore {
    async fn allowed(&self, bucket: &str, key: &str, limit: crate::rate_limit::Limit) -> bool {
        let interval_ms = 60_000 / u64::from(limit.per_minute.max(1));
        let key = format!("{}rl:{bucket}:{key}", self.prefix);
        let allowed: Result<i64, _> = self
            .commands
            .eval(
                GCRA,
                &key,
                &[
                    now_ms().to_string(),
                    interval_ms.to_string(),
                    limit.burst.max(1).to_string(),
                ],
            )
            .await;
        match allowed {
            Ok(v) => v == 1,
            // The request will meet the same outage in the store and say so; a limit that
            // cannot be checked does not refuse on its own.
            Err(e) => {
                debug!("rate limit unchecked: {e}");
                true
            }
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn allocate(&self, ttl: Duration) -> Result<(Nameplate, Subscription), StoreError> {
        for _ in 0..ALLOCATION_ATTEMPTS {
            let nameplate = Nameplate::random();
            let created: i64 = self
                .commands
                .eval(
                    ALLOCATE,
                    &self.key(nameplate),
                    &[
                        (now_ms() + ttl.as_millis() as u64).to_string(),
                        (ttl + TOMBSTONE_FOR).as_millis().to_string(),
                    ],
                )
                .await?;
            if created != 1 {
                // Someone else's nameplate: its channel is not ours to touch.
                continue;
            }
            // Subscribed before the helper learns the nameplate, so before any sharer can
            // claim it and announce itself.
            match self.subscribe(self.channel(nameplate, Side::Helper)).await {
                Ok(events) => return Ok((nameplate, events)),
                Err(e) => {
                    self.retire_if_pending(nameplate).await;
                    return Err(e);
                }
            }
        }
        Err(StoreError::Exhausted)
    }

    async fn claim(&self, nameplate: Nameplate) -> Result<Subscription, StoreError> {
        // Subscribed only once the claim is won (a second, failing claim must not touch the
        // winner's channel). Nothing is sent to the sharer before the helper hears
        // "joined", which the server publishes after this returns.
        let verdict: Result<String, StoreError> = self
            .commands
            .eval(
                CLAIM,
                &self.key(nameplate),
                &[now_ms().to_string(), TOMBSTONE_FOR.as_millis().to_string()],
            )
            .await;
        let failed = match verdict {
            Ok(verdict) if verdict == "ok" => {
                return self.subscribe(self.channel(nameplate, Side::Sharer)).await;
            }
            Ok(verdict) => match verdict.as_str() {
                "unknown" => StoreError::Unknown,
                "used" => StoreError::Used,
                "expired" => StoreError::Expired,
                other => unavailable(format!("unexpected verdict {other}")),
            },
            Err(e) => e,
        };
        Err(failed)
    }

    async fn publish(
        &self,
        nameplate: Nameplate,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError> {
        self.commands
            .command(
                redis::cmd("PUBLISH")
                    .arg(self.channel(nameplate, to))
                    .arg(encode(&event)),
            )
            .await
    }

    async fn burn(&self, nameplate: Nameplate) -> Result<(), StoreError> {
        self.commands
            .command(
                redis::cmd("HSET")
                    .arg(self.key(nameplate))
                    .arg("state")
                    .arg("b"),
            )
            .await
    }

    async fn leave(&self, nameplate: Nameplate, side: Side) {
        self.forget(&self.channel(nameplate, side)).await;
        if side == Side::Helper {
            self.retire_if_pending(nameplate).await;
        }
    }

    async fn meet(
        &self,
        room: RoomId,
        side: Side,
        ttl: Duration,
    ) -> Result<(Subscription, bool), StoreError> {
        let key = self.room_key(room);
        let verdict: String = self
            .commands
            .eval(
                MEET,
                &key,
                &[
                    side_letter(side).to_string(),
                    side_letter(side.peer()).to_string(),
                    ttl.as_millis().to_string(),
                ],
            )
            .await?;
        if verdict == "used" {
            // The channel is the side already there: not this connection's to touch.
            return Err(StoreError::Used);
        }
        let events = match self.subscribe(self.room_channel(room, side)).await {
            Ok(events) => events,
            Err(e) => {
                let _ = self
                    .commands
                    .command(redis::cmd("HDEL").arg(&key).arg(side_letter(side)))
                    .await;
                return Err(e);
            }
        };
        // The other side may have arrived between the script and the subscription, and
        // announced itself to nobody: look again.
        let present = verdict == "peer"
            || self
                .commands
                .query::<bool>(
                    redis::cmd("HEXISTS")
                        .arg(&key)
                        .arg(side_letter(side.peer())),
                )
                .await
                .unwrap_or(false);
        Ok((events, present))
    }

    async fn publish_room(
        &self,
        room: RoomId,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError> {
        self.commands
            .command(
                redis::cmd("PUBLISH")
                    .arg(self.room_channel(room, to))
                    .arg(encode(&event)),
            )
            .await
    }

    async fn leave_room(&self, room: RoomId, side: Side) {
        self.forget(&self.room_channel(room, side)).await;
        if let Err(e) = self
            .commands
            .command(
                redis::cmd("HDEL")
                    .arg(self.room_key(room))
                    .arg(side_letter(side)),
            )
            .await
        {
            debug!("leaving room: {e}");
        }
    }

    async fn sweep(&self) {
        // Redis expires the keys itself.
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.commands.command(&redis::cmd("PING")).await?;
        if self.sink.lock().await.is_none() {
            return Err(unavailable("subscriber connection down"));
        }
        Ok(())
    }

    async fn active_mailboxes(&self) -> usize {
        // This instance's share: one subscription per connected side.
        let sides = self.subscribers.lock().map_or(0, |s| s.len());
        sides.div_ceil(2)
    }

    async fn announce_introducer_key(&self, key: &IntroducerKey) -> Result<(), StoreError> {
        let set = format!("{}introducers", self.prefix);
        let now = now_ms();
        let stale = now.saturating_sub(INTRODUCER_KEY_FRESH_FOR.as_millis() as u64);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zadd(&set, format!("{}:{}", key.id, key.public_key), now)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&set)
            .arg("-inf")
            .arg(stale)
            .ignore();
        let mut conn = self.commands.connection();
        tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| unavailable("timed out"))?
            .map_err(unavailable)
    }

    async fn introducer_keys(&self) -> Vec<IntroducerKey> {
        let set = format!("{}introducers", self.prefix);
        let stale = now_ms().saturating_sub(INTRODUCER_KEY_FRESH_FOR.as_millis() as u64);
        let members: Result<Vec<String>, _> = self
            .commands
            .query(
                redis::cmd("ZRANGE")
                    .arg(&set)
                    .arg("+inf")
                    .arg(stale)
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(MAX_INTRODUCER_KEYS),
            )
            .await;
        members
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.split_once(':'))
            .map(|(id, public_key)| IntroducerKey {
                id: id.to_string(),
                public_key: public_key.to_string(),
            })
            .collect()
    }
}

/// Session records in Redis: one hash per record with a 72-hour TTL (Redis purges them),
/// so that a helper's report reaches its record whichever instance it lands on.
pub struct RedisRecords {
    prefix: String,
    commands: Commands,
}

/// Completes a record as the helper reports it. KEYS[1]; ARGV: now, end_reason, features,
/// path, error_kind. Returns 'ok', 'unknown' or 'already'.
const REPORT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
if redis.call('HGET', KEYS[1], 'completed_by') == 'helper' then return 'already' end
redis.call('HSET', KEYS[1], 'ended_at', ARGV[1], 'end_reason', ARGV[2], 'features', ARGV[3],
  'path', ARGV[4], 'error_kind', ARGV[5], 'completed_by', 'helper')
return 'ok'
";

/// Closes a record for a vanished side unless someone did. KEYS[1]; ARGV: now.
const VANISHED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'completed_by') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'ended_at', ARGV[1], 'end_reason', 'vanished',
  'error_kind', 'peer_vanished', 'completed_by', 'rendezvous')
return 1
";

fn now_secs() -> u64 {
    now_ms() / 1000
}

impl RedisRecords {
    fn record_key(&self, token: &str) -> String {
        format!("{}rec:{token}", self.prefix)
    }

    fn nameplate_key(&self, nameplate: Nameplate) -> String {
        format!("{}recnp:{nameplate}", self.prefix)
    }

    fn parse(fields: &HashMap<String, String>) -> Option<crate::records::SessionRecord> {
        use crate::records::{CompletedBy, Feature, SessionRecord};
        let features = fields
            .get("features")
            .map(|f| {
                f.split(',')
                    .filter_map(|name| {
                        serde_json::from_value::<Feature>(serde_json::Value::String(
                            name.to_string(),
                        ))
                        .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let text = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        Some(SessionRecord {
            started_at: fields.get("started_at")?.parse().ok()?,
            ended_at: fields.get("ended_at").and_then(|v| v.parse().ok()),
            end_reason: text("end_reason"),
            completed_by: match fields.get("completed_by").map(String::as_str) {
                Some("helper") => Some(CompletedBy::Helper),
                Some("rendezvous") => Some(CompletedBy::Rendezvous),
                _ => None,
            },
            features,
            path: text("path"),
            error_kind: text("error_kind"),
        })
    }
}

#[async_trait]
impl crate::records::RecordStore for RedisRecords {
    async fn open(&self, nameplate: Nameplate) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.record_key(&token), "started_at", now_secs())
            .ignore()
            .expire(
                self.record_key(&token),
                crate::records::RETENTION.as_secs() as i64,
            )
            .ignore()
            .set_ex(
                self.nameplate_key(nameplate),
                &token,
                TOMBSTONE_FOR.as_secs(),
            )
            .ignore();
        let mut conn = self.commands.connection();
        let stored: Result<Result<(), _>, _> =
            tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
        if !matches!(stored, Ok(Ok(()))) {
            // The session goes ahead; only its record is missing.
            warn!("Redis: the session record could not be stored");
        }
        token
    }

    async fn vanished(&self, nameplate: Nameplate) {
        let token: Result<Option<String>, _> = self
            .commands
            .query(redis::cmd("GETDEL").arg(self.nameplate_key(nameplate)))
            .await;
        if let Ok(Some(token)) = token {
            let closed: Result<i64, _> = self
                .commands
                .eval(
                    VANISHED,
                    &self.record_key(&token),
                    &[now_secs().to_string()],
                )
                .await;
            if let Err(e) = closed {
                debug!("closing a vanished session's record: {e}");
            }
        }
    }

    async fn mailbox_closed(&self, nameplate: Nameplate) {
        let _: Result<i64, _> = self
            .commands
            .query(redis::cmd("DEL").arg(self.nameplate_key(nameplate)))
            .await;
    }

    async fn report(
        &self,
        token: &str,
        report: crate::records::SessionReport,
    ) -> Result<(), crate::records::ReportError> {
        use crate::records::ReportError;
        report.check()?;
        // Tokens are hex: anything else cannot name a record (and must not build a key).
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReportError::UnknownSession);
        }
        let mut features: Vec<&str> = report.features.iter().map(|f| f.as_str()).collect();
        features.sort_unstable();
        features.dedup();
        let verdict: String = self
            .commands
            .eval(
                REPORT,
                &self.record_key(token),
                &[
                    now_secs().to_string(),
                    report.end_reason.clone(),
                    features.join(","),
                    report.path.clone().unwrap_or_default(),
                    report.error_kind.clone().unwrap_or_default(),
                ],
            )
            .await
            .map_err(|e| ReportError::Invalid(e.to_string()))?;
        match verdict.as_str() {
            "ok" => Ok(()),
            "already" => Err(ReportError::AlreadyReported),
            _ => Err(ReportError::UnknownSession),
        }
    }

    async fn purge(&self) -> usize {
        0 // the keys expire by themselves
    }

    async fn summary(&self) -> crate::records::Summary {
        let mut records = Vec::new();
        let mut conn = self.commands.connection();
        let pattern = format!("{}rec:*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let page: Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await;
            let Ok((next, keys)) = page else { break };
            for key in keys {
                let fields: Result<HashMap<String, String>, _> =
                    redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await;
                if let Some(record) = fields.ok().as_ref().and_then(Self::parse) {
                    records.push(record);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        crate::records::summarize(records.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_wire() {
        for event in [
            MailboxEvent::PeerJoined,
            MailboxEvent::Message("aGVsbG8=".into()),
            MailboxEvent::PeerLeft,
            MailboxEvent::PairingFailed,
            MailboxEvent::Overflowed,
        ] {
            assert_eq!(decode(&encode(&event)), Some(event));
        }
        assert_eq!(decode(""), None);
        assert_eq!(decode("Jx"), None);
        assert_eq!(decode("?"), None);
    }
}
