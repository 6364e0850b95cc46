//! `set-server migrate-data --from data/set.db --to postgres://…`: moves a SQLite
//! installation into an empty PostgreSQL database, so that a cluster can take over from a
//! single node without anyone noticing (issue 11).
//!
//! Every row is copied as it is: same ids, same hashes, same sealed secrets and signing
//! keys. With the same master key on the new nodes, every access token, refresh token and
//! client secret issued before the move keeps working after it.
//!
//! - The source is opened read-only and never changed. It must be a Set Server database
//!   that this binary knows fully: one from a newer binary is refused, and one with
//!   pending migrations must be brought up to date with `set-server migrate` first (its
//!   rows are copied into the current schema, so they must have the current shape; and
//!   applying migrations here would write to a file this command promises not to touch).
//!   A server running on it is refused too (its lock file is held): rows it wrote during
//!   the copy would be lost.
//! - The target is opened with [`Db::open`], which creates the schema, and must hold no
//!   data: the copy keeps ids, so it cannot merge into another installation.
//! - Tables are copied parents first (by their foreign keys), columns by name, several
//!   hundred rows per `INSERT`, all in one PostgreSQL transaction: the copy lands whole or
//!   not at all, and a failed run can simply be repeated.
//! - Identity columns (`events.id`, `revocations.seq`, …) have their sequences moved past
//!   the highest id SQLite ever handed out (`sqlite_sequence` included, so an id deleted
//!   by retention is not issued again), so new rows never collide with copied ones.
//! - Then the row counts of every table are compared on both sides.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::config::Synchronous;
use crate::db::sql::{Conn, Param};
use crate::db::{self, backup, migrate, Db};
use crate::error::ApiError;
use crate::params;

/// At most this many rows per `INSERT` (fewer for wide tables: PostgreSQL takes at most
/// 65535 parameters per statement).
const ROWS_PER_INSERT: usize = 500;
const MAX_PARAMS: usize = 65_535;

/// What was copied: each table's rows on both sides.
#[derive(Debug, Clone)]
pub struct Count {
    pub table: String,
    pub sqlite: i64,
    pub postgres: i64,
}

/// A table to copy: its columns (SQLite's names, in order) and how each is bound.
struct Table {
    name: String,
    columns: Vec<String>,
    kinds: Vec<Kind>,
    /// Whether PostgreSQL has an identity column here (`OVERRIDING SYSTEM VALUE`).
    identity: bool,
    /// Identity or serial columns, whose sequences move past the copied ids.
    sequences: Vec<String>,
    /// The highest id SQLite's `sqlite_sequence` remembers for the table (AUTOINCREMENT).
    handed_out: i64,
    rows: i64,
}

/// The Rust type a PostgreSQL column is bound with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BigInt,
    Int,
    Bool,
    Float,
    Text,
    Bytes,
}

impl Kind {
    fn of(pg_type: &str) -> Option<Kind> {
        Some(match pg_type {
            "bigint" => Kind::BigInt,
            "integer" => Kind::Int,
            "boolean" => Kind::Bool,
            "double precision" => Kind::Float,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }
}

/// One value, typed for its PostgreSQL column (`None`: a NULL of that type).
enum Cell {
    BigInt(Option<i64>),
    Int(Option<i32>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Cell {
    fn param(&self) -> &dyn Param {
        match self {
            Cell::BigInt(v) => v,
            Cell::Int(v) => v,
            Cell::Bool(v) => v,
            Cell::Float(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
        }
    }

    /// Converts a SQLite value for a column of `kind`; `Err` names what SQLite holds.
    fn from_sqlite(value: ValueRef<'_>, kind: Kind) -> Result<Cell, String> {
        let found = match value {
            ValueRef::Null => "NULL",
            ValueRef::Integer(_) => "an integer",
            ValueRef::Real(_) => "a real number",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
        };
        let cell = match (kind, value) {
            (Kind::BigInt, ValueRef::Null) => Cell::BigInt(None),
            (Kind::BigInt, ValueRef::Integer(i)) => Cell::BigInt(Some(i)),
            (Kind::Int, ValueRef::Null) => Cell::Int(None),
            (Kind::Int, ValueRef::Integer(i)) => Cell::Int(Some(
                i32::try_from(i).map_err(|_| format!("{i}, too large for an integer column"))?,
            )),
            (Kind::Bool, ValueRef::Null) => Cell::Bool(None),
            (Kind::Bool, ValueRef::Integer(i @ (0 | 1))) => Cell::Bool(Some(i == 1)),
            (Kind::Float, ValueRef::Null) => Cell::Float(None),
            (Kind::Float, ValueRef::Real(f)) => Cell::Float(Some(f)),
            (Kind::Float, ValueRef::Integer(i)) => Cell::Float(Some(i as f64)),
            (Kind::Text, ValueRef::Null) => Cell::Text(None),
            (Kind::Text, ValueRef::Text(t)) => Cell::Text(Some(
                String::from_utf8(t.to_vec()).map_err(|_| "text that is not UTF-8".to_owned())?,
            )),
            (Kind::Bytes, ValueRef::Null) => Cell::Bytes(None),
            (Kind::Bytes, ValueRef::Blob(b)) => Cell::Bytes(Some(b.to_vec())),
            _ => return Err(format!("{found}, where PostgreSQL expects {kind:?}")),
        };
        Ok(cell)
    }
}

/// `"name"`, quoted for either engine.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Moves the SQLite database `from` into the empty PostgreSQL database `to`, printing a
/// progress line on stderr and the summary on `out`. `Err` is the message for the
/// operator: nothing usable was written when it comes before the copy, and the copy
/// itself is one transaction.
pub fn run(from: &Path, to: &str, out: &mut dyn Write) -> Result<Vec<Count>, String> {
    let source = open_source(from)?;
    // Held for the whole copy: no server may start on the source meanwhile.
    let _lock = lock_source(from)?;
    let target = open_target(to)?;
    let place = target.describe();

    let mut tables = read_source(&source, from)?;
    let targets = target_columns(&target)?;
    plan(&mut tables, &targets, &place)?;
    refuse_non_empty(&target, &place)?;

    let total: i64 = tables.iter().map(|t| t.rows).sum();
    let mut progress = Progress::new(total);
    let source = Mutex::new(source);
    let mut failure: Option<String> = None;
    let copied = target.write_blocking(|c| {
        let conn = source.lock().unwrap_or_else(PoisonError::into_inner);
        let result = copy_all(&conn, c, &tables, &mut progress);
        result.map_err(|e| {
            failure = Some(e);
            ApiError::internal("the copy failed")
        })
    });
    progress.finish();
    if let Err(e) = copied {
        return Err(match failure {
            Some(why) => {
                format!("{why}. No rows were written to {place}; run it again once fixed.")
            }
            None => format!("copying into {place} failed: {e}. No rows were written there."),
        });
    }

    let counts = verify(&target, &tables)?;
    print_summary(out, &counts).map_err(|e| format!("writing the summary: {e}"))?;
    let wrong: Vec<String> = counts
        .iter()
        .filter(|c| c.sqlite != c.postgres)
        .map(|c| {
            format!(
                "{} ({} rows in SQLite, {} in PostgreSQL)",
                c.table, c.sqlite, c.postgres
            )
        })
        .collect();
    if !wrong.is_empty() {
        return Err(format!(
            "the row counts differ after the copy: {}; do not switch to {place}",
            wrong.join(", ")
        ));
    }
    let key = from
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("master.key");
    let lines = [
        format!(
            "moved {total} rows in {} tables from {} into {place}; {} was not changed.",
            counts.len(),
            from.display(),
            from.display()
        ),
        format!(
            "Next: copy the master key ({}, or your security.master_key_file) to every node: \
             master.key must be the same file on every node, or the copied client secrets \
             and signing keys cannot be decrypted and every issued token stops working.",
            key.display()
        ),
        "Then set database.url on every node and start them.".to_owned(),
    ];
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("writing the summary: {e}"))?;
    }
    Ok(counts)
}

/// Opens the source read-only and checks that it is a Set Server database at this
/// binary's schema version.
fn open_source(from: &Path) -> Result<Connection, String> {
    let shown = from.display();
    if !from.is_file() {
        return Err(format!("there is no SQLite database at {shown}"));
    }
    let conn = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {shown}: {e}"))?;
    let history: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| format!("{shown} is not a readable SQLite database ({e})"))?;
    if history.is_none() {
        return Err(format!(
            "{shown} is not a Set Server database (it has no migration history)"
        ));
    }
    migrate::refuse_newer(&conn, from).map_err(|e| e.to_string())?;
    let applied: HashSet<i64> = conn
        .prepare("SELECT version FROM schema_migrations")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, i64>(0))?
                .collect::<Result<HashSet<i64>, _>>()
        })
        .map_err(|e| format!("reading the migration history of {shown}: {e}"))?;
    let pending: Vec<String> = migrate::all()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect();
    if !pending.is_empty() {
        return Err(format!(
            "{shown} has migrations this binary would apply first ({}); bring it up to \
             date, then run migrate-data again: SET_DATABASE__PATH={shown} set-server migrate \
             (migrate-data itself never changes the source)",
            pending.join(", ")
        ));
    }
    // One read transaction for everything that follows: counts, rows and ids all come
    // from the same snapshot.
    conn.execute_batch("BEGIN")
        .map_err(|e| format!("reading {shown}: {e}"))?;
    Ok(conn)
}

/// Takes the source's lock file exclusively, as `set-server restore` does, so a running
/// server (which holds it shared) is refused. No lock file: no server ever ran there.
fn lock_source(from: &Path) -> Result<Option<File>, String> {
    let path = backup::lock_path(from);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open the lock file {}: {e}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use: a set-server (or another set-server command) holds {}; stop it, \
             then migrate (rows written during the copy would be lost). Nothing was changed.",
            from.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

fn open_target(to: &str) -> Result<Db, String> {
    let to = to.trim();
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(
            "--to must be a PostgreSQL URL: postgres://user:password@host:5432/database".into(),
        );
    }
    let opts = db::Options {
        path: PathBuf::new(),
        busy_timeout: Duration::from_secs(5),
        readers: 0,
        synchronous: Synchronous::Full,
        group_commit: false,
        url: Some(to.to_owned()),
        pool: 2,
    };
    Db::open(opts).map_err(|e| match e {
        db::OpenError::Postgres(db::postgres::PgError::Url(why)) => {
            format!("--to is not a valid PostgreSQL URL: {why}")
        }
        db::OpenError::Postgres(db::postgres::PgError::Connect { target, why }) => {
            format!("cannot connect to the target PostgreSQL at {target}: {why}")
        }
        other => format!("the target database: {other}"),
    })
}

/// Every table of the source (but its migration history), its columns, foreign keys,
/// row count and highest ids, in parents-first order.
fn read_source(conn: &Connection, from: &Path) -> Result<Vec<Table>, String> {
    let failed = |e: rusqlite::Error| format!("reading {}: {e}", from.display());
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'schema_migrations' ORDER BY rowid",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(failed)?;
    let has_sequences: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(failed)?
        > 0;
    let mut tables = Vec::new();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for name in &names {
        let columns: Vec<String> = conn
            .prepare(&format!("PRAGMA table_info({})", quote(name)))
            .and_then(|mut s| s.query_map([], |r| r.get(1))?.collect())
            .map_err(failed)?;
        let refs: Vec<String> = conn
            .prepare(&format!("PRAGMA foreign_key_list({})", quote(name)))
            .and_then(|mut s| s.query_map([], |r| r.get(2))?.collect())
            .map_err(failed)?;
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}", quote(name)), [], |r| {
                r.get(0)
            })
            .map_err(failed)?;
        let handed_out = if has_sequences {
            conn.query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(failed)?
        } else {
            None
        };
        parents.insert(name.clone(), refs);
        tables.push(Table {
            name: name.clone(),
            columns,
            kinds: Vec::new(),
            identity: false,
            sequences: Vec::new(),
            handed_out: handed_out.unwrap_or(0),
            rows,
        });
    }
    // Parents first: a table is placed once every table it references is.
    let mut ordered: Vec<Table> = Vec::new();
    let mut placed: HashSet<String> = HashSet::new();
    while !tables.is_empty() {
        let ready = tables.iter().position(|t| {
            parents.get(&t.name).is_none_or(|ps| {
                ps.iter()
                    .all(|p| *p == t.name || placed.contains(p) || !names.contains(p))
            })
        });
        let Some(i) = ready else {
            let stuck: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "the foreign keys of {} form a cycle; cannot order the copy",
                stuck.join(", ")
            ));
        };
        let table = tables.remove(i);
        placed.insert(table.name.clone());
        ordered.push(table);
    }
    Ok(ordered)
}

/// PostgreSQL's columns, by table: name → (type, whether it is an identity or serial
/// column, whether it is an identity column).
type Columns = HashMap<String, HashMap<String, (String, bool, bool)>>;

fn target_columns(target: &Db) -> Result<Columns, String> {
    let rows: Vec<(String, String, String, bool, bool)> = target
        .read_blocking(|c| {
            Ok(c.query_all(
                "SELECT table_name::text, column_name::text, data_type::text,
                        is_identity::text = 'YES' OR coalesce(column_default::text, '') LIKE 'nextval(%',
                        is_identity::text = 'YES'
                 FROM information_schema.columns
                 WHERE table_schema = current_schema()",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?)
        })
        .map_err(|e| format!("reading the target's schema: {e}"))?;
    let mut out: Columns = HashMap::new();
    for (table, column, ty, generated, identity) in rows {
        out.entry(table)
            .or_default()
            .insert(column, (ty, generated, identity));
    }
    Ok(out)
}

/// Matches each source column with its PostgreSQL column and type, and finds the
/// sequences to move.
fn plan(tables: &mut [Table], targets: &Columns, place: &str) -> Result<(), String> {
    for table in tables.iter_mut() {
        let Some(pg) = targets.get(&table.name) else {
            return Err(format!(
                "{place} has no table {}; is it a database for another application?",
                table.name
            ));
        };
        for column in &table.columns {
            let Some((ty, generated, identity)) = pg.get(column) else {
                return Err(format!(
                    "{place} has no column {}.{column}; is it a database for another \
                     application?",
                    table.name
                ));
            };
            let kind = Kind::of(ty).ok_or_else(|| {
                format!(
                    "{}.{column} is of type {ty} in PostgreSQL, which migrate-data cannot fill",
                    table.name
                )
            })?;
            table.kinds.push(kind);
            table.identity |= *identity;
            if *generated {
                table.sequences.push(column.clone());
            }
        }
    }
    Ok(())
}

/// Refuses a target where any table (but the migration history) holds a row.
fn refuse_non_empty(target: &Db, place: &str) -> Result<(), String> {
    let used: Vec<String> = target
        .read_blocking(|c| {
            let tables: Vec<String> = c.query_all(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   AND table_name <> 'schema_migrations'
                 ORDER BY table_name",
                params![],
                |r| r.get(0),
            )?;
            let mut used = Vec::new();
            for t in tables {
                let any: bool = c.value(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&t)),
                    params![],
                )?;
                if any {
                    used.push(t);
                }
            }
            Ok(used)
        })
        .map_err(|e| format!("checking that {place} is empty: {e}"))?;
    if used.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{place} already holds data (in {}); migrate-data only fills an empty database, \
         since it keeps every id. Create a new one (e.g. psql -c 'CREATE DATABASE set') and \
         point --to at it, with no set-server started on it yet. Nothing was changed.",
        used.join(", ")
    ))
}

/// Copies every table, then moves the sequences; runs inside the target's transaction.
fn copy_all(
    src: &Connection,
    c: &Conn<'_>,
    tables: &[Table],
    progress: &mut Progress,
) -> Result<(), String> {
    for table in tables {
        copy_table(src, c, table, progress)?;
        progress.table_done(&table.name, table.rows);
        for column in &table.sequences {
            let max: Option<i64> = src
                .query_row(
                    &format!("SELECT max({}) FROM {}", quote(column), quote(&table.name)),
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| format!("reading the highest {}.{column}: {e}", table.name))?;
            let next = max.unwrap_or(0).max(table.handed_out);
            if next < 1 {
                continue; // never used: the sequence starts at 1 as it is
            }
            let _: i64 = c
                .value(
                    "SELECT setval(pg_get_serial_sequence($1, $2), $3)",
                    params![quote(&table.name), column.clone(), next],
                )
                .map_err(|e| format!("moving the sequence of {}.{column}: {e}", table.name))?;
        }
    }
    Ok(())
}

fn copy_table(
    src: &Connection,
    c: &Conn<'_>,
    table: &Table,
    progress: &mut Progress,
) -> Result<(), String> {
    let name = &table.name;
    let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
    let list = columns.join(", ");
    let width = columns.len();
    if width == 0 {
        return Ok(());
    }
    let per_insert = ROWS_PER_INSERT.min(MAX_PARAMS / width).max(1);
    let overriding = if table.identity {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let insert = |rows: &[Vec<Cell>]| -> Result<(), String> {
        let mut sql = format!("INSERT INTO {} ({list}){overriding} VALUES ", quote(name));
        let mut n = 0;
        for (i, _) in rows.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..width {
                n += 1;
                let _ = write!(sql, "{}${n}", if j == 0 { "" } else { ", " });
            }
            sql.push(')');
        }
        let values: Vec<&dyn Param> = rows.iter().flatten().map(Cell::param).collect();
        c.execute(&sql, &values)
            .map(|_| ())
            .map_err(|e| format!("copying {name} into PostgreSQL: {e}"))
    };
    let read_failed = |e: rusqlite::Error| format!("reading {name} from SQLite: {e}");
    let mut stmt = src
        .prepare(&format!("SELECT {list} FROM {}", quote(name)))
        .map_err(read_failed)?;
    let mut rows = stmt.query([]).map_err(read_failed)?;
    let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(per_insert);
    while let Some(row) = rows.next().map_err(read_failed)? {
        let mut cells = Vec::with_capacity(width);
        for (i, kind) in table.kinds.iter().enumerate() {
            let value = row.get_ref(i).map_err(read_failed)?;
            let cell = Cell::from_sqlite(value, *kind).map_err(|found| {
                format!("{name}.{} holds {found}; cannot copy it", table.columns[i])
            })?;
            cells.push(cell);
        }
        batch.push(cells);
        if batch.len() == per_insert {
            insert(&batch)?;
            progress.advance(name, batch.len());
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(&batch)?;
        progress.advance(name, batch.len());
    }
    Ok(())
}

/// Counts every copied table on both sides, after the commit.
fn verify(target: &Db, tables: &[Table]) -> Result<Vec<Count>, String> {
    target
        .read_blocking(|c| {
            let mut out = Vec::new();
            for t in tables {
                let postgres: i64 = c.value(
                    &format!("SELECT count(*) FROM {}", quote(&t.name)),
                    params![],
                )?;
                out.push(Count {
                    table: t.name.clone(),
                    sqlite: t.rows,
                    postgres,
                });
            }
            Ok(out)
        })
        .map_err(|e| format!("counting the copied rows: {e}"))
}

fn print_summary(out: &mut dyn Write, counts: &[Count]) -> std::io::Result<()> {
    let width = counts
        .iter()
        .map(|c| c.table.len())
        .chain(["total".len()])
        .max()
        .unwrap_or(5);
    writeln!(
        out,
        "{:<width$}  {:>10}  {:>10}",
        "table", "sqlite", "postgres"
    )?;
    for c in counts {
        let mark = if c.sqlite == c.postgres {
            ""
        } else {
            "  MISMATCH"
        };
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>10}{mark}",
            c.table, c.sqlite, c.postgres
        )?;
    }
    let (s, p) = counts
        .iter()
        .fold((0, 0), |(s, p), c| (s + c.sqlite, p + c.postgres));
    writeln!(out, "{:<width$}  {s:>10}  {p:>10}", "total")
}

/// The progress line on stderr: redrawn in place on a terminal (at most ~10 times a
/// second), one line per table otherwise (logs, CI).
struct Progress {
    tty: bool,
    total: u64,
    done: u64,
    drawn: Option<Instant>,
}

impl Progress {
    fn new(total: i64) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            total: u64::try_from(total).unwrap_or(0),
            done: 0,
            drawn: None,
        }
    }

    fn advance(&mut self, table: &str, rows: usize) {
        self.done += rows as u64;
        if !self.tty {
            return;
        }
        let due = self
            .drawn
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(100));
        if due || self.done == self.total {
            self.draw(table);
        }
    }

    fn draw(&mut self, table: &str) {
        const WIDTH: u64 = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        eprint!(
            "\r\x1b[K[{bar}] {percent:>3}%  {}/{} rows  {table}",
            self.done, self.total
        );
        let _ = std::io::stderr().flush();
        self.drawn = Some(Instant::now());
    }

    fn table_done(&mut self, table: &str, rows: i64) {
        if self.tty {
            self.draw(table);
        } else {
            eprintln!("copied {table}: {rows} rows");
        }
    }

    fn finish(&mut self) {
        if self.tty && self.drawn.is_some() {
            eprintln!();
        }
    }
}
