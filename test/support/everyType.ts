/**
 * A table with a column of every built-in type family Debezium maps, and a
 * sequence of changes to it (inserts with edge values, updates, a
 * primary-key change, deletes): what the format tests stream side by side
 * (debezium-equivalence, avro).
 */

export const everyTypeColumns = `
  id int8 PRIMARY KEY,
  c_bool bool, c_int2 int2, c_int4 int4 NOT NULL DEFAULT 7, c_int8 int8, c_f4 float4, c_f8 float8,
  c_num numeric(10,2), c_numv numeric, c_money money, c_label text NOT NULL DEFAULT 'new',
  c_text text, c_varchar varchar(20), c_char char(3), c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml,
  c_bytea bytea, c_bit bit(3), c_bit1 bit(1), c_varbit varbit, c_inet inet, c_cidr cidr, c_macaddr macaddr,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz, c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz,
  c_tstz3 timestamptz(3), c_interval interval, c_enum mood, c_int_arr int[], c_int_arr2 int[], c_text_arr text[],
  c_hstore hstore, c_point point, c_inf_date date, c_inf_ts timestamp, c_inf_tstz timestamptz`

export const everyTypeChanges = `
INSERT INTO t VALUES (1, true, 1, 2, 3, 1.5, 2.25, 12.34, 3.14159265358979, 12.50, 'x',
 'hello', 'vc', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":1}', '{"b": [1, 2]}', '<a>x</a>',
 '\\x00ff', B'101', B'1', B'11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
 '2026-11-23', '20:00:00.123456', '20:00:00.123', '18:00:00.5+02', '2026-11-23 20:00:00.123456', '2026-11-23 20:00:00.123',
 '2026-11-23 20:00:00.5+02', '2026-11-23 20:00:00.25+00', '1 year 2 mons 3 days 04:05:06.789',
 'happy', '{1,2,NULL}', '{{1,2},{3,NULL}}', '{"a","b c"}', 'k=>v, x=>NULL, "a b"=>"c\\"d"', '(1.5,2)',
 'infinity', '-infinity', 'infinity');
INSERT INTO t (id, c_interval, c_money, c_bit, c_varbit, c_tstz, c_inf_date, c_inf_ts, c_inf_tstz, c_num, c_numv) VALUES
 (3, '-1 days +02:00:00', '-1234.5', B'000', B'1000000001', '2026-11-23 20:00:00+00', '-infinity', 'infinity', '-infinity', -0.01, -1e-20);
UPDATE t SET c_text = 'changed', c_int4 = 8 WHERE id = 1;
UPDATE t SET id = 2 WHERE id = 1;
DELETE FROM t WHERE id = 2;
DELETE FROM t WHERE id = 3;
`

/** Creates the enum and extension the columns need, and table `t`. */
export const everyTypeSetup = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE t (${everyTypeColumns})`
