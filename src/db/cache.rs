//! Read-through caches of the rows read on the hottest paths: a user (`GET /v1/me`,
//! `GET /v1/me/events`), a client's credentials record (`POST /v1/client/register`,
//! introspection and every other client-credentials request) and an integration (each
//! account link reads it twice: `POST /v1/me/authorize` and the code exchange).
//!
//! A read answered from memory skips the hand-off to a blocking thread, which costs more
//! CPU than the indexed lookup itself (`benches/load`). Only on SQLite, where this process
//! is the only writer (its lock file keeps a second server and `restore` away). On
//! PostgreSQL other nodes change rows too, so every read goes to the database there.
//!
//! Staying correct:
//! - The table modules record what a write changes ([`changed`]); the write path applies
//!   it once the transaction has ended, before anyone is answered: the entries go and the
//!   epoch moves on. A caller sees its own write.
//! - A row read from the database is kept only if the epoch has not moved since before
//!   the read began: a read that may have seen the row from before a write that has
//!   since ended is used for that request and not kept. A read racing a write that has not
//!   ended yet may be kept, and is removed when the write ends.
//! - Absent rows are never kept: a row inserted later needs no invalidation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::db::clients::{self, ClientAuth};
use crate::db::integrations::{self, Integration};
use crate::db::sql::{self, Conn};
use crate::db::users::{self, User};
use crate::db::{Db, Store};
use crate::error::ApiError;

/// Most rows remembered per table; a full map drops an arbitrary entry. A user entry is
/// its metadata (at most 16 KiB) and a few ids: a few MiB in the usual case.
const USERS_MAX: usize = 8192;
const CLIENTS_MAX: usize = 1024;
const INTEGRATIONS_MAX: usize = 1024;

/// What a write changed, as recorded by the table module that wrote it.
#[derive(Debug)]
pub enum Change {
    User(String),
    Client(String),
    Integration(String),
    /// Rows of many users, clients or integrations at once (a cascade from a deleted
    /// client or developer, a developer's verification): rare, so everything is dropped.
    AllUsers,
    AllClients,
    AllIntegrations,
}

thread_local! {
    /// The changes of the write running on this thread; `None` outside a SQLite write
    /// (a PostgreSQL write, a read), where nothing is recorded.
    static PENDING: RefCell<Option<Vec<Change>>> = const { RefCell::new(None) };
}

/// Records that the write running on this thread changes `change`.
pub fn changed(change: Change) {
    PENDING.with(|p| {
        if let Some(pending) = p.borrow_mut().as_mut() {
            pending.push(change);
        }
    });
}

/// Starts recording the changes of a write about to run on this thread.
pub fn record() {
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns what the write changed.
pub fn recorded() -> Vec<Change> {
    PENDING.with(|p| p.borrow_mut().take().unwrap_or_default())
}

type Map<V> = HashMap<String, Arc<V>>;

#[derive(Default)]
struct State {
    /// Moves on with every applied change; see the module documentation.
    epoch: u64,
    users: Map<User>,
    clients: Map<ClientAuth>,
    integrations: Map<Integration>,
}

/// One cached table: where its map is in [`State`], and its bound.
struct Table<V> {
    map: fn(&mut State) -> &mut Map<V>,
    max: usize,
}

const USERS: Table<User> = Table {
    map: |s| &mut s.users,
    max: USERS_MAX,
};
const CLIENTS: Table<ClientAuth> = Table {
    map: |s| &mut s.clients,
    max: CLIENTS_MAX,
};
const INTEGRATIONS: Table<Integration> = Table {
    map: |s| &mut s.integrations,
    max: INTEGRATIONS_MAX,
};

/// The caches of one SQLite database.
#[derive(Default)]
pub struct Caches {
    state: Mutex<State>,
}

impl Caches {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies the changes of a write that has ended (committed or not: dropping an
    /// entry is always safe).
    pub fn apply(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.epoch += 1;
        for change in changes {
            match change {
                Change::User(id) => {
                    state.users.remove(&id);
                }
                Change::Client(id) => {
                    state.clients.remove(&id);
                }
                Change::Integration(id) => {
                    state.integrations.remove(&id);
                }
                Change::AllUsers => state.users.clear(),
                Change::AllClients => state.clients.clear(),
                Change::AllIntegrations => state.integrations.clear(),
            }
        }
    }

    /// The cached row `key` of `table` if `accept` takes it; on a miss, the epoch to pass
    /// to [`Caches::keep`] with what the database says.
    fn get<V>(
        &self,
        table: &Table<V>,
        key: &str,
        accept: impl Fn(&V) -> bool,
    ) -> Result<Arc<V>, u64> {
        let mut state = self.lock();
        let epoch = state.epoch;
        match (table.map)(&mut state).get(key) {
            Some(row) if accept(row) => Ok(row.clone()),
            _ => Err(epoch),
        }
    }

    /// Keeps `row`, read from the database after [`Caches::get`] returned `epoch`, unless
    /// a write has ended since.
    fn keep<V>(&self, table: &Table<V>, epoch: u64, key: &str, row: &Arc<V>) {
        let mut state = self.lock();
        if state.epoch == epoch {
            bounded_insert(
                (table.map)(&mut state),
                table.max,
                key.to_owned(),
                row.clone(),
            );
        }
    }
}

/// Inserts into a bounded map: a full one first loses an arbitrary entry.
fn bounded_insert<V>(map: &mut HashMap<String, V>, max: usize, key: String, value: V) {
    if map.len() >= max && !map.contains_key(&key) {
        if let Some(k) = map.keys().next().cloned() {
            map.remove(&k);
        }
    }
    map.insert(key, value);
}

impl Db {
    fn caches(&self) -> Option<&Caches> {
        match &*self.inner {
            Store::Sqlite(lite) => Some(&lite.caches),
            Store::Postgres(_) => None,
        }
    }

    /// The row `key` of `table`: from the cache when it holds one that `accept` takes,
    /// else from `load` on a reader (and kept, see the module documentation).
    async fn read_through<V, L>(
        &self,
        table: &Table<V>,
        key: &str,
        accept: impl Fn(&V) -> bool,
        load: L,
    ) -> Result<Option<Arc<V>>, ApiError>
    where
        V: Send + Sync + 'static,
        L: FnOnce(&Conn<'_>) -> sql::Result<Option<V>> + Send + 'static,
    {
        let epoch = match self.caches().map(|c| c.get(table, key, &accept)) {
            Some(Ok(row)) => return Ok(Some(row)),
            Some(Err(epoch)) => Some(epoch),
            None => None,
        };
        let row = self.read(move |c| Ok(load(c)?)).await?.map(Arc::new);
        if let (Some(caches), Some(epoch), Some(row)) = (self.caches(), epoch, &row) {
            if accept(row) {
                caches.keep(table, epoch, key, row);
            }
        }
        Ok(row)
    }

    /// The user `id`, only if they belong to `client_id` (as [`users::find`]).
    pub async fn user(&self, client_id: &str, id: &str) -> Result<Option<Arc<User>>, ApiError> {
        let (cid, uid) = (client_id.to_owned(), id.to_owned());
        // Another client's user is a miss: the database answers "not found".
        let mine = |u: &User| u.client_id == client_id;
        self.read_through(&USERS, id, mine, move |c| users::find(c, &cid, &uid))
            .await
    }

    /// The client `id` with its owner's state (as [`clients::find_for_auth`]).
    pub async fn client_auth(&self, id: &str) -> Result<Option<Arc<ClientAuth>>, ApiError> {
        let key = id.to_owned();
        self.read_through(
            &CLIENTS,
            id,
            |_| true,
            move |c| clients::find_for_auth(c, &key),
        )
        .await
    }

    /// The integration `id` (as [`integrations::find`]).
    pub async fn integration(&self, id: &str) -> Result<Option<Arc<Integration>>, ApiError> {
        let key = id.to_owned();
        self.read_through(
            &INTEGRATIONS,
            id,
            |_| true,
            move |c| integrations::find(c, &key),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_stays_at_its_bound() {
        let mut map = HashMap::new();
        for i in 0..50 {
            bounded_insert(&mut map, 10, i.to_string(), i);
        }
        assert_eq!(map.len(), 10);
        assert_eq!(map.get("49"), Some(&49), "the newest entry is kept");
        // Replacing an entry of a full map drops nothing else.
        bounded_insert(&mut map, 10, "49".into(), 0);
        assert_eq!(map.len(), 10);
    }

    fn user(id: &str, metadata: &str) -> Arc<User> {
        Arc::new(User {
            id: id.into(),
            client_id: "cl_a".into(),
            metadata: metadata.into(),
            disabled: false,
            created_at: 0,
        })
    }

    #[test]
    fn a_read_that_began_before_a_write_ended_is_not_kept() {
        let caches = Caches::default();
        let Err(epoch) = caches.get(&USERS, "u1", |u| u.client_id == "cl_a") else {
            panic!("an empty cache misses");
        };
        // A write to some user ends while the read is under way: what the read saw may
        // be older than that write.
        caches.apply(vec![Change::User("u2".into())]);
        caches.keep(&USERS, epoch, "u1", &user("u1", "{}"));
        assert!(
            caches.get(&USERS, "u1", |u| u.client_id == "cl_a").is_err(),
            "not kept"
        );

        let Err(epoch) = caches.get(&USERS, "u1", |u| u.client_id == "cl_a") else {
            panic!("still a miss");
        };
        caches.keep(&USERS, epoch, "u1", &user("u1", "{\"v\":1}"));
        assert_eq!(
            caches
                .get(&USERS, "u1", |u| u.client_id == "cl_a")
                .unwrap()
                .metadata,
            "{\"v\":1}"
        );
        assert!(
            caches.get(&USERS, "u1", |u| u.client_id == "cl_b").is_err(),
            "another client's lookup of the id goes to the database"
        );
        // The write that changes it ends: the entry goes.
        caches.apply(vec![Change::User("u1".into())]);
        assert!(caches.get(&USERS, "u1", |u| u.client_id == "cl_a").is_err());
        caches.keep(&USERS, epoch, "u1", &user("u1", "{}"));
        assert!(
            caches.get(&USERS, "u1", |u| u.client_id == "cl_a").is_err(),
            "a stale epoch keeps nothing"
        );
    }

    #[test]
    fn changes_are_recorded_only_inside_a_write() {
        changed(Change::AllUsers);
        assert!(recorded().is_empty(), "nothing recorded outside a write");
        record();
        changed(Change::User("u1".into()));
        changed(Change::Client("c1".into()));
        assert_eq!(recorded().len(), 2);
        assert!(
            recorded().is_empty(),
            "taking the changes ends the recording"
        );
    }
}
