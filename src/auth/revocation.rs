//! Revocation state in memory, kept in step with the database, so a valid request needs
//! no query to authenticate.
//!
//! Two things are held: the live clients with their secret generation (a deleted client
//! is absent; a rotated secret raises the generation, and client tokens carry theirs),
//! and the rows of the `revocations` table still in force (users disabled or deleted,
//! refresh families, single tokens). Writers change the table and this state inside the
//! same transaction closure, memory first: if the commit then fails, the state errs on
//! the side of refusing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::db::Conn;

use crate::auth::tokens::{Claims, TokenType};
use crate::clock;
use crate::db::{clients, revocations};

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Family,
    Jti,
    Client,
    Integration,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Family => "family",
            Kind::Jti => "jti",
            Kind::Client => "client",
            Kind::Integration => "integration",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "user" => Kind::User,
            "family" => Kind::Family,
            "jti" => Kind::Jti,
            "client" => Kind::Client,
            "integration" => Kind::Integration,
            _ => return None,
        })
    }
}

#[derive(Default)]
struct State {
    clients: HashMap<String, u32>,
    revoked: HashMap<(Kind, String), i64>,
}

/// Rocket state; cheap to clone.
#[derive(Clone, Default)]
pub struct Revocations {
    state: Arc<RwLock<State>>,
    /// The newest `revocations.seq` applied to `state`: [`Revocations::catch_up`] reads
    /// only what came after it.
    seen: Arc<AtomicI64>,
    /// How long a revocation must outlive its moment: the access-token lifetime and a
    /// minute for clock leeway, after which every token it concerns has expired anyway.
    lifetime: i64,
}

impl Revocations {
    /// Loads the live clients and the revocations in force.
    pub fn load(conn: &Conn<'_>, access_ttl_secs: u64) -> crate::db::sql::Result<Revocations> {
        // The high-water mark is read first: a row committed between the two reads is
        // applied twice, which is harmless, rather than never.
        let seen =
            conn.value::<Option<i64>>("SELECT max(seq) FROM revocations", crate::params![])?;
        let mut state = State {
            clients: clients::list_live(conn)?.into_iter().collect(),
            revoked: HashMap::new(),
        };
        for (_, kind, subject, expires_at) in revocations::list_live(conn, clock::now())? {
            if let Some(kind) = Kind::parse(&kind) {
                state.revoked.insert((kind, subject), expires_at);
            }
        }
        Ok(Revocations {
            state: Arc::new(RwLock::new(state)),
            seen: Arc::new(AtomicI64::new(seen.unwrap_or(0))),
            lifetime: access_ttl_secs as i64 + 60,
        })
    }

    /// Applies what other nodes changed since the last look: revocations recorded after
    /// the newest one seen, and the live clients with their secret generations (a client
    /// created or rotated elsewhere). Returns how many revocations were new.
    pub fn catch_up(&self, conn: &Conn<'_>) -> crate::db::sql::Result<usize> {
        let since = self.seen.load(Ordering::Acquire);
        let rows = revocations::list_since(conn, since)?;
        let live = clients::list_live(conn)?;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut newest = since;
        for (seq, kind, subject, expires_at) in &rows {
            newest = newest.max(*seq);
            if let Some(kind) = Kind::parse(kind) {
                state.revoked.insert((kind, subject.clone()), *expires_at);
            }
        }
        // Merged, never replaced: a client this node created a moment ago may be missing
        // from `live` if that read began before its commit. Generations only grow. A
        // client deleted anywhere is kept out by its `client` revocation, just applied.
        for (id, generation) in live {
            let known = state.clients.entry(id).or_insert(generation);
            *known = (*known).max(generation);
        }
        self.seen.fetch_max(newest, Ordering::AcqRel);
        Ok(rows.len())
    }

    /// Why these (signature-checked) claims must be refused, if they must.
    pub fn refusal(&self, c: &Claims) -> Option<&'static str> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let now = clock::now();
        let revoked = |kind: Kind, subject: &str| {
            state
                .revoked
                .get(&(kind, subject.to_owned()))
                .is_some_and(|until| *until > now)
        };
        let Some(generation) = state.clients.get(&c.cid) else {
            return Some("the token's client no longer exists");
        };
        if revoked(Kind::Client, &c.cid) {
            return Some("the token's client no longer exists");
        }
        if revoked(Kind::Jti, &c.jti) {
            return Some("the token has been revoked");
        }
        match c.typ {
            TokenType::Client if c.gen != Some(*generation) => {
                Some("the client's secret was rotated after this token was issued")
            }
            TokenType::Client => None,
            TokenType::User | TokenType::Integration => {
                if revoked(Kind::User, &c.sub) {
                    Some("the user has been disabled or deleted")
                } else if c
                    .azp
                    .as_deref()
                    .is_some_and(|i| revoked(Kind::Integration, i))
                {
                    Some("the integration has been deleted")
                } else if c.fam.as_deref().is_some_and(|f| revoked(Kind::Family, f)) {
                    Some("the token's sign-in has been revoked")
                } else {
                    None
                }
            }
        }
    }

    pub fn client_generation(&self, client_id: &str) -> Option<u32> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.clients.get(client_id).copied()
    }

    /// Records a live client (created, or its secret rotated to `generation`).
    pub fn set_client(&self, client_id: &str, generation: u32) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.clients.insert(client_id.to_owned(), generation);
    }

    /// Revokes `subject` for as long as any access token issued until now can live, in
    /// memory and in the caller's transaction.
    pub fn revoke(&self, tx: &Conn<'_>, kind: Kind, subject: &str) -> crate::db::sql::Result<()> {
        let until = clock::now() + self.lifetime;
        self.revoke_until(tx, kind, subject, until)
    }

    /// Revokes `subject` until `expires_at`, in memory and in the caller's transaction.
    pub fn revoke_until(
        &self,
        tx: &Conn<'_>,
        kind: Kind,
        subject: &str,
        expires_at: i64,
    ) -> crate::db::sql::Result<()> {
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            if kind == Kind::Client {
                state.clients.remove(subject);
            }
            let now = clock::now();
            if state.revoked.len() > 10_000 {
                state.revoked.retain(|_, until| *until > now);
            }
            state.revoked.insert((kind, subject.to_owned()), expires_at);
        }
        revocations::insert(tx, kind.as_str(), subject, clock::now(), expires_at)?;
        Ok(())
    }
}
