//! A deterministic demo *source* database for `stage demo`.
//!
//! [`create_demo_source`] writes a SQLite file that looks like the back end of a Dutch municipal
//! social-services application (Sociaal Domein) of the gemeente 's-Hertogenbosch:
//!
//! | table           | what it holds                                                |   rows |
//! |-----------------|--------------------------------------------------------------|--------|
//! | `inwoners`      | residents: test BSNs, names with é ë ü ß Ĳ, notes with emoji |  5,000 |
//! | `adressen`      | current and earlier addresses, some abroad or on Bonaire     |  5,924 |
//! | `aanvragen`     | applications (Participatiewet, Wmo, bijzondere bijstand, …)  |  8,282 |
//! | `uitkeringen`   | monthly and one-off benefit payments                         | 19,087 |
//! | `documenten`    | uploaded PDFs/JPEGs/PNGs as BLOBs of 200 B – 4 KiB           |  1,850 |
//! | `leeg_register` | a register with every kind of column and 0 rows              |      0 |
//!
//! Together the columns cover every type the SQLite source mapping knows, spelled the way
//! that mapping expects:
//! - `INTEGER` and `BIGINT`, with negatives, `i64::MIN` and `i64::MAX`;
//! - `DECIMAL TEXT(12,2)` and `DECIMAL TEXT(18,4)`, stored as exact TEXT such as `'1234.50'`;
//! - `TEXT`, `VARCHAR(n)` and `CHAR(n)`, with accents, Turkish and Vietnamese letters, the
//!   Dutch Ĳ, emoji (also ZWJ sequences and flags), quotes, tabs and newlines;
//! - `DATE` as `'YYYY-MM-DD'` (also before 1970), `TIMESTAMP` as `'YYYY-MM-DD HH:MM:SS.ffffff'`,
//!   one `TIMESTAMPTZ` (`documenten.ontvangen_op`) as `'YYYY-MM-DDTHH:MM:SS.ffffffZ'` and one
//!   `TIME` (`aanvragen.afspraak_tijd`) as `'HH:MM:SS'`;
//! - `BOOLEAN` as INTEGER 0/1, `DOUBLE` and `REAL`, and `BLOB` (one of them empty, not NULL).
//!
//! Many columns hold NULLs. Edge rows fixed on purpose: `aanvragen` 1 and 2 have `i64::MAX` and
//! `i64::MIN` as `correlatie_id`, 3 and 4 the largest and smallest values of both decimal types;
//! `documenten` 2 has an empty blob. Note that SQLite gives `DATE`/`TIME…` columns NUMERIC
//! affinity: compare them with complete literals (`< '1970-01-01'`, not `< '1970'`).
//!
//! The data comes from a fixed-seed splitmix64 generator, no clock and no floating-point
//! functions beyond `+ - * /` and `round`, so every machine produces the same rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, Statement};

/// The table names, in order, for SRC_TABLES.
pub const DEMO_TABLES: &[&str] = &[
    "inwoners",
    "adressen",
    "aanvragen",
    "uitkeringen",
    "documenten",
    "leeg_register",
];

/// Seed of the generator; changing it changes every generated value.
const SEED: u64 = 0x5354_4147_4544_454d; // "STAGEDEM"
/// Number of residents; every other table follows from them.
const INWONERS: i64 = 5_000;
/// How many applications a resident makes: (weight, number).
const AANVRAGEN_PER_INWONER: &[(u64, u32)] = &[(20, 0), (30, 1), (25, 2), (15, 3), (10, 4)];
/// "Today" for the demo data: nothing happens after this date.
const PEILDATUM: (i64, u32, u32) = (2025, 6, 30);
/// Amounts of `DECIMAL TEXT(12,2)` are in cents, of `DECIMAL TEXT(18,4)` in 1/10,000.
const MAX_DEC_12_2: i64 = 10i64.pow(12) - 1;
const MAX_DEC_18_4: i64 = 10i64.pow(18) - 1;

const SCHEMA: &str = "
CREATE TABLE inwoners (
    id                INTEGER PRIMARY KEY,
    bsn               VARCHAR(9) NOT NULL,
    voornamen         VARCHAR(200) NOT NULL,
    tussenvoegsel     VARCHAR(10),
    achternaam        VARCHAR(200) NOT NULL,
    geslacht          CHAR(1) NOT NULL,
    geboortedatum     DATE NOT NULL,
    overlijdensdatum  DATE,
    email             VARCHAR(254),
    telefoon          VARCHAR(20),
    heeft_digid       BOOLEAN NOT NULL,
    aantal_kinderen   INTEGER NOT NULL,
    ingeschreven_op   TIMESTAMP NOT NULL,
    gewijzigd_op      TIMESTAMP NOT NULL,
    notitie           TEXT
);
CREATE TABLE adressen (
    id                       INTEGER PRIMARY KEY,
    inwoner_id               INTEGER NOT NULL REFERENCES inwoners (id),
    straatnaam               VARCHAR(80) NOT NULL,
    huisnummer               INTEGER NOT NULL,
    huisletter               CHAR(1),
    huisnummertoevoeging     VARCHAR(4),
    postcode                 VARCHAR(10),
    woonplaats               VARCHAR(80) NOT NULL,
    landcode                 CHAR(2) NOT NULL,
    bag_nummeraanduiding_id  BIGINT,
    breedtegraad             DOUBLE,
    lengtegraad              DOUBLE,
    is_briefadres            BOOLEAN NOT NULL,
    geldig_van               DATE NOT NULL,
    geldig_tot               DATE
);
CREATE TABLE aanvragen (
    id                 INTEGER PRIMARY KEY,
    inwoner_id         INTEGER NOT NULL REFERENCES inwoners (id),
    zaaknummer         VARCHAR(20) NOT NULL,
    regeling           VARCHAR(60) NOT NULL,
    status             VARCHAR(20) NOT NULL,
    ingediend_op       TIMESTAMP NOT NULL,
    afgehandeld_op     TIMESTAMP,
    besluitdatum       DATE,
    toegekend          BOOLEAN,
    spoed              BOOLEAN NOT NULL,
    gevraagd_bedrag    DECIMAL TEXT(12,2),
    draagkrachtfactor  DECIMAL TEXT(18,4),
    prioriteit         INTEGER NOT NULL,
    correlatie_id      BIGINT NOT NULL,
    afspraak_tijd      TIME,
    behandelaar        VARCHAR(60),
    toelichting        TEXT
);
CREATE TABLE uitkeringen (
    id                  INTEGER PRIMARY KEY,
    aanvraag_id         INTEGER NOT NULL REFERENCES aanvragen (id),
    volgnummer          INTEGER NOT NULL,
    periode             DATE NOT NULL,
    bruto_bedrag        DECIMAL TEXT(12,2) NOT NULL,
    loonheffing         DECIMAL TEXT(12,2) NOT NULL,
    netto_bedrag        DECIMAL TEXT(12,2) NOT NULL,
    correctie           DECIMAL TEXT(12,2),
    dagbedrag           DECIMAL TEXT(18,4) NOT NULL,
    kortingspercentage  REAL,
    iban                VARCHAR(34) NOT NULL,
    betaald_op          TIMESTAMP,
    teruggevorderd      BOOLEAN NOT NULL
);
CREATE TABLE documenten (
    id             INTEGER PRIMARY KEY,
    aanvraag_id    INTEGER NOT NULL REFERENCES aanvragen (id),
    bestandsnaam   VARCHAR(255) NOT NULL,
    mime_type      VARCHAR(100) NOT NULL,
    grootte_bytes  INTEGER NOT NULL,
    controlegetal  BIGINT NOT NULL,
    inhoud         BLOB,
    paginas        INTEGER,
    vertrouwelijk  BOOLEAN NOT NULL,
    ontvangen_op   TIMESTAMPTZ NOT NULL,
    omschrijving   TEXT
);
CREATE TABLE leeg_register (
    id            INTEGER PRIMARY KEY,
    aanvraag_id   INTEGER REFERENCES aanvragen (id),
    omschrijving  TEXT,
    bedrag        DECIMAL TEXT(12,2),
    peildatum     DATE,
    gegrond       BOOLEAN,
    score         DOUBLE,
    ingediend_op  TIMESTAMP,
    bijlage       BLOB
);
";

const INDEXES: &str = "
CREATE INDEX adressen_inwoner ON adressen (inwoner_id);
CREATE INDEX aanvragen_inwoner ON aanvragen (inwoner_id);
CREATE INDEX uitkeringen_aanvraag ON uitkeringen (aanvraag_id);
CREATE INDEX documenten_aanvraag ON documenten (aanvraag_id);
";

/// Creates the demo source database at `path` (which must not exist yet: error otherwise) and returns per-table row counts.
///
/// The database is built under a temporary name in the same directory and renamed to `path`
/// only when complete, so a failure never leaves a half-made demo behind. The directory must
/// exist. The counts are in [`DEMO_TABLES`] order.
pub fn create_demo_source(path: &Path) -> Result<Vec<(String, u64)>> {
    if path.symlink_metadata().is_ok() {
        bail!(
            "demo source database {} already exists; remove it or choose another path",
            path.display()
        );
    }
    let tmp = temp_path(path)?;
    let result = build(&tmp).and_then(|counts| {
        // Re-check just before publishing: rename would silently replace a file made meanwhile.
        if path.symlink_metadata().is_ok() {
            bail!(
                "demo source database {} appeared while the demo was being created; left it alone",
                path.display()
            );
        }
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(counts)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let counts =
        result.with_context(|| format!("creating demo source database {}", path.display()))?;
    Ok(DEMO_TABLES
        .iter()
        .zip(counts)
        .map(|(table, n)| (table.to_string(), n))
        .collect())
}

/// `.<name>.<pid>-<n>.tmp` next to `path`: unique per process and call, hidden from listings.
fn temp_path(path: &Path) -> Result<PathBuf> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .with_context(|| format!("demo source path {} has no file name", path.display()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "directory {} of the demo source database does not exist",
            dir.display()
        );
    }
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{n}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    // Only a crashed earlier process with our pid can have left this name behind.
    if tmp.exists() {
        std::fs::remove_file(&tmp).with_context(|| format!("removing stale {}", tmp.display()))?;
    }
    Ok(tmp)
}

/// Builds the complete database at `tmp` and returns the row counts in [`DEMO_TABLES`] order.
fn build(tmp: &Path) -> Result<[u64; 6]> {
    let mut conn = Connection::open(tmp).with_context(|| format!("opening {}", tmp.display()))?;
    // The file is discarded on failure, so durability while building buys nothing.
    conn.execute_batch("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;")?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)
        .context("creating the demo tables")?;
    let counts = Generator::new(&tx)?
        .run()
        .context("inserting the demo rows")?;
    tx.execute_batch(INDEXES)
        .context("creating the demo indexes")?;
    tx.commit()?;
    conn.close()
        .map_err(|(_, e)| e)
        .context("closing the demo database")?;
    Ok(counts)
}

/// Prepared inserts plus one random stream per table, so that changing how one table is
/// generated leaves the values of the others alone.
struct Generator<'c> {
    inwoner: Statement<'c>,
    adres: Statement<'c>,
    aanvraag: Statement<'c>,
    uitkering: Statement<'c>,
    document: Statement<'c>,
    rng_inwoner: Rng,
    rng_adres: Rng,
    rng_aanvraag: Rng,
    rng_uitkering: Rng,
    rng_document: Rng,
    /// Rows inserted so far, in [`DEMO_TABLES`] order; also the last id used per table.
    counts: [u64; 6],
    peildatum: i64,
}

/// What the tables generated after `inwoners` need to know about a resident.
struct Resident {
    id: i64,
    geboren: i64,
    overleden: Option<i64>,
    ingeschreven: i64,
    iban: String,
}

/// What `uitkeringen` and `documenten` need to know about an application.
struct Application<'a> {
    id: i64,
    regeling: &'a Regeling,
    ingediend_op: i64,
    besluit: Option<i64>,
    gevraagd: Option<i64>,
}

impl<'c> Generator<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        let insert = |table: &str, columns: usize| {
            let marks = (1..=columns)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            conn.prepare(&format!("INSERT INTO {table} VALUES ({marks})"))
        };
        Ok(Generator {
            inwoner: insert("inwoners", 15)?,
            adres: insert("adressen", 15)?,
            aanvraag: insert("aanvragen", 17)?,
            uitkering: insert("uitkeringen", 13)?,
            document: insert("documenten", 11)?,
            rng_inwoner: Rng::new(1),
            rng_adres: Rng::new(2),
            rng_aanvraag: Rng::new(3),
            rng_uitkering: Rng::new(4),
            rng_document: Rng::new(5),
            counts: [0; 6],
            peildatum: days_from_civil(PEILDATUM.0, PEILDATUM.1, PEILDATUM.2),
        })
    }

    fn run(mut self) -> Result<[u64; 6]> {
        let mut bsns = HashSet::new();
        for id in 1..=INWONERS {
            let resident = self.inwoner(id, &mut bsns)?;
            self.adressen(&resident)?;
            let aantal = *self.rng_aanvraag.weighted(AANVRAGEN_PER_INWONER);
            for _ in 0..aantal {
                if let Some(application) = self.aanvraag(&resident)? {
                    self.uitkeringen(&resident, &application)?;
                    self.documenten(&application)?;
                }
            }
        }
        Ok(self.counts)
    }

    fn next_id(&mut self, table: usize) -> i64 {
        self.counts[table] += 1;
        self.counts[table] as i64
    }

    fn inwoner(&mut self, id: i64, bsns: &mut HashSet<String>) -> Result<Resident> {
        self.counts[0] += 1;
        let peil = self.peildatum;
        let r = &mut self.rng_inwoner;
        let bsn = loop {
            let bsn = test_bsn(r);
            if bsns.insert(bsn.clone()) {
                break bsn;
            }
        };
        let aantal_voornamen = *r.weighted(&[(55, 1), (35, 2), (10, 3)]);
        let voornamen: Vec<&str> = (0..aantal_voornamen).map(|_| *r.pick(VOORNAMEN)).collect();
        let (tussenvoegsel, achternaam) = *r.pick(ACHTERNAMEN);
        let geslacht = *r.weighted(&[(49, "V"), (49, "M"), (2, "X")]);
        let geboren = r.range(days_from_civil(1925, 1, 1), days_from_civil(2007, 6, 30));
        let overleden = (geboren < days_from_civil(1960, 1, 1) && r.percent(8))
            .then(|| r.range(days_from_civil(2015, 1, 1), peil));
        let email = r.percent(60).then(|| {
            let domein = r.pick(&[
                "ziggo.nl",
                "kpnmail.nl",
                "gmail.com",
                "hotmail.com",
                "home.nl",
            ]);
            format!(
                "{}.{}{}@{domein}",
                ascii_fold(voornamen[0]),
                ascii_fold(achternaam),
                r.below(100)
            )
        });
        let telefoon = r.percent(70).then(|| match r.below(3) {
            0 => format!("06-{:08}", r.below(100_000_000)),
            1 => format!("+316{:08}", r.below(100_000_000)),
            _ => format!("073-{:07}", r.below(10_000_000)),
        });
        let heeft_digid = add_years(geboren, 18) < peil && r.percent(85);
        let aantal_kinderen = *r.weighted(&[(45, 0), (20, 1), (20, 2), (10, 3), (4, 4), (1, 6)]);
        // A third was born here (registered within two weeks, often before 1970); the rest moved in.
        let ingeschreven = if r.percent(33) {
            geboren + r.range(0, 14)
        } else {
            let uiterlijk = overleden.unwrap_or(peil).min(peil - 30);
            r.range(geboren.max(days_from_civil(1975, 1, 1)), uiterlijk)
        };
        let ingeschreven_op = at(r, ingeschreven, 8, 17);
        let gewijzigd = r.range((ingeschreven + 1).max(days_from_civil(2019, 1, 1)), peil);
        let gewijzigd_op = at(r, gewijzigd, 0, 24);
        let notitie = r.percent(12).then(|| *r.pick(NOTITIES));
        let iban = nl_iban(r);
        self.inwoner.execute(params![
            id,
            bsn,
            voornamen.join(" "),
            tussenvoegsel,
            achternaam,
            geslacht,
            fmt_date(geboren),
            overleden.map(fmt_date),
            email,
            telefoon,
            heeft_digid,
            aantal_kinderen,
            fmt_timestamp(ingeschreven_op),
            fmt_timestamp(gewijzigd_op),
            notitie,
        ])?;
        Ok(Resident {
            id,
            geboren,
            overleden,
            ingeschreven,
            iban,
        })
    }

    /// The current address, and for some residents the one before it.
    fn adressen(&mut self, resident: &Resident) -> Result<()> {
        let r = &mut self.rng_adres;
        let uiterlijk = resident.overleden.unwrap_or(self.peildatum);
        let sinds = r.range(
            resident.ingeschreven,
            (resident.ingeschreven + 3650).min(uiterlijk),
        );
        let eerder = (r.percent(30) && resident.ingeschreven > resident.geboren + 365).then(|| {
            let van = r.range(resident.geboren, resident.ingeschreven - 1);
            let plaats = if r.percent(50) {
                r.pick(KERNEN)
            } else {
                r.pick(ELDERS)
            };
            (plaats, van)
        });
        let huidig = *r.weighted(&[(60, 0usize), (20, 1), (5, 2), (10, 3), (5, 4)]);
        if let Some((plaats, van)) = eerder {
            let id = self.next_id(1);
            self.insert_adres(id, resident.id, plaats, van, Some(sinds - 1), false)?;
        }
        let id = self.next_id(1);
        let briefadres = self.rng_adres.percent(2);
        self.insert_adres(
            id,
            resident.id,
            &KERNEN[huidig],
            sinds,
            resident.overleden,
            briefadres,
        )
    }

    fn insert_adres(
        &mut self,
        id: i64,
        inwoner_id: i64,
        plaats: &Place,
        van: i64,
        tot: Option<i64>,
        briefadres: bool,
    ) -> Result<()> {
        let r = &mut self.rng_adres;
        let straat = *r.pick(plaats.straten);
        let huisnummer = if r.percent(80) {
            r.range(1, 120)
        } else {
            r.range(121, 2400)
        };
        let (huisletter, toevoeging) = match r.below(100) {
            0..=7 => (Some(*r.pick(&["A", "B", "C", "D"])), None),
            8..=13 => (
                None,
                Some(*r.pick(&["1", "2", "3", "bis", "hs", "zw", "I"])),
            ),
            _ => (None, None),
        };
        let postcode = match plaats.postcode {
            Postcode::Nl(lo, hi) => {
                // Real Dutch postcodes skip F I O Q U Y and the letter pairs SA SD SS.
                let letters = b"ABCEGHJKLMNPRSTVWXZ";
                let pair = loop {
                    let a = letters[r.below(letters.len() as u64) as usize];
                    let b = letters[r.below(letters.len() as u64) as usize];
                    if !(a == b'S' && matches!(b, b'A' | b'D' | b'S')) {
                        break [a, b];
                    }
                };
                Some(format!(
                    "{} {}",
                    r.range(lo, hi),
                    String::from_utf8_lossy(&pair)
                ))
            }
            Postcode::Digits(lo, hi) => Some(r.range(lo, hi).to_string()),
            Postcode::Geen => None,
        };
        let bag_id = plaats
            .gemeentecode
            .filter(|_| r.percent(92))
            .map(|gemeente| {
                gemeente * 1_000_000_000_000 + 200_000_000_000 + r.range(0, 99_999_999)
            });
        let (breedte, lengte) = if r.percent(95) {
            // Within ~3 km of the centre, rounded to 6 decimals (~10 cm).
            let mut near = |centre: f64| ((centre + (r.unit() - 0.5) * 0.06) * 1e6).round() / 1e6;
            (Some(near(plaats.lat)), Some(near(plaats.lon)))
        } else {
            (None, None)
        };
        self.adres.execute(params![
            id,
            inwoner_id,
            straat,
            huisnummer,
            huisletter,
            toevoeging,
            postcode,
            plaats.woonplaats,
            plaats.landcode,
            bag_id,
            breedte,
            lengte,
            briefadres,
            fmt_date(van),
            tot.map(fmt_date),
        ])?;
        Ok(())
    }

    fn aanvraag(&mut self, resident: &Resident) -> Result<Option<Application<'static>>> {
        let peil = self.peildatum;
        let eind = resident.overleden.unwrap_or(peil);
        let begin = days_from_civil(2015, 1, 1)
            .max(add_years(resident.geboren, 16))
            .max(resident.ingeschreven + 1);
        if begin > eind {
            return Ok(None);
        }
        let id = self.next_id(2);
        let r = &mut self.rng_aanvraag;
        let regeling = r.weighted(REGELINGEN);
        let dag = r.range(begin, eind);
        let ingediend_op = at(r, dag, 7, 23);
        let status = if peil - dag < 56 {
            *r.pick(&["ingediend", "in behandeling"])
        } else {
            *r.weighted(&[
                (60, "toegekend"),
                (25, "afgewezen"),
                (8, "ingetrokken"),
                (7, "buiten behandeling"),
            ])
        };
        let afgehandeld_op = matches!(
            status,
            "toegekend" | "afgewezen" | "ingetrokken" | "buiten behandeling"
        )
        .then(|| {
            let klaar = dag + r.range(1, 56);
            at(r, klaar, 8, 18)
        });
        let besluit = afgehandeld_op
            .filter(|_| matches!(status, "toegekend" | "afgewezen"))
            .map(|us| us.div_euclid(DAY_US));
        let toegekend = match status {
            "toegekend" => Some(true),
            "afgewezen" => Some(false),
            _ => None,
        };
        let mut gevraagd = regeling.gevraagd.map(|(lo, hi)| r.range(lo, hi));
        let mut draagkracht =
            (regeling.naam == "Bijzondere bijstand" && r.percent(80)).then(|| r.range(0, 10_000));
        let mut correlatie_id = r.next_u64() as i64;
        // Fixed edge rows: the extremes of BIGINT and of both decimal types.
        match id {
            1 => correlatie_id = i64::MAX,
            2 => correlatie_id = i64::MIN,
            3 => (gevraagd, draagkracht) = (Some(MAX_DEC_12_2), Some(MAX_DEC_18_4)),
            4 => (gevraagd, draagkracht) = (Some(-MAX_DEC_12_2), Some(-MAX_DEC_18_4)),
            _ => {}
        }
        let afspraak_tijd = r.percent(40).then(|| {
            let kwartier = r.range(8 * 4 + 2, 16 * 4 + 3);
            format!("{:02}:{:02}:00", kwartier / 4, kwartier % 4 * 15)
        });
        let behandelaar = (status != "ingediend").then(|| *r.pick(BEHANDELAARS));
        let toelichting = r.percent(25).then(|| *r.pick(TOELICHTINGEN));
        let spoed = r.percent(7);
        let prioriteit = r.range(-2, 3);
        let (jaar, _, _) = civil_from_days(dag);
        self.aanvraag.execute(params![
            id,
            resident.id,
            format!("SD-{jaar}-{id:06}"),
            regeling.naam,
            status,
            fmt_timestamp(ingediend_op),
            afgehandeld_op.map(fmt_timestamp),
            besluit.map(fmt_date),
            toegekend,
            spoed,
            gevraagd.map(|c| fmt_decimal(c, 2)),
            draagkracht.map(|u| fmt_decimal(u, 4)),
            prioriteit,
            correlatie_id,
            afspraak_tijd,
            behandelaar,
            toelichting,
        ])?;
        Ok(Some(Application {
            id,
            regeling,
            ingediend_op,
            besluit: besluit.filter(|_| toegekend == Some(true)),
            gevraagd,
        }))
    }

    /// Payments for a granted application: monthly from the month after the decision, or once.
    fn uitkeringen(&mut self, resident: &Resident, application: &Application) -> Result<()> {
        let Some(besluit) = application.besluit else {
            return Ok(());
        };
        let peil = self.peildatum;
        let r = &mut self.rng_uitkering;
        let (jaar, maand, _) = civil_from_days(besluit);
        let (mut netto, maanden, mut periode) = match application.regeling.betaling {
            Betaling::Geen => return Ok(()),
            Betaling::Maandelijks(norm) => {
                let inkomsten = if r.percent(30) { r.range(1, 60_000) } else { 0 };
                (norm - inkomsten, r.range(1, 24), next_month(jaar, maand))
            }
            Betaling::Eenmalig(lo, hi) => {
                let bedrag = application.gevraagd.filter(|c| (1..=hi).contains(c));
                (bedrag.unwrap_or_else(|| r.range(lo, hi)), 1, (jaar, maand))
            }
        };
        let heffing_promille = r.range(80, 180);
        for volgnummer in 1..=maanden {
            let eerste = days_from_civil(periode.0, periode.1, 1);
            if eerste > peil || resident.overleden.is_some_and(|dag| eerste > dag) {
                break;
            }
            if volgnummer > 1 && r.percent(3) {
                netto += r.range(-2_500, 2_500); // a change in income or norm
            }
            let bruto = netto * (1000 + heffing_promille) / 1000;
            let correctie = match r.below(100) {
                0..=5 => Some(-r.range(1, 25_000)),
                6..=7 => Some(r.range(1, 15_000)),
                _ => None,
            };
            let teruggevorderd = correctie.is_some_and(|c| c < 0) && r.percent(60);
            let dagbedrag = bruto * 100 * 12 / 261; // per working day, in 1/10,000
            let korting = r.percent(20).then(|| r.below(3001) as f64 / 100.0);
            let betaald = eerste + r.range(20, 27);
            let betaald_op = (betaald <= peil && r.percent(98)).then(|| at(r, betaald, 5, 7));
            self.counts[3] += 1;
            let id = self.counts[3] as i64;
            self.uitkering.execute(params![
                id,
                application.id,
                volgnummer,
                fmt_date(eerste),
                fmt_decimal(bruto, 2),
                fmt_decimal(bruto - netto, 2),
                fmt_decimal(netto, 2),
                correctie.map(|c| fmt_decimal(c, 2)),
                fmt_decimal(dagbedrag, 4),
                korting,
                resident.iban,
                betaald_op.map(fmt_timestamp),
                teruggevorderd,
            ])?;
            periode = next_month(periode.0, periode.1);
        }
        Ok(())
    }

    /// Uploaded evidence for some applications.
    fn documenten(&mut self, application: &Application) -> Result<()> {
        if !self.rng_document.percent(15) {
            return Ok(());
        }
        let aantal = self.rng_document.range(1, 2);
        let laatste_moment = (self.peildatum + 1) * DAY_US - 1;
        for _ in 0..aantal {
            let id = self.next_id(4);
            let r = &mut self.rng_document;
            let soort = *r.weighted(&[(75, Soort::Pdf), (20, Soort::Jpeg), (5, Soort::Png)]);
            let dag = application.ingediend_op.div_euclid(DAY_US);
            let (jaar, maand, _) = civil_from_days(dag);
            let bestandsnaam = match soort {
                Soort::Pdf => r
                    .pick(PDF_NAMEN)
                    .replace("{maand}", MAANDEN[maand as usize - 1])
                    .replace("{jaar}", &jaar.to_string()),
                Soort::Jpeg => match r.below(3) {
                    0 => format!("IMG_{:04}.jpg", r.below(10_000)),
                    1 => "Foto schade badkamer.jpg".to_string(),
                    _ => "Identiteitsbewijs (voorkant) – kopie.jpeg".to_string(),
                },
                Soort::Png => match r.below(2) {
                    0 => "Scan ĳkformulier.png".to_string(),
                    _ => format!(
                        "Schermafbeelding {} om {:02}.{:02}.png",
                        fmt_date(dag),
                        r.below(24),
                        r.below(60)
                    ),
                },
            };
            let grootte = if id == 2 {
                0
            } else {
                r.range(200, 4096) as usize
            };
            let inhoud = fake_file(r, soort, grootte);
            let gearchiveerd = id != 2 && r.percent(10);
            let paginas = (soort == Soort::Pdf).then(|| r.range(1, 12));
            let vertrouwelijk = r.percent(20);
            let ontvangen_op =
                (application.ingediend_op + r.range(0, 14 * DAY_US)).min(laatste_moment);
            let omschrijving = r.percent(30).then(|| *r.pick(OMSCHRIJVINGEN));
            self.document.execute(params![
                id,
                application.id,
                bestandsnaam,
                soort.mime(),
                inhoud.len(),
                fnv1a64(&inhoud) as i64,
                (!gearchiveerd).then_some(&inhoud),
                paginas,
                vertrouwelijk,
                fmt_instant(ontvangen_op),
                omschrijving,
            ])?;
        }
        Ok(())
    }
}

/// splitmix64: tiny, fast and identical on every platform.
struct Rng(u64);

impl Rng {
    fn new(stream: u64) -> Self {
        Rng(SEED ^ stream.wrapping_mul(0xa076_1d64_78bd_642f))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is far below anything a demo could show).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi, "empty range {lo}..={hi}");
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(u64, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| w).sum();
        let mut x = self.below(total);
        for (w, item) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        unreachable!("x < total")
    }
}

const DAY_US: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn add_years(days: i64, years: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    days_from_civil(y + years, m, d.min(28))
}

fn next_month(y: i64, m: u32) -> (i64, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

/// A moment on `day` between `from_hour` and `to_hour`, in microseconds since 1970.
fn at(r: &mut Rng, day: i64, from_hour: i64, to_hour: i64) -> i64 {
    day * DAY_US + r.range(from_hour * 3_600_000_000, to_hour * 3_600_000_000 - 1)
}

fn fmt_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (naive local time).
fn fmt_timestamp(us: i64) -> String {
    let (date, time) = split_micros(us);
    format!("{date} {time}")
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (an instant in UTC).
fn fmt_instant(us: i64) -> String {
    let (date, time) = split_micros(us);
    format!("{date}T{time}Z")
}

fn split_micros(us: i64) -> (String, String) {
    let (day, rest) = (us.div_euclid(DAY_US), us.rem_euclid(DAY_US));
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let time = format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    (fmt_date(day), time)
}

/// `units` / 10^`scale` as exact decimal text: `fmt_decimal(-5, 2)` is `"-0.05"`.
fn fmt_decimal(units: i64, scale: u32) -> String {
    let p = 10u64.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    format!("{sign}{}.{:0w$}", a / p, a % p, w = scale as usize)
}

/// A made-up 9-digit number starting with 9 that passes the BSN eleven-test
/// (`9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11`).
fn test_bsn(r: &mut Rng) -> String {
    loop {
        let mut digits = [9u64; 9];
        for d in &mut digits[1..8] {
            *d = r.below(10);
        }
        let sum: u64 = digits[..8]
            .iter()
            .zip((2..=9).rev())
            .map(|(d, w)| d * w)
            .sum();
        if sum % 11 < 10 {
            digits[8] = sum % 11;
            return digits.iter().map(|d| char::from(b'0' + *d as u8)).collect();
        }
    }
}

/// A Dutch IBAN with correct ISO 7064 check digits.
fn nl_iban(r: &mut Rng) -> String {
    let bank = *r.pick(&[
        "INGB", "RABO", "ABNA", "SNSB", "TRIO", "ASNB", "BUNQ", "KNAB",
    ]);
    let rekening: String = (0..10)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect();
    format!(
        "NL{:02}{bank}{rekening}",
        iban_check_digits(bank, &rekening)
    )
}

fn iban_check_digits(bank: &str, rekening: &str) -> u64 {
    let rest = format!("{bank}{rekening}NL00")
        .bytes()
        .fold(0u64, |acc, b| {
            if b.is_ascii_digit() {
                (acc * 10 + u64::from(b - b'0')) % 97
            } else {
                (acc * 100 + u64::from(b - b'A') + 10) % 97
            }
        });
    98 - rest
}

/// Lower-case ASCII for e-mail addresses: `"Ĳzerman"` → `"ijzerman"`, `"Groß"` → `"gross"`.
fn ascii_fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'á' | 'à' | 'ä' | 'â' | 'å' => out.push('a'),
            'é' | 'è' | 'ë' | 'ê' | 'ễ' => out.push('e'),
            'í' | 'ï' | 'ı' => out.push('i'),
            'ó' | 'ö' | 'ø' | 'ô' => out.push('o'),
            'ú' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ş' => out.push('s'),
            'ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'ĳ' => out.push_str("ij"),
            _ => {}
        }
    }
    out
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Soort {
    Pdf,
    Jpeg,
    Png,
}

impl Soort {
    fn mime(self) -> &'static str {
        match self {
            Soort::Pdf => "application/pdf",
            Soort::Jpeg => "image/jpeg",
            Soort::Png => "image/png",
        }
    }
}

/// `size` bytes that start and end like a file of kind `soort`, with random bytes in between.
fn fake_file(r: &mut Rng, soort: Soort, size: usize) -> Vec<u8> {
    if size == 0 {
        return Vec::new();
    }
    let (head, tail): (&[u8], &[u8]) = match soort {
        Soort::Pdf => (
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
              3 0 obj\n<< /Filter /FlateDecode >>\nstream\n",
            b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        ),
        Soort::Jpeg => (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00",
            b"\xff\xd9",
        ),
        Soort::Png => (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
            b"\x00\x00\x00\x00IEND\xaeB`\x82",
        ),
    };
    let mut bytes = Vec::with_capacity(size.max(head.len() + tail.len()));
    bytes.extend_from_slice(head);
    while bytes.len() + tail.len() < size {
        let room = size - tail.len() - bytes.len();
        bytes.extend_from_slice(&r.next_u64().to_le_bytes()[..room.min(8)]);
    }
    bytes.extend_from_slice(tail);
    bytes
}

/// An amount in cents.
const fn euro(euros: i64, cents: i64) -> i64 {
    euros * 100 + cents
}

/// How a scheme pays out, amounts in cents.
enum Betaling {
    Geen,
    Maandelijks(i64),
    Eenmalig(i64, i64),
}

struct Regeling {
    naam: &'static str,
    betaling: Betaling,
    /// Range of the amount asked for, if the application form asks for one.
    gevraagd: Option<(i64, i64)>,
}

#[rustfmt::skip]
const REGELINGEN: &[(u64, Regeling)] = &[
    (20, Regeling { naam: "Participatiewet – levensonderhoud", betaling: Betaling::Maandelijks(euro(1_401, 65)), gevraagd: None }),
    (6, Regeling { naam: "Participatiewet – gezinsnorm", betaling: Betaling::Maandelijks(euro(2_002, 36)), gevraagd: None }),
    (4, Regeling { naam: "IOAW", betaling: Betaling::Maandelijks(euro(1_512, 40)), gevraagd: None }),
    (20, Regeling { naam: "Bijzondere bijstand", betaling: Betaling::Eenmalig(euro(25, 0), euro(2_500, 0)), gevraagd: Some((euro(25, 0), euro(2_500, 0))) }),
    (10, Regeling { naam: "Individuele inkomenstoeslag", betaling: Betaling::Eenmalig(euro(400, 0), euro(650, 0)), gevraagd: None }),
    (5, Regeling { naam: "Tegemoetkoming meerkosten (Wmo)", betaling: Betaling::Eenmalig(euro(150, 0), euro(600, 0)), gevraagd: None }),
    (15, Regeling { naam: "Wmo – huishoudelijke ondersteuning", betaling: Betaling::Geen, gevraagd: None }),
    (10, Regeling { naam: "Jeugdwet – jeugdhulp", betaling: Betaling::Geen, gevraagd: None }),
    (10, Regeling { naam: "Schuldhulpverlening", betaling: Betaling::Geen, gevraagd: Some((euro(500, 0), euro(85_000, 0))) }),
];

#[derive(Clone, Copy)]
enum Postcode {
    /// Four digits in this range, a space and two letters.
    Nl(i64, i64),
    Digits(i64, i64),
    Geen,
}

struct Place {
    woonplaats: &'static str,
    landcode: &'static str,
    gemeentecode: Option<i64>,
    postcode: Postcode,
    lat: f64,
    lon: f64,
    straten: &'static [&'static str],
}

/// The villages and towns of the municipality; current addresses are here.
#[rustfmt::skip]
const KERNEN: &[Place] = &[
    Place { woonplaats: "'s-Hertogenbosch", landcode: "NL", gemeentecode: Some(796), postcode: Postcode::Nl(5211, 5237), lat: 51.6978, lon: 5.3037,
        straten: &["Hinthamerstraat", "Vughterstraat", "Orthenseweg", "Koninginnenlaan", "Sint-Janssingel",
                   "Burgemeester Loeffplein", "Coöperatielaan", "Zeeëgelstraat", "Ĳzerenpoort"] },
    Place { woonplaats: "Rosmalen", landcode: "NL", gemeentecode: Some(796), postcode: Postcode::Nl(5240, 5249), lat: 51.7167, lon: 5.3650,
        straten: &["Kerkstraat", "Dorpsstraat", "Molenstraat", "Hoff van Hollantlaan", "Crèchepad"] },
    Place { woonplaats: "Empel", landcode: "NL", gemeentecode: Some(796), postcode: Postcode::Nl(5235, 5236), lat: 51.7292, lon: 5.3278,
        straten: &["Empelseweg", "Kerkstraat", "Kasteel Meerwijkstraat"] },
    Place { woonplaats: "Nuland", landcode: "NL", gemeentecode: Some(796), postcode: Postcode::Nl(5391, 5392), lat: 51.7233, lon: 5.4389,
        straten: &["Heinisweg", "Dorpsstraat", "Kantsestraat"] },
    Place { woonplaats: "Vinkel", landcode: "NL", gemeentecode: Some(796), postcode: Postcode::Nl(5382, 5382), lat: 51.7050, lon: 5.4317,
        straten: &["Vinkelsestraat", "Bosweg"] },
];

/// Elsewhere, for earlier addresses.
#[rustfmt::skip]
const ELDERS: &[Place] = &[
    Place { woonplaats: "Amsterdam", landcode: "NL", gemeentecode: Some(363), postcode: Postcode::Nl(1011, 1109), lat: 52.3728, lon: 4.8936,
        straten: &["Prinsengracht", "Damrak", "Oudezijds Voorburgwal", "Ĳburglaan", "Nieuwe Achtergracht"] },
    Place { woonplaats: "Den Haag", landcode: "NL", gemeentecode: Some(518), postcode: Postcode::Nl(2491, 2597), lat: 52.0799, lon: 4.3113,
        straten: &["Laan van Meerdervoort", "Prinsegracht", "Koningin Julianaplein"] },
    Place { woonplaats: "Sneek", landcode: "NL", gemeentecode: Some(1900), postcode: Postcode::Nl(8601, 8608), lat: 53.0325, lon: 5.6589,
        straten: &["Marktstraat", "Oosterdijk", "Lemmerweg", "Súdhoeke"] },
    Place { woonplaats: "Kralendijk", landcode: "BQ", gemeentecode: None, postcode: Postcode::Geen, lat: 12.1500, lon: -68.2767,
        straten: &["Kaya Grandi", "Kaya Gobernador N. Debrot"] },
    Place { woonplaats: "Düsseldorf", landcode: "DE", gemeentecode: None, postcode: Postcode::Digits(40210, 40629), lat: 51.2277, lon: 6.7735,
        straten: &["Königsallee", "Schadowstraße", "Grafenberger Allee"] },
    Place { woonplaats: "Bruxelles / Brussel", landcode: "BE", gemeentecode: None, postcode: Postcode::Digits(1000, 1210), lat: 50.8467, lon: 4.3525,
        straten: &["Rue de l'Église", "Chaussée d'Ixelles", "Boulevard Émile Jacqmain"] },
];

#[rustfmt::skip]
const VOORNAMEN: &[&str] = &[
    "Jan", "Maria", "Ĳsbrand", "Zoë", "Noël", "Chloë", "René", "Mohammed", "Fatma", "Ayşe",
    "Jürgen", "Søren", "Łucja", "Anaïs", "Björn", "Sem", "Emma", "Daan", "Julia", "Lucas",
    "Sophie", "Noah", "Tess", "Thijs", "Anouk", "Hüseyin", "Priya", "Sjoerd", "Geertruida",
    "Hendrik", "Willemijn", "Ruud", "José", "Inés", "Johanna", "Cornelis", "Fenna", "Yusuf",
];

/// Surname with its prefix (tussenvoegsel), which Dutch registers keep in a column of its own.
#[rustfmt::skip]
const ACHTERNAMEN: &[(Option<&str>, &str)] = &[
    (Some("de"), "Vries"), (Some("van"), "Dijk"), (Some("van der"), "Meer"), (None, "Bakker"),
    (None, "Janssen"), (Some("van den"), "Berg"), (None, "Öztürk"), (None, "Yılmaz"),
    (None, "El Amrani"), (None, "Groß"), (None, "Müller"), (Some("'t"), "Hart"),
    (None, "Ĳzerman"), (Some("van"), "Ĳzendoorn"), (None, "Nguyễn"), (None, "Kowalczyk"),
    (None, "Smit"), (None, "Visser"), (Some("ter"), "Horst"), (None, "Çelik"), (None, "D'Souza"),
    (None, "Brouwer"), (None, "Sánchez García"), (None, "Dekker"), (None, "Peeters"),
    (Some("de"), "Boer"), (None, "Mulder"), (Some("van"), "Leeuwen"), (None, "Şahin"),
    (None, "Ødegård"), (None, "Verbeek"), (None, "van Beek-Ünal"),
];

const NOTITIES: &[&str] = &[
    "Voorkeur voor contact per e-mail 📧",
    "Spreekt beperkt Nederlands; tolk Turks gewenst",
    "Schuldhulpverlening afgerond 👍🏽",
    "Let op: huisbezoek alleen na afspraak 🏠",
    "Mantelzorger: dochter (Zoë), bereikbaar na 17:00",
    "Gezinssamenstelling gewijzigd 👨‍👩‍👧",
    "Ĳverig vrijwilliger bij de voedselbank",
    "Reïntegratietraject gestart bij Werkplein",
    "Naïeve vraag over toeslagen — doorverwezen naar de Belastingdienst",
    "Heeft € 150,00 voorschot ontvangen",
    "Familie Groß aus Düsseldorf; Übersetzung nötig",
    "Meerdere regels:\nregel 2\n\tingesprongen regel 3",
    "Zegt: \"ik wil geen post meer op papier\"; akkoord",
];

#[rustfmt::skip]
const BEHANDELAARS: &[&str] = &[
    "J. de Vries", "A. Öztürk", "M. Ĳzerman", "S. Groß", "F. El Amrani", "L. Nguyễn",
    "R. van der Meer", "É. Lefèvre", "K. 't Hart",
];

const TOELICHTINGEN: &[&str] = &[
    "Aanvraag via Mijn Gemeente 🖥️",
    "Cliënt belde: situatie gewijzigd per 1 maart",
    "Huurachterstand € 1.250,00; urgent 🚨",
    "Zie ook eerdere aanvraag — toen afgewezen",
    "Wasmachine kapot; offerte ontvangen van Elektro Über",
    "Advies sociaal raadsman: \"toekennen\"",
    "Gesprek met tolk Arabisch/Tigrinya gepland",
    "Regel 1\nRegel 2\n\tingesprongen",
    "Ĳkpunt: inkomen < 120% WSM",
    "Grensarbeider, woont deels in Deutschland 🇩🇪",
    "Lege velden in formulier; nagevraagd 🙂",
    "Kind (8 jr.) heeft dyslexie; ondersteuning via school 📚",
];

const PDF_NAMEN: &[&str] = &[
    "Loonstrook {maand} {jaar}.pdf",
    "Bankafschrift {maand} {jaar}.pdf",
    "Huurcontract.pdf",
    "Verklaring huisarts (Dr. Müller).pdf",
    "Beschikking_UWV_{jaar}.pdf",
    "Offerte wasmachine – Elektro Über.pdf",
    "Schuldenoverzicht 📎.pdf",
    "Jaaropgaaf {jaar}.pdf",
];

const OMSCHRIJVINGEN: &[&str] = &[
    "Bewijsstuk inkomen",
    "Kopie identiteitsbewijs — BSN afgeschermd",
    "Offerte, nog niet getekend",
    "Na scannen slecht leesbaar 😕",
    "Nagestuurd door cliënt",
];

#[rustfmt::skip]
const MAANDEN: &[&str] = &[
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
    "oktober", "november", "december",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::Value;

    fn create_in(dir: &tempfile::TempDir) -> (PathBuf, Vec<(String, u64)>) {
        let path = dir.path().join("demo.sqlite");
        let counts = create_demo_source(&path).expect("demo created");
        (path, counts)
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |row| (0..n).map(|i| row.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn counts_match_the_tables_and_the_empty_table_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (path, counts) = create_in(&dir);
        let names: Vec<&str> = counts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, DEMO_TABLES);
        let conn = Connection::open(&path).unwrap();
        for (table, n) in &counts {
            let actual: u64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(actual, *n, "{table}");
        }
        assert_eq!(counts[5], ("leeg_register".to_string(), 0));
        let columns: u64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('leeg_register')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 9);
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        assert!((20_000..=60_000).contains(&total), "{total} rows");
        // Only the finished database is left in the directory.
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["demo.sqlite"]);
    }

    #[test]
    fn known_rows_have_known_values() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = create_in(&dir);
        let conn = Connection::open(&path).unwrap();
        let text = |s: &str| Value::Text(s.to_string());
        let counts: Vec<(String, u64)> =
            create_demo_source(&dir.path().join("again.sqlite")).unwrap();
        let expected = [5_000, 5_924, 8_282, 19_087, 1_850, 0];
        assert_eq!(counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(), expected);
        assert_eq!(
            rows(&conn, "SELECT * FROM inwoners WHERE id = 1"),
            [[
                Value::Integer(1),
                text("956439974"),
                text("Chloë"),
                text("de"),
                text("Vries"),
                text("M"),
                text("1992-01-21"),
                Value::Null,
                text("chloe.vries72@home.nl"),
                Value::Null,
                Value::Integer(1),
                Value::Integer(2),
                text("2018-10-01 13:59:27.793748"),
                text("2022-02-14 17:15:59.934162"),
                text("Mantelzorger: dochter (Zoë), bereikbaar na 17:00"),
            ]]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT bruto_bedrag, dagbedrag, iban, betaald_op FROM uitkeringen WHERE id = 1"
            ),
            [[
                text("2296.70"),
                text("105.5954"),
                text("NL91RABO0685907048"),
                text("2016-05-23 06:02:31.025166"),
            ]]
        );
        assert_eq!(
            rows(&conn, "SELECT breedtegraad, lengtegraad, bag_nummeraanduiding_id FROM adressen WHERE id = 1"),
            [[Value::Real(51.702465), Value::Real(5.451639), Value::Integer(796_200_055_791_355)]]
        );
        let doc = rows(
            &conn,
            "SELECT grootte_bytes, controlegetal, inhoud FROM documenten WHERE id = 1",
        );
        let Value::Blob(inhoud) = &doc[0][2] else {
            panic!("{doc:?}")
        };
        assert_eq!(
            doc[0][..2],
            [
                Value::Integer(1829),
                Value::Integer(-9_061_966_475_379_938_553)
            ]
        );
        assert_eq!(inhoud.len(), 1829);
        assert_eq!(inhoud[..4], *b"\xff\xd8\xff\xe0");
        assert_eq!(fnv1a64(inhoud) as i64, -9_061_966_475_379_938_553);
        // The fixed edge rows.
        let edges = rows(
            &conn,
            "SELECT correlatie_id, gevraagd_bedrag, draagkrachtfactor FROM aanvragen WHERE id <= 4 ORDER BY id",
        );
        assert_eq!(edges[0][0], Value::Integer(i64::MAX));
        assert_eq!(edges[1][0], Value::Integer(i64::MIN));
        assert_eq!(
            edges[2][1..],
            [text("9999999999.99"), text("99999999999999.9999")]
        );
        assert_eq!(
            edges[3][1..],
            [text("-9999999999.99"), text("-99999999999999.9999")]
        );
        assert_eq!(
            rows(
                &conn,
                "SELECT inhoud, grootte_bytes FROM documenten WHERE id = 2"
            ),
            [[Value::Blob(vec![]), Value::Integer(0)]]
        );
    }

    /// Every declared type the brief asks for is there, and each column stores the SQLite
    /// storage class its declared type promises (or NULL).
    #[test]
    fn declared_types_and_storage_classes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = create_in(&dir);
        let conn = Connection::open(&path).unwrap();
        let mut declared = HashSet::new();
        for table in DEMO_TABLES {
            let columns = rows(
                &conn,
                &format!("SELECT name, type FROM pragma_table_info('{table}')"),
            );
            for column in columns {
                let [Value::Text(name), Value::Text(decl)] = &column[..] else {
                    panic!("{column:?}")
                };
                declared.insert(decl.clone());
                let (class, values) = match decl.as_str() {
                    "BOOLEAN" => ("integer", " AND {c} IN (0, 1)"),
                    "INTEGER" | "BIGINT" => ("integer", ""),
                    "DOUBLE" | "REAL" => ("real", ""),
                    "BLOB" => ("blob", ""),
                    "DATE" => (
                        "text",
                        " AND {c} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'",
                    ),
                    "TIME" => ("text", " AND {c} GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]'"),
                    "TIMESTAMP" => ("text", " AND {c} GLOB '????-??-?? ??:??:??.??????'"),
                    "TIMESTAMPTZ" => ("text", " AND {c} GLOB '????-??-??T??:??:??.??????Z'"),
                    "DECIMAL TEXT(12,2)" => ("text", " AND {c} GLOB '*[0-9].[0-9][0-9]'"),
                    "DECIMAL TEXT(18,4)" => ("text", " AND {c} GLOB '*[0-9].[0-9][0-9][0-9][0-9]'"),
                    _ => ("text", ""),
                };
                let check = values.replace("{c}", name);
                let sql = format!(
                    "SELECT count(*) FROM {table} WHERE {name} IS NOT NULL \
                     AND NOT (typeof({name}) = '{class}'{check})"
                );
                let bad: i64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
                assert_eq!(bad, 0, "{table}.{name} {decl}");
            }
        }
        for decl in [
            "INTEGER",
            "BIGINT",
            "DECIMAL TEXT(12,2)",
            "DECIMAL TEXT(18,4)",
            "TEXT",
            "VARCHAR(200)",
            "CHAR(1)",
            "DATE",
            "TIMESTAMP",
            "TIMESTAMPTZ",
            "TIME",
            "BOOLEAN",
            "DOUBLE",
            "REAL",
            "BLOB",
        ] {
            assert!(declared.contains(decl), "{decl}");
        }
        let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert!(one("SELECT count(*) FROM inwoners WHERE geboortedatum < '1970-01-01'") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE ingeschreven_op < '1970-01-01'") > 0);
        assert!(one("SELECT count(*) FROM adressen WHERE lengtegraad < 0") > 0);
        assert!(one("SELECT count(*) FROM uitkeringen WHERE correctie LIKE '-%'") > 0);
        assert!(one("SELECT count(*) FROM documenten WHERE inhoud IS NULL") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE notitie LIKE '%👨‍👩‍👧%'") > 0);
        assert!(one("SELECT count(*) FROM inwoners WHERE achternaam LIKE '%Ĳ%'") > 0);
    }

    #[test]
    fn two_creations_are_identical() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (pa, _) = create_in(&a);
        let (pb, _) = create_in(&b);
        let (ca, cb) = (Connection::open(pa).unwrap(), Connection::open(pb).unwrap());
        for table in DEMO_TABLES {
            let sql = format!("SELECT * FROM {table} WHERE id % 97 = 1 OR id <= 20 ORDER BY id");
            assert_eq!(rows(&ca, &sql), rows(&cb, &sql), "{table}");
        }
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.sqlite");
        std::fs::write(&path, b"not a demo").unwrap();
        let err = create_demo_source(&path).unwrap_err();
        assert!(format!("{err:#}").contains("already exists"), "{err:#}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a demo");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = create_demo_source(&dir.path().join("nope").join("demo.sqlite")).unwrap_err();
        assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn helpers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(fmt_date(days_from_civil(1925, 2, 28) + 1), "1925-03-01");
        assert_eq!(fmt_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(fmt_instant(DAY_US + 1), "1970-01-02T00:00:00.000001Z");
        assert_eq!(fmt_decimal(-5, 2), "-0.05");
        assert_eq!(fmt_decimal(123_450, 2), "1234.50");
        assert_eq!(iban_check_digits("ABNA", "0417164300"), 91);
        assert_eq!(ascii_fold("Ĳzerman-Groß"), "ijzermangross");
    }
}
