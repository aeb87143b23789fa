-- The demo's database: a non-superuser role with REPLICATION that owns the
-- tables it captures, like a production setup.
SELECT 'CREATE ROLE outboxx LOGIN REPLICATION'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'outboxx') \gexec
SELECT 'CREATE DATABASE outboxx_demo OWNER outboxx'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'outboxx_demo') \gexec
\connect outboxx_demo
SET ROLE outboxx;
CREATE TABLE IF NOT EXISTS public.orders (
  id bigserial PRIMARY KEY,
  customer text NOT NULL,
  status text NOT NULL DEFAULT 'new',
  total numeric(12,2) NOT NULL,
  card_number text,
  meta jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.order_items (
  order_id bigint REFERENCES public.orders (id) ON DELETE CASCADE,
  line int,
  sku text NOT NULL,
  qty int NOT NULL,
  PRIMARY KEY (order_id, line)
);
