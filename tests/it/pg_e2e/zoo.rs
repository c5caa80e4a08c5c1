//! The type zoo: a PostgreSQL table with a column of (nearly) every type, edge values and
//! NULLs, and the row-by-row comparison of a staged copy against it.

use super::texts;
use crate::support::pg;

const ZOO: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE zoo (
  id int PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  n38 numeric(38,0), n12 numeric(12,2), n50 numeric(50,10), nfree numeric,
  f4 real, f8 double precision,
  t text, vc varchar(20), bc char(5), nm name,
  "by" bytea, b boolean,
  d date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid,
  j json, jb jsonb, ip inet, cd cidr, mac macaddr, ttz timetz, e mood,
  ai int[], "at" text[], an numeric(10,2)[], ats timestamptz[], ajb jsonb[],
  big_t text, big_b bytea
);
INSERT INTO zoo VALUES
(1, 32767, 2147483647, 9223372036854775807,
 99999999999999999999999999999999999999, 9999999999.99,
 9999999999999999999999999999999999999999.9999999999,
 123456789012345678901234567890.123456789012345678901234567890,
 'NaN', 'Infinity',
 '', 'héllo wörld ✓', 'ab', 'a_name',
 '\x00ff10', true,
 '1900-01-01', '23:59:59.999999', '1901-12-13 20:45:52.123456', '2150-06-01 12:00:00.000001+00',
 '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
 '{"b":1,  "a":[1,2]}', '{"k": "v", "n": [1, null]}', '192.168.1.5/24', '10.0.0.0/8',
 '08:00:2b:01:02:03', '10:30:00+02', 'happy',
 '{1,NULL,3}', '{"a",NULL,"c d",""}', '{1.50,NULL}', '{"2001-01-01 00:00:00+00",NULL}', '{"{\"x\": 1}"}',
 repeat('é', 524288), decode(repeat('00ff', 524288), 'hex')),
(2, -32768, -2147483648, -9223372036854775808,
 -99999999999999999999999999999999999999, -0.01, -0.0000000001, 'NaN',
 '-Infinity', 'NaN',
 NULL, '', 'abcde', 'x',
 '\x', false,
 '0001-01-01', '00:00:00', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00+05',
 '-1 mons -2 days -00:00:00.000001', NULL,
 '[]', 'null', '::1', '2001:db8::/32', NULL, '00:00:00-05:30', NULL,
 '{}', NULL, '{}', NULL, NULL,
 repeat('x', 1048576), NULL),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL);
"#;

/// Columns compared with EXCEPT; casts where a type lacks equality or changes in staging
/// (json, enum → text, char(n) compared through its output form to keep the padding).
pub(super) const ZOO_COLS: &str = r#"id, i2, i4, i8, n38, n12, n50, nfree, f4, f8, t, vc::text, format('%s', bc), nm::text, "by", b, d, tm, ts, tstz, iv, iv::text, u, j::text, jb, ip, cd, mac, ttz, e::text, ai, "at", an, ats, ajb, big_t, big_b"#;

pub(crate) fn zoo_source() -> String {
    let db = pg().create_database("zoo_src");
    pg().client(&db).batch_execute(ZOO).expect("create the zoo");
    db
}

/// The zoo in `db`.`staging` equals the source zoo in `src`, row by row, in every column's
/// text form (catches interval months vs days, which `=` treats as equal).
pub(super) fn assert_same_rows_as_text(src: &str, db: &str) {
    let row = |db: &str, table: &str| {
        texts(
            db,
            &format!("SELECT ({ZOO_COLS_NO_CAST})::text FROM {table} ORDER BY id"),
        )
    };
    let want = row(src, "public.zoo");
    let got = row(db, "staging.zoo");
    assert_eq!(want.len(), 3);
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            let n = w.chars().zip(g.chars()).take_while(|(a, b)| a == b).count();
            let ctx = |s: &str| {
                s.chars()
                    .skip(n.saturating_sub(40))
                    .take(120)
                    .collect::<String>()
            };
            panic!(
                "row differs at char {n}:\n want …{}\n  got …{}",
                ctx(w),
                ctx(g)
            );
        }
    }
    assert_eq!(want, got);
}

const ZOO_COLS_NO_CAST: &str = r#"id, i2, i4, i8, n38, n12, n50, nfree, f4, f8, t, vc::text, format('%s', bc), nm::text, "by", b, d, tm, ts, tstz, iv, u, j::text, jb, ip, cd, mac, ttz, e::text, ai, "at", an, ats, ajb, big_t, big_b"#;
