#!/bin/sh
# Runs once, when the postgres volume is first created (docker-entrypoint-initdb.d).
# The outboxx role: REPLICATION for the slots; it owns the captured tables so it
# may publish them; CREATE on the control database for the cluster's tables.
set -e
psql -v ON_ERROR_STOP=1 -U postgres -d shop <<'SQL'
CREATE ROLE outboxx WITH LOGIN REPLICATION PASSWORD 'outboxx';
CREATE DATABASE inventory;
CREATE DATABASE outboxx OWNER outboxx;
GRANT CREATE, CONNECT ON DATABASE shop TO outboxx;
GRANT CREATE, CONNECT ON DATABASE inventory TO outboxx;
CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE public.orders OWNER TO outboxx;
SQL
psql -v ON_ERROR_STOP=1 -U postgres -d inventory <<'SQL'
CREATE TABLE public.items (id bigserial PRIMARY KEY, sku text NOT NULL, quantity int NOT NULL DEFAULT 0);
ALTER TABLE public.items OWNER TO outboxx;
SQL
