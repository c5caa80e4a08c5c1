//! The demo's fixed vocabulary: benefit schemes, places, names and the free texts the
//! generator draws from.

/// An amount in cents.
pub(super) const fn euro(euros: i64, cents: i64) -> i64 {
    euros * 100 + cents
}

/// How a scheme pays out, amounts in cents.
pub(super) enum Betaling {
    Geen,
    Maandelijks(i64),
    Eenmalig(i64, i64),
}

pub(super) struct Regeling {
    pub(super) naam: &'static str,
    pub(super) betaling: Betaling,
    /// Range of the amount asked for, if the application form asks for one.
    pub(super) gevraagd: Option<(i64, i64)>,
}

#[rustfmt::skip]
pub(super) const REGELINGEN: &[(u64, Regeling)] = &[
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
pub(super) enum Postcode {
    /// Four digits in this range, a space and two letters.
    Nl(i64, i64),
    Digits(i64, i64),
    Geen,
}

pub(super) struct Place {
    pub(super) woonplaats: &'static str,
    pub(super) landcode: &'static str,
    pub(super) gemeentecode: Option<i64>,
    pub(super) postcode: Postcode,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) straten: &'static [&'static str],
}

/// The villages and towns of the municipality; current addresses are here.
#[rustfmt::skip]
pub(super) const KERNEN: &[Place] = &[
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
pub(super) const ELDERS: &[Place] = &[
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
pub(super) const VOORNAMEN: &[&str] = &[
    "Jan", "Maria", "Ĳsbrand", "Zoë", "Noël", "Chloë", "René", "Mohammed", "Fatma", "Ayşe",
    "Jürgen", "Søren", "Łucja", "Anaïs", "Björn", "Sem", "Emma", "Daan", "Julia", "Lucas",
    "Sophie", "Noah", "Tess", "Thijs", "Anouk", "Hüseyin", "Priya", "Sjoerd", "Geertruida",
    "Hendrik", "Willemijn", "Ruud", "José", "Inés", "Johanna", "Cornelis", "Fenna", "Yusuf",
];

/// Surname with its prefix (tussenvoegsel), which Dutch registers keep in a column of its own.
#[rustfmt::skip]
pub(super) const ACHTERNAMEN: &[(Option<&str>, &str)] = &[
    (Some("de"), "Vries"), (Some("van"), "Dijk"), (Some("van der"), "Meer"), (None, "Bakker"),
    (None, "Janssen"), (Some("van den"), "Berg"), (None, "Öztürk"), (None, "Yılmaz"),
    (None, "El Amrani"), (None, "Groß"), (None, "Müller"), (Some("'t"), "Hart"),
    (None, "Ĳzerman"), (Some("van"), "Ĳzendoorn"), (None, "Nguyễn"), (None, "Kowalczyk"),
    (None, "Smit"), (None, "Visser"), (Some("ter"), "Horst"), (None, "Çelik"), (None, "D'Souza"),
    (None, "Brouwer"), (None, "Sánchez García"), (None, "Dekker"), (None, "Peeters"),
    (Some("de"), "Boer"), (None, "Mulder"), (Some("van"), "Leeuwen"), (None, "Şahin"),
    (None, "Ødegård"), (None, "Verbeek"), (None, "van Beek-Ünal"),
];

pub(super) const NOTITIES: &[&str] = &[
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
pub(super) const BEHANDELAARS: &[&str] = &[
    "J. de Vries", "A. Öztürk", "M. Ĳzerman", "S. Groß", "F. El Amrani", "L. Nguyễn",
    "R. van der Meer", "É. Lefèvre", "K. 't Hart",
];

pub(super) const TOELICHTINGEN: &[&str] = &[
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

pub(super) const PDF_NAMEN: &[&str] = &[
    "Loonstrook {maand} {jaar}.pdf",
    "Bankafschrift {maand} {jaar}.pdf",
    "Huurcontract.pdf",
    "Verklaring huisarts (Dr. Müller).pdf",
    "Beschikking_UWV_{jaar}.pdf",
    "Offerte wasmachine – Elektro Über.pdf",
    "Schuldenoverzicht 📎.pdf",
    "Jaaropgaaf {jaar}.pdf",
];

pub(super) const OMSCHRIJVINGEN: &[&str] = &[
    "Bewijsstuk inkomen",
    "Kopie identiteitsbewijs — BSN afgeschermd",
    "Offerte, nog niet getekend",
    "Na scannen slecht leesbaar 😕",
    "Nagestuurd door cliënt",
];

#[rustfmt::skip]
pub(super) const MAANDEN: &[&str] = &[
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
    "oktober", "november", "december",
];
