//! The row generator: prepared inserts and one random stream per demo table.

use std::collections::HashSet;

use anyhow::Result;
use rusqlite::{params, Connection, Statement};

use super::values::*;
use super::vocabulary::*;
use super::{AANVRAGEN_PER_INWONER, INWONERS, MAX_DEC_12_2, MAX_DEC_18_4, PEILDATUM};

/// Prepared inserts plus one random stream per table, so that changing how one table is
/// generated leaves the values of the others alone.
pub(super) struct Generator<'c> {
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
    pub(super) fn new(conn: &'c Connection) -> Result<Self> {
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

    pub(super) fn run(mut self) -> Result<[u64; 6]> {
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
