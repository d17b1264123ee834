//! Login throttling: a brake on guessing passwords, per account and per client address.
//!
//! Every attempt takes a cell from both limits *before* its password is hashed, so that
//! parallel attempts cannot all pass a check that is only counted afterwards. An attempt
//! that is refused (429) or never checked (503, a database error) takes nothing; a success
//! clears the account and gives the address its cell back. What stays counted is thus the
//! failures, and the attempts still being checked.
//!
//! Each limit is a few `governor` quotas (GCRA) for the same key, checked in turn, so that
//! the wait grows with the failures and stops growing at 15 minutes:
//!
//! - an account: 5 failures at once, then one a second up to 10, then one a minute up to
//!   20, then one every 15 minutes (about 115 guesses on the first day, 96 a day after);
//! - an address (IPv4 per address, IPv6 per /64, which one household or server gets):
//!   10 at once, then one a second up to 30, then one a minute up to 100, then one every
//!   15 minutes: roomier, because a school or a CLB office behind one NAT address shares
//!   it, but still a brake on one address trying one password on many accounts.
//!
//! The counts refill with time (a quota regains one failure per period), so a typo now
//! and then never adds up, unlike a count that only a success or an hour of silence
//! clears. Kept in memory: a restart forgives, which is acceptable for a brake. Keys are
//! 64-bit keyed hashes (never the e-mail address itself), forgotten once their quotas have
//! refilled ([`LoginThrottle::prune`], every minute), and at most `max_keys` per quota: when
//! that many are live, attempts for new keys are refused until some are forgotten, so a
//! flood of made-up e-mail addresses costs a bounded amount of memory.
//!
//! On several nodes, each node tells the others what an attempt took and gave back
//! ([`News`]), under hashes keyed alike on every node (the database's shared key), and
//! each counts the others' attempts as its own: one account gets its guesses once, not
//! once per node. Attempts on two nodes within the same few milliseconds may both pass
//! before either hears of the other; for a brake, that is close enough.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::storage::{Store, Topic};

/// One quota: `burst` failures at once, then one more every `every`.
#[derive(Debug, Clone, Copy)]
struct Tier {
    burst: u32,
    every: Duration,
}

const fn tier(burst: u32, every_secs: u64) -> Tier {
    Tier {
        burst,
        every: Duration::from_secs(every_secs),
    }
}

/// The quotas of one account, loosest first.
const ACCOUNT: [Tier; 3] = [tier(5, 1), tier(10, 60), tier(20, 15 * 60)];
/// The quotas of one client address (or IPv6 /64), loosest first.
const ADDRESS: [Tier; 3] = [tier(10, 1), tier(30, 60), tier(100, 15 * 60)];
/// Live keys per quota beyond which attempts for new keys are refused (about 2 MiB each).
pub const MAX_KEYS: usize = 100_000;
/// How often keys whose quotas have refilled are forgotten.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Why an attempt may not go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this account or address: try again after this long (at least;
    /// another of its quotas may still be spent then).
    Wait(Duration),
    /// As many keys as the throttle keeps are live: try again after the next prune.
    Crowded,
}

/// An attempt that holds its cells; tell the throttle how it ended. One dropped unsettled
/// (the client hung up while its password was checked) stays counted, as a failure would:
/// hanging up is no way around the count.
#[derive(Debug)]
#[must_use = "an attempt must be settled: succeeded, failed or abandoned"]
pub struct Attempt {
    account: u64,
    address: u64,
}

/// Failure counts per account and per client address.
pub struct LoginThrottle<C: Clock = DefaultClock> {
    accounts: Limit<C>,
    addresses: Limit<C>,
    /// Keys the maps by a keyed hash: fixed-size keys whatever the input, and no e-mail
    /// addresses kept in memory.
    key: String,
    max_keys: usize,
    /// Where the other nodes hear of this node's attempts (none on one node).
    nodes: Option<Store>,
}

/// What an attempt on one node did to the counts, for the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct News {
    step: Step,
    account: u64,
    address: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    /// An attempt took its cells.
    Began,
    /// It succeeded: the account's failures are forgiven, the address's cell returns.
    Succeeded,
    /// It was abandoned (or passed its first factor): both cells return.
    Returned,
}

impl LoginThrottle {
    /// A throttle of one node on the system clock with the policy above.
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default(), MAX_KEYS)
    }

    /// A throttle of one of the nodes of `store`'s database: it hashes with the key they
    /// share, and counts their attempts as its own (see [`LoginThrottle::from_elsewhere`]).
    pub fn on_nodes(key: String, store: &Store) -> Self {
        LoginThrottle {
            key,
            nodes: store.shared().then(|| store.clone()),
            ..Self::new()
        }
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> LoginThrottle<C> {
    /// A throttle on this clock that keeps at most `max_keys` live keys per quota.
    pub fn with_clock(clock: C, max_keys: usize) -> Self {
        LoginThrottle {
            accounts: Limit::new(&ACCOUNT, &clock),
            addresses: Limit::new(&ADDRESS, &clock),
            key: crate::auth::secret::new_secret(""),
            max_keys,
            nodes: None,
        }
    }
}

impl<C: Clock> LoginThrottle<C> {
    /// Takes a cell for the account (`email`, already normalised) and for the address
    /// group of `address`, before the password is checked.
    pub fn begin(&self, email: &str, address: IpAddr) -> Result<Attempt, Refusal> {
        let account = self.hash("account", email);
        let address = self.hash("address", &address_group(address).to_string());
        if self.addresses.full(address, self.max_keys) || self.accounts.full(account, self.max_keys) {
            return Err(Refusal::Crowded);
        }
        // The address first: when it is refused, the account (which may be someone else's,
        // guessed at from this address) keeps all its cells.
        self.addresses.take(address).map_err(Refusal::Wait)?;
        if let Err(wait) = self.accounts.take(account) {
            self.addresses.give_back(address);
            return Err(Refusal::Wait(wait));
        }
        let attempt = Attempt { account, address };
        self.tell(Step::Began, &attempt);
        Ok(attempt)
    }

    /// The password was right: the account's failures are forgiven, and the address gets
    /// its cell back (people who log in behind one address do not use up its quota).
    pub fn succeeded(&self, attempt: Attempt) {
        self.end(Step::Succeeded, &attempt);
    }

    /// The password was right, but the login waits for its second factor: the cells go
    /// back, and the account's earlier failures stay. Only a whole login forgives them;
    /// otherwise someone who knows the password could clear the count of their wrong codes
    /// with it between guesses.
    pub fn first_factor_passed(&self, attempt: Attempt) {
        self.abandoned(attempt);
    }

    /// The password was wrong: the cells stay taken.
    pub fn failed(&self, attempt: Attempt) {
        let _ = attempt;
    }

    /// The password was never checked (the server was busy, the database failed): the
    /// cells go back.
    pub fn abandoned(&self, attempt: Attempt) {
        self.end(Step::Returned, &attempt);
    }

    /// Counts an attempt another node told of, as if it had been made here.
    pub fn from_elsewhere(&self, body: &str) {
        let Ok(news) = serde_json::from_str::<News>(body) else {
            tracing::debug!("throttle news from another node does not parse");
            return;
        };
        self.count(news.step, news.account, news.address);
    }

    /// Ends an attempt made here, and tells the other nodes.
    fn end(&self, step: Step, attempt: &Attempt) {
        self.tell(step, attempt);
        self.count(step, attempt.account, attempt.address);
    }

    /// What a step does to the counts, whichever node it was taken on. (An attempt made
    /// here began in [`LoginThrottle::begin`], which may refuse it; one told of by another
    /// node is counted whatever is left.)
    fn count(&self, step: Step, account: u64, address: u64) {
        match step {
            Step::Began => {
                self.accounts.record(account);
                self.addresses.record(address);
            }
            Step::Succeeded => {
                self.accounts.clear(account);
                self.addresses.give_back(address);
            }
            Step::Returned => {
                self.accounts.give_back(account);
                self.addresses.give_back(address);
            }
        }
    }

    fn tell(&self, step: Step, attempt: &Attempt) {
        if let Some(store) = &self.nodes {
            let news = News {
                step,
                account: attempt.account,
                address: attempt.address,
            };
            match serde_json::to_string(&news) {
                Ok(body) => store.tell(Topic::Logins, body),
                Err(err) => tracing::error!(%err, "throttle news does not serialize"),
            }
        }
    }

    /// 64 bits of `value`'s hash under this throttle's key (and `what`, so that an e-mail
    /// address and a client address never share a key).
    fn hash(&self, what: &str, value: &str) -> u64 {
        let digest = Sha256::new()
            .chain_update(self.key.as_bytes())
            .chain_update([0])
            .chain_update(what.as_bytes())
            .chain_update([0])
            .chain_update(value.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    /// Forgets the keys whose quotas have refilled, and frees the memory they held.
    pub fn prune(&self) {
        self.accounts.prune();
        self.addresses.prune();
    }

    /// Live keys: accounts and address groups.
    pub fn live_keys(&self) -> (usize, usize) {
        (self.accounts.len(), self.addresses.len())
    }
}

/// Prunes `throttle` every [`PRUNE_EVERY`] until the server shuts down.
pub async fn keep_pruned(throttle: Arc<LoginThrottle>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => throttle.prune(),
            _ = shutdown.changed() => return,
        }
    }
}

/// The group an address is limited as: an IPv4 address on its own, an IPv6 address with
/// the rest of its /64 (a household or a server gets a whole /64, and picks addresses in
/// it freely). An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) counts as IPv4.
pub fn address_group(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// One key's quotas, loosest first.
struct Limit<C: Clock> {
    tiers: Vec<Quotum<C>>,
    clock: C,
}

/// One quota: governor's limiter on a store of our own, which it shares.
struct Quotum<C: Clock> {
    limiter: RateLimiter<u64, Cells, C, NoOpMiddleware<C::Instant>>,
    cells: Cells,
    every: Nanos,
}

impl<C: Clock + Clone> Limit<C> {
    fn new(tiers: &[Tier], clock: &C) -> Self {
        let tiers = tiers
            .iter()
            .map(|tier| {
                let burst = NonZeroU32::new(tier.burst).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(tier.every)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(burst);
                let cells = Cells::default();
                Quotum {
                    limiter: RateLimiter::new(quota, cells.clone(), clock.clone()),
                    cells,
                    every: Nanos::from(quota.replenish_interval()),
                }
            })
            .collect();
        Limit {
            tiers,
            clock: clock.clone(),
        }
    }
}

impl<C: Clock> Limit<C> {
    /// Takes a cell from every quota, or from none: a refused attempt costs nothing.
    fn take(&self, key: u64) -> Result<(), Duration> {
        for (i, quotum) in self.tiers.iter().enumerate() {
            if let Err(not_until) = quotum.limiter.check_key(&key) {
                for earlier in &self.tiers[..i] {
                    earlier.cells.give_back(key, earlier.every);
                }
                return Err(not_until.wait_time_from(self.clock.now()));
            }
        }
        Ok(())
    }

    /// Takes what cells another node's attempt took: from each quota that has one left
    /// (that node already refused what went over).
    fn record(&self, key: u64) {
        for quotum in &self.tiers {
            let _ = quotum.limiter.check_key(&key);
        }
    }

    fn give_back(&self, key: u64) {
        for quotum in &self.tiers {
            quotum.cells.give_back(key, quotum.every);
        }
    }

    fn clear(&self, key: u64) {
        for quotum in &self.tiers {
            quotum.cells.0.remove(&key);
        }
    }

    /// Whether taking a cell for `key` would add a key to a quota that holds `max` already.
    fn full(&self, key: u64, max: usize) -> bool {
        self.tiers
            .iter()
            .any(|q| q.cells.0.len() >= max && !q.cells.0.contains_key(&key))
    }

    fn prune(&self) {
        for quotum in &self.tiers {
            quotum.limiter.retain_recent();
            quotum.limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.tiers.iter().map(|q| q.cells.0.len()).max().unwrap_or(0)
    }
}

/// A quota's state per key: GCRA's theoretical arrival time, in nanoseconds since its
/// limiter started, 0 for none, as in governor's own `DashMapStateStore`. Ours only so that
/// a key can be cleared and a cell given back, which governor's limiter does not offer.
#[derive(Clone, Default)]
struct Cells(Arc<DashMap<u64, AtomicU64>>);

impl Cells {
    /// Undoes one taken cell: the arrival time moves back by one period (never below none,
    /// so a key cannot bank more than its burst).
    fn give_back(&self, key: u64, every: Nanos) {
        if let Some(tat) = self.0.get(&key) {
            let _ = tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(every.as_u64()))
            });
        }
    }
}

impl StateStore for Cells {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let update = |tat: &AtomicU64| -> Result<T, E> {
            let mut prev = tat.load(Ordering::Acquire);
            loop {
                let (result, next) = f((prev != 0).then(|| Nanos::from(prev)))?;
                match tat.compare_exchange_weak(prev, next.as_u64(), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Ok(result),
                    Err(current) => prev = current,
                }
            }
        };
        if let Some(tat) = self.0.get(key) {
            return update(tat.value());
        }
        let tat = self.0.entry(*key).or_default();
        update(tat.value())
    }
}

impl ShrinkableKeyedStateStore<u64> for Cells {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0
            .retain(|_, tat| tat.load(Ordering::Relaxed) > drop_below.as_u64());
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);
    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn throttle() -> (LoginThrottle<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (LoginThrottle::with_clock(clock.clone(), MAX_KEYS), clock)
    }

    /// A wrong password for `email` from `address`; the wait if refused.
    fn fail(t: &LoginThrottle<FakeRelativeClock>, email: &str, address: IpAddr) -> Result<(), Duration> {
        match t.begin(email, address) {
            Ok(attempt) => {
                t.failed(attempt);
                Ok(())
            }
            Err(Refusal::Wait(wait)) => Err(wait),
            Err(Refusal::Crowded) => panic!("crowded"),
        }
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn five_failures_are_free_then_one_a_second_then_one_a_minute() {
        let (t, clock) = throttle();
        for _ in 0..5 {
            assert_eq!(fail(&t, "a", HERE), Ok(()));
        }
        assert_eq!(fail(&t, "a", HERE), Err(SECOND));
        assert_eq!(fail(&t, "b", HERE), Ok(()), "other accounts are unaffected");
        for _ in 0..5 {
            clock.advance(SECOND);
            assert_eq!(fail(&t, "a", HERE), Ok(()));
            assert_eq!(fail(&t, "a", HERE), Err(SECOND));
        }
        // Ten failures in five seconds: the next one waits until the minute is full.
        clock.advance(SECOND);
        assert_eq!(fail(&t, "a", HERE), Err(Duration::from_secs(54)));
        clock.advance(Duration::from_secs(54));
        assert_eq!(fail(&t, "a", HERE), Ok(()));
        assert_eq!(fail(&t, "a", HERE), Err(Duration::from_secs(60)));
        clock.advance(SECOND);
        assert_eq!(fail(&t, "a", HERE), Err(Duration::from_secs(59)));
    }

    #[test]
    fn waits_grow_to_fifteen_minutes_and_no_further() {
        let (t, clock) = throttle();
        let mut allowed = 0;
        let mut longest = Duration::ZERO;
        let mut elapsed = Duration::ZERO;
        while elapsed < Duration::from_secs(24 * 60 * 60) {
            match fail(&t, "a", HERE) {
                Ok(()) => allowed += 1,
                Err(wait) => {
                    longest = longest.max(wait);
                    clock.advance(wait);
                    elapsed += wait;
                }
            }
        }
        assert_eq!(longest, Duration::from_secs(15 * 60));
        // 20 at first, then one per 15 minutes: 96 a day.
        assert!((110..=120).contains(&allowed), "{allowed} guesses in a day");
    }

    /// Two nodes' throttles: the same key, the same clock; `told` carries A's news to B as
    /// the database would.
    #[test]
    fn a_node_counts_the_attempts_another_node_tells_of() {
        let (a, clock) = throttle();
        let b = LoginThrottle {
            key: a.key.clone(),
            ..LoginThrottle::with_clock(clock.clone(), MAX_KEYS)
        };
        let told = |step, attempt: &Attempt| {
            let news = News {
                step,
                account: attempt.account,
                address: attempt.address,
            };
            b.from_elsewhere(&serde_json::to_string(&news).expect("json"));
        };
        for _ in 0..5 {
            let attempt = a.begin("ann@test.be", HERE).expect("allowed on A");
            told(Step::Began, &attempt);
            a.failed(attempt);
        }
        // Five wrong passwords on A: B refuses the sixth, as A would.
        assert_eq!(fail(&b, "ann@test.be", HERE), Err(SECOND));
        assert_eq!(fail(&a, "ann@test.be", HERE), Err(SECOND));
        assert_eq!(
            fail(&b, "bob@test.be", HERE),
            Ok(()),
            "other accounts are unaffected"
        );
        // Ann logs in on A after a second: B forgives her failures too.
        clock.advance(SECOND);
        let attempt = a.begin("ann@test.be", HERE).expect("allowed after a second");
        told(Step::Began, &attempt);
        told(Step::Succeeded, &attempt);
        a.succeeded(attempt);
        for _ in 0..5 {
            assert_eq!(fail(&b, "ann@test.be", HERE), Ok(()));
        }
        // Garbage from elsewhere changes nothing.
        b.from_elsewhere("{\"step\":\"began\"}");
        b.from_elsewhere("not json");
        assert_eq!(fail(&b, "carl@test.be", addr("198.51.100.7")), Ok(()));
    }

    #[test]
    fn nodes_with_different_keys_count_apart_and_keys_never_hold_the_address() {
        let (a, _) = throttle();
        let (b, _) = throttle();
        assert_ne!(a.hash("account", "ann@test.be"), b.hash("account", "ann@test.be"));
        assert_ne!(
            a.hash("account", "x"),
            a.hash("address", "x"),
            "what is hashed is part of it"
        );
        assert_eq!(a.hash("account", "ann@test.be"), a.hash("account", "ann@test.be"));
    }

    #[test]
    fn attempts_count_before_they_are_checked() {
        let (t, _clock) = throttle();
        // Five attempts in flight at once, none settled yet: the sixth is refused.
        let pending: Vec<Attempt> = (0..5).map(|_| t.begin("a", HERE).expect("free")).collect();
        assert_eq!(t.begin("a", HERE).map(|_| ()), Err(Refusal::Wait(SECOND)));
        for attempt in pending {
            t.failed(attempt);
        }

        // The same from many threads at once.
        let (t, _clock) = throttle();
        let passed: usize = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|_| s.spawn(|| usize::from(t.begin("b", HERE).is_ok())))
                .collect();
            threads.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(passed, 5);
    }

    #[test]
    fn a_success_clears_the_account_and_gives_the_address_its_cell_back() {
        let (t, _clock) = throttle();
        for _ in 0..4 {
            fail(&t, "a", HERE).expect("free");
        }
        let attempt = t.begin("a", HERE).expect("fifth");
        t.succeeded(attempt);
        for _ in 0..5 {
            assert_eq!(fail(&t, "a", HERE), Ok(()), "forgiven");
        }
        // 9 failures from this address so far; a hundred people logging in do not add up.
        for i in 0..100 {
            let attempt = t.begin(&format!("user{i}"), HERE).expect("a login");
            t.succeeded(attempt);
        }
        assert_eq!(fail(&t, "c", HERE), Ok(()), "the tenth failure");
        assert_eq!(fail(&t, "d", HERE), Err(SECOND), "the address is spent");
    }

    #[test]
    fn a_right_password_does_not_forgive_wrong_codes() {
        let (t, _clock) = throttle();
        for _ in 0..4 {
            // A right password, then a wrong code: each round leaves one failure.
            let password = t.begin("a", HERE).expect("password");
            t.first_factor_passed(password);
            fail(&t, "a", HERE).expect("a wrong code");
        }
        let password = t.begin("a", HERE).expect("the password is not counted");
        t.first_factor_passed(password);
        fail(&t, "a", HERE).expect("the fifth wrong code");
        assert_eq!(t.begin("a", HERE).map(|_| ()), Err(Refusal::Wait(SECOND)));
    }

    #[test]
    fn refused_and_abandoned_attempts_cost_nothing() {
        let (t, clock) = throttle();
        for _ in 0..5 {
            fail(&t, "a", HERE).expect("free");
        }
        for _ in 0..100 {
            assert!(fail(&t, "a", HERE).is_err());
        }
        clock.advance(SECOND);
        assert_eq!(fail(&t, "a", HERE), Ok(()), "hammering did not lengthen the wait");

        let (t, _clock) = throttle();
        for _ in 0..50 {
            let attempt = t.begin("a", HERE).expect("never checked");
            t.abandoned(attempt);
        }
        assert_eq!(fail(&t, "a", HERE), Ok(()));
    }

    #[test]
    fn addresses_guessing_at_many_accounts_are_limited() {
        let (t, clock) = throttle();
        for i in 0..10 {
            assert_eq!(fail(&t, &format!("user{i}"), HERE), Ok(()));
        }
        assert_eq!(fail(&t, "user10", HERE), Err(SECOND));
        assert_eq!(fail(&t, "user10", addr("192.0.2.2")), Ok(()), "IPv4: per address");
        clock.advance(SECOND);
        assert_eq!(fail(&t, "user10", HERE), Ok(()));
    }

    #[test]
    fn ipv6_addresses_are_limited_per_64() {
        assert_eq!(
            address_group(addr("2001:db8:1:2:3:4:5:6")),
            addr("2001:db8:1:2::")
        );
        assert_eq!(address_group(addr("::ffff:192.0.2.1")), HERE);
        assert_eq!(address_group(HERE), HERE);

        let (t, _clock) = throttle();
        for i in 0..10 {
            // A fresh address in the same /64 every time.
            let a = addr(&format!("2001:db8:1:2::{:x}", i + 1));
            assert_eq!(fail(&t, &format!("user{i}"), a), Ok(()));
        }
        assert_eq!(fail(&t, "x", addr("2001:db8:1:2:ffff::1")), Err(SECOND));
        assert_eq!(fail(&t, "x", addr("2001:db8:1:3::1")), Ok(()), "the next /64");
    }

    #[test]
    fn keys_are_bounded_and_forgotten_once_refilled() {
        let clock = FakeRelativeClock::default();
        let t = LoginThrottle::with_clock(clock.clone(), 50);
        for i in 0..50 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from_bits(i));
            fail(&t, &format!("user{i}"), a).expect("room for 50");
        }
        assert_eq!(t.live_keys(), (50, 50));
        let new = t.begin("someone new", addr("198.51.100.1"));
        assert_eq!(new.map(|_| ()), Err(Refusal::Crowded));
        let known = IpAddr::V4(std::net::Ipv4Addr::from_bits(7));
        assert!(t.begin("user7", known).is_ok(), "known keys still count");

        // Nothing is forgotten while a quota still remembers a failure...
        t.prune();
        assert_eq!(t.live_keys(), (50, 50));
        // ...and everything once all have refilled.
        clock.advance(Duration::from_secs(60 * 60));
        t.prune();
        assert_eq!(t.live_keys(), (0, 0));
        assert!(t.begin("someone new", addr("198.51.100.1")).is_ok());
    }
}
